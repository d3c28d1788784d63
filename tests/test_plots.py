"""Pictures: the library draws without pyplot and leaves matplotlib's backend alone."""

import subprocess
import sys

import pdesim
from pdesim.plots import animate_run, plot_run


def test_importing_and_drawing_leave_the_backend_as_the_program_chose(tmp_path):
    script = f"""
import matplotlib
matplotlib.use("svg")
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
