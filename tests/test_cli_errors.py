"""Errors of the command lines (issue 16): one line on stderr naming the option or path,
exit 2 when the command line cannot work as given (found before anything runs), 1 when
the work fails; nothing is simulated when an output could not be written afterwards."""

import errno
import os
import socket
from pathlib import Path

import numpy as np
import pytest

import pdesim
import pdesim.cli as cli
from pdesim.cli import main
from pdesim.io import WellWriter, read_provenance

RUN = ["run", "ks1d", "--t-end", "1", "--quiet"]
RECIPE = str(Path(__file__).resolve().parents[1] / "datasets" / "ks1d.toml")


def error_line(capsys, prog: str = "pdesim") -> str:
    """The single line the command wrote to stderr (it must be one, and an error)."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error: "), lines
    return lines[0]


@pytest.fixture
def runs(monkeypatch):
    """The simulations the CLI started: a command refused for its outputs starts none."""
    started = []
    real = cli.simulate

    def counting(*args, **kwargs):
        started.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "simulate", counting)
    return started


@pytest.fixture
def unwritable_dir(tmp_path):
    """A folder that refuses new files: read-only by mode, or /sys where the tests run
    as root (which ignores file modes)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    folder = Path("/sys")
    try:
        (folder / ".pdesim-probe").touch()
    except OSError:
        yield folder
        return
    (folder / ".pdesim-probe").unlink()
    pytest.skip("no folder refuses new files here")


# -- item 6: outputs are checked before the simulation runs -------------------------------


def test_out_that_is_a_folder_is_refused_before_running(tmp_path, capsys, runs):
    assert main([*RUN, "--out", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert "--out" in line and "is a folder" in line and str(tmp_path) in line
    assert runs == []


@pytest.mark.parametrize("option", ["--out", "--plot", "--gif", "--checkpoint"])
def test_an_output_under_a_file_or_a_missing_folder_is_refused(tmp_path, capsys, runs, option):
    name = {"--out": "x.h5", "--plot": "x.png", "--gif": "x.gif", "--checkpoint": "c.npz"}[option]
    extra = ["--checkpoint-every", "0.25"] if option == "--checkpoint" else []
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main([*RUN, option, str(blocker / name), *extra]) == 2
    line = error_line(capsys)
    assert option in line and "which is a file" in line and str(blocker) in line
    missing = tmp_path / "no_such_folder" / name
    assert main([*RUN, option, str(missing), *extra]) == 2
    line = error_line(capsys)
    assert option in line and "does not exist" in line
    assert not missing.parent.exists()  # no folder made without being asked
    assert runs == []


@pytest.mark.parametrize("option", ["--out", "--plot", "--gif", "--checkpoint"])
def test_an_output_in_a_folder_that_refuses_files_is_refused(unwritable_dir, capsys, runs, option):
    name = {"--out": "x.h5", "--plot": "x.png", "--gif": "x.gif", "--checkpoint": "c.npz"}[option]
    extra = ["--checkpoint-every", "0.25"] if option == "--checkpoint" else []
    assert main([*RUN, option, str(unwritable_dir / name), *extra]) == 2
    line = error_line(capsys)
    assert option in line and "cannot be written" in line and str(unwritable_dir) in line
    assert runs == []


def test_pictures_in_an_unknown_format_are_refused_before_running(tmp_path, capsys, runs):
    assert main([*RUN, "--plot", str(tmp_path / "x.xyz")]) == 2
    assert "'xyz'" in error_line(capsys)
    assert main([*RUN, "--gif", str(tmp_path / "x.png")]) == 2
    assert "*.gif" in error_line(capsys)
    same = str(tmp_path / "x.png")
    assert main([*RUN, "--out", same, "--plot", same]) == 2
    assert "--out and --plot name the same file" in error_line(capsys)
    assert runs == []


def test_a_seed_beyond_64_bits_is_refused_before_running(tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert main([*RUN, "--seed", str(2**64), "--out", str(out)]) == 2
    assert "'seed'" in error_line(capsys) and not out.exists()
    with pytest.raises(ValueError, match=r"'seed'.*64 bits"):
        pdesim.simulate(
            pdesim.make_system("ks1d"),
            t_end=1.0,
            dt=0.25,
            save_every=0.25,
            seed=2**64,
            progress=lambda *_: pytest.fail("the run started"),
        )
    assert main([*RUN, "--seed", str(2**63 - 1), "--out", str(out)]) == 0
    assert read_provenance(out)["seed"] == 2**63 - 1


def test_numpy_parameters_are_stored_as_python_numbers(tmp_path):
    system = pdesim.make_system("ks1d", N=np.int64(64), L=np.float32(22.0))
    assert type(system.params.N) is int and type(system.params.L) is float
    out = tmp_path / "np.h5"
    pdesim.simulate(system, t_end=1.0, dt=0.25, save_every=0.5, sink=WellWriter(out))
    assert read_provenance(out)["params"] == {"L": 22.0, "N": 64, "dealias": "2/3"}
    net = pdesim.make_system("chialvo_ring_star", N=np.int64(7), R=np.int64(2), k=np.float32(0.5))
    assert net.params_dict()["R"] == 2 and type(net.params_dict()["k"]) is float


def test_the_library_refuses_unstorable_outputs_before_running(tmp_path):
    with pytest.raises(ValueError, match=r"'path'.*is a folder"):
        WellWriter(tmp_path)
    with pytest.raises(TypeError, match=r"'attrs'.*'note'"):
        WellWriter(tmp_path / "x.h5", attrs={"note": {"a": 1}})
    system = pdesim.make_system("ks1d")
    with pytest.raises(ValueError, match=r"'checkpoint'.*is a folder"):
        pdesim.simulate(
            system,
            t_end=1.0,
            dt=0.25,
            save_every=0.25,
            checkpoint=tmp_path,
            checkpoint_every=0.25,
            progress=lambda *_: pytest.fail("the run started"),
        )


# -- tracebacks become one line -------------------------------------------------------------


def test_an_io_error_while_running_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.h5"

    def full(self, run):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    monkeypatch.setattr(WellWriter, "close", full)
    assert main([*RUN, "--out", str(out)]) == 1
    line = error_line(capsys)
    assert "No space left on device" in line and str(out) in line


def test_show_refuses_missing_folders_and_non_hdf5_files(tmp_path, capsys):
    png = str(tmp_path / "x.png")
    text = tmp_path / "notes.txt"
    text.write_text("not HDF5")
    for target, words in [
        (tmp_path / "missing.h5", "does not exist"),
        (tmp_path, "is not a file"),
        (text, "is not an HDF5 file"),
    ]:
        assert main(["show", str(target), "--out", png]) == 2
        line = error_line(capsys)
        assert str(target) in line and words in line


def test_data_refuses_bad_workers_and_an_out_that_is_a_file(tmp_path, capsys):
    for workers in ("0", "-1"):
        assert main(["data", RECIPE, "--workers", workers, "--out", str(tmp_path)]) == 2
        assert "--workers must be an integer >= 1" in error_line(capsys)
    argv = ["data", RECIPE, "--workers", "1", "--scheduler", "tcp://127.0.0.1:1"]
    assert main(argv) == 2
    assert "--workers" in error_line(capsys)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["data", RECIPE, "--out", str(blocker)]) == 2
    assert "is a file, not a folder" in error_line(capsys)


def test_an_unreachable_scheduler_is_one_line_and_exit_1(tmp_path, capsys):
    import dask
    import distributed  # noqa: F401  (its defaults must be loaded before config.set, or
    # leaving the block below removes the whole "distributed" section for later tests)

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert (
            main(["data", RECIPE, "--scheduler", address, "--out", str(tmp_path), "--quiet"]) == 1
        )
    assert address in error_line(capsys)


def test_surrogates_refuse_a_file_as_run_directory_and_unknown_devices(tmp_path, capsys):
    from surrogates.cli import main as surrogates

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    base = ["train", "--data", str(tmp_path), "--no-progress"]
    assert surrogates([*base, "--out", str(blocker)]) == 2
    line = error_line(capsys, "surrogates")
    assert "--out" in line and "is a file" in line
    for device, words in [("bogus", "is not a device"), ("cuda:99", "cuda:99"), ("meta", "meta")]:
        assert surrogates([*base, "--out", str(tmp_path / "run"), "--device", device]) == 2
        assert words in error_line(capsys, "surrogates")
    assert surrogates(["eval", str(tmp_path), "--batch-size", "0"]) == 2
    assert "--batch-size" in error_line(capsys, "surrogates")


# -- inputs that were accepted silently -----------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--batch-size", "0"], "'batch_size'"),
        (["--resume"], "--resume needs --checkpoint"),
        (["--set", "L=0x10"], "write numbers in decimal"),
        (["--set", "L=0o20"], "write numbers in decimal"),
        (["--set", "L=22", "--set", "L=30"], "--set L is given twice"),
    ],
)
def test_run_refuses_what_it_used_to_take_silently(capsys, extra, words):
    assert main([*RUN, *extra]) == 2
    assert words in error_line(capsys)


