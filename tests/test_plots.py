"""Pictures: the library draws without pyplot and leaves matplotlib's backend alone."""

import subprocess
import sys

import pytest

import pdesim
from pdesim.plots import animate_run, plot_run


def test_importing_and_drawing_leave_the_backend_as_the_program_chose(tmp_path):
    script = f"""
import matplotlib
matplotlib.use("svg")
import pytest

import pdesim
from pdesim.plots import plot_run
run = pdesim.simulate(pdesim.make_system("ks1d", L=10.0, N=16), t_end=1.0, dt=0.25,
                      save_every=0.25)
plot_run(run, {str(tmp_path / "run.png")!r})
print(matplotlib.get_backend())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"
    assert (tmp_path / "run.png").stat().st_size > 1000


def test_plots_and_animations_of_1d_and_2d_runs(tmp_path):
    for name, params in (("ks1d", {"L": 10.0, "N": 16}), ("rd_spiral", {"L": 5.0, "N": 16})):
        system = pdesim.make_system(name, **params)
        run = pdesim.simulate(system, t_end=1.0, dt=0.05, save_every=0.25)
        assert plot_run(run, tmp_path / f"{name}.png").stat().st_size > 1000
        assert animate_run(run, tmp_path / f"{name}.gif").stat().st_size > 1000


def test_animation_is_written_atomically_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    """A GIF is committed whole under its name (a real GIF, whatever the temporary
    name's suffix), and a failure half-way through encoding leaves neither the target
    nor a temporary file."""
    from PIL import Image

    run = pdesim.simulate(
        pdesim.make_system("ks1d", N=32, L=22.0), dt=0.25, t_end=4.0, save_every=1.0, seed=0
    )
    gif = animate_run(run, tmp_path / "ok.gif")
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == len(run.t)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.gif"]

    def broken(self, fp, *args, **kwargs):  # half a GIF on disk, then the failure
        with open(fp, "wb") as out:
            out.write(b"GIF89a")
        raise OSError("disk gone")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError, match="disk gone"):
        animate_run(run, tmp_path / "bad.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.gif"]