def test_bifurcation_refuses_fixing_the_swept_parameter(tmp_path, capsys):
    argv = ["bifurcation", "chialvo_ring_star", "--param", "k", "--range", "0", "0.1"]
    assert main([*argv, "--set", "k=0.05", "--out", str(tmp_path / "b.png")]) == 2
    assert "--param k varies" in error_line(capsys)
    assert main([*argv, "--out", str(tmp_path / "none" / "b.png")]) == 2
    assert "does not exist" in error_line(capsys)


def test_the_exit_status_is_documented(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit status" in capsys.readouterr().out


def test_surrogates_resume_from_a_damaged_checkpoint_says_it_is_damaged(tmp_path, capsys):
    from test_surrogates_data import write_dataset

    from surrogates.cli import main as surrogates

    data = write_dataset(tmp_path / "ks1d", n_traj=4, n_t=16)
    run = tmp_path / "run"
    run.mkdir()
    damaged = run / "checkpoint.pt"
    damaged.write_bytes(np.random.default_rng(0).bytes(5000))
    argv = ["train", "--data", str(data), "--out", str(run), "--resume", "--no-progress"]
    assert surrogates([*argv, "--steps", "1", "--batch-size", "4", "--n-steps-input", "3"]) == 2
    line = error_line(capsys, "surrogates")
    assert f"checkpoint {str(damaged)!r} is damaged" in line
    assert "remove it to start the run over" in line and "without --resume" in line
    assert "unsafe" not in line and "weights_only" not in line  # torch's advice is wrong here


def test_surrogates_train_refuses_a_batch_size_of_0_before_loading(tmp_path, capsys):
    from surrogates.cli import main as surrogates

    argv = ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")]
    assert surrogates([*argv, "--batch-size", "0", "--no-progress"]) == 2
    assert "batch_size=0; allowed: an integer >= 1" in error_line(capsys, "surrogates")
    assert not (tmp_path / "run").exists()


def test_a_run_refused_at_its_start_draws_no_progress_bar(capsys):
    """Without --quiet the progress bar appears only once the run has started: a run
    simulate refuses (here 10^300 steps) leaves the one error line alone on stderr."""
    assert main(["run", "ks1d", "--t-end", "1", "--dt", "1e-300"]) == 2
    assert "'dt'" in error_line(capsys)
