"""The pdesim command line and its HDF5/PNG outputs."""

import h5py
import numpy as np
import pytest

import pdesim
from pdesim.cli import main
from pdesim.io import read_fields


def test_list_shows_systems_parameters_and_ranges(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ks1d: Kuramoto-Sivashinsky" in out
    assert "ks2d" in out
    assert "even integer >= 16" in out
    assert "kassam_trefethen" in out


def test_run_writes_a_well_layout_file_and_a_plot(tmp_path, capsys):
    out, png = tmp_path / "run.h5", tmp_path / "run.png"
    argv = [
        "run",
        "ks1d",
        "--set",
        "L=22",
        "--t-end",
        "20",
        "--save-every",
        "1",
        "--n-traj",
        "2",
        "--seed",
        "3",
        "--out",
        str(out),
        "--plot",
        str(png),
        "--quiet",
    ]
    assert main(argv) == 0
    assert png.stat().st_size > 10_000
    fields, t, attrs = read_fields(out)
    expected = pdesim.simulate(
        pdesim.make_system("ks1d", L=22.0), t_end=20.0, dt=0.25, save_every=1.0, n_traj=2, seed=3
    )
    np.testing.assert_array_equal(fields["u"], expected.fields["u"].astype(np.float32))
    np.testing.assert_allclose(t, np.arange(21.0))
    assert attrs["dataset_name"] == "ks1d" and attrs["n_trajectories"] == 2
    with h5py.File(out) as h5:
        assert set(h5) == {
            "dimensions",
            "boundary_conditions",
            "scalars",
            "t0_fields",
            "t1_fields",
            "t2_fields",
        }
        assert list(h5.attrs["simulation_parameters"]) == ["L", "N"]
        assert h5["scalars/L"][()] == np.float32(22.0)
        bc = h5["boundary_conditions/x_periodic"]
        assert bc.attrs["bc_type"] == "PERIODIC" and bc["mask"][()].sum() == 2
        for name in ("dimensions/time", "dimensions/x", "t0_fields/u", "scalars/N"):
            assert {"sample_varying", "time_varying"} <= set(h5[name].attrs)
    assert not list(tmp_path.glob(".*.tmp"))


def test_run_2d_makes_snapshots(tmp_path):
    png = tmp_path / "ks2d.png"
    argv = [
        "run",
        "ks2d",
        "--set",
        "L=62.8",
        "--set",
        "N=64",
        "--t-end",
        "2",
        "--plot",
        str(png),
        "--quiet",
    ]
    assert main(argv) == 0
    assert png.stat().st_size > 10_000


def test_bad_input_exits_2_with_the_parameter_named(capsys):
    assert main(["run", "ks1d", "--set", "N=15", "--t-end", "5", "--quiet"]) == 2
    assert "'N' must be an even integer" in capsys.readouterr().err
    assert main(["run", "ks1d", "--set", "N", "--t-end", "5", "--quiet"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_divergence_exits_3_and_writes_no_file(tmp_path, capsys):
    out = tmp_path / "x.h5"
    argv = ["run", "ks1d", "--t-end", "500", "--dt", "5", "--out", str(out), "--quiet"]
    assert main(argv) == 3
    assert "diverged at t =" in capsys.readouterr().err
    assert not out.exists()


def test_streamed_run_equals_the_in_memory_run(tmp_path):
    from pdesim.io import WellWriter

    system = pdesim.make_system("ks1d")
    kwargs = {"t_end": 10.0, "dt": 0.25, "save_every": 1.0, "n_traj": 3, "batch_size": 2}
    streamed = pdesim.simulate(system, sink=WellWriter(tmp_path / "s.h5"), **kwargs)
    assert streamed.fields == {}
    fields, _, attrs = read_fields(tmp_path / "s.h5")
    in_memory = pdesim.simulate(system, **kwargs)
    np.testing.assert_array_equal(fields["u"], in_memory.fields["u"].astype(np.float32))
    assert attrs["pdesim_dt"] == 0.25 and attrs["n_trajectories"] == 3
    with h5py.File(tmp_path / "s.h5") as h5:
        assert h5["t0_fields/u"].chunks == (1, 1, 64)


def test_a_failed_streamed_run_leaves_no_file(tmp_path):
    from pdesim.io import WellWriter

    system = pdesim.make_system("ks1d")
    out = tmp_path / "bad.h5"
    with pytest.raises(pdesim.SimulationDiverged):
        pdesim.simulate(system, t_end=500.0, dt=5.0, save_every=5.0, sink=WellWriter(out))
    assert not out.exists() and not list(tmp_path.iterdir())


RD_RUN = [
    "run",
    "rd_spiral",
    "--set",
    "L=5.0",
    "--set",
    "N=16",
    "--t-end",
    "5",
    "--save-every",
    "0.25",
    "--dt",
    "0.05",
    "--n-traj",
    "3",
    "--batch-size",
    "2",
    "--seed",
    "4",
    "--initial",
    "random",
    "--quiet",
]

#: What ``pdesim run RD_RUN`` printed when the regime recorder wrapped the sink.
RD_REGIME_LINES = [
    "trajectory 0: NON-EQUILIBRIUM (rd-spiral classifier on std(u) over the last 10 frames: "
    "mean 0.5095, variation 0.033); rotation omega = 0.7231 at grid point (4, 4) "
    "(phase-fit residual 0.024 rad); phase singularities at t = 5: +1 / -1",
    "trajectory 1: NON-EQUILIBRIUM (rd-spiral classifier on std(u) over the last 10 frames: "
    "mean 0.3645, variation 0.037); rotation omega = 0.4759 at grid point (4, 4) "
    "(phase-fit residual 0.0058 rad); phase singularities at t = 5: +1 / -1",
    "trajectory 2: NON-EQUILIBRIUM (rd-spiral classifier on std(u) over the last 10 frames: "
    "mean 0.5764, variation 0.045); rotation omega = 0.6224 at grid point (4, 4) "
    "(phase-fit residual 0.026 rad); phase singularities at t = 5: +0 / -0",
]


@pytest.fixture
def recorders(monkeypatch):
    """The regime recorders ``pdesim run`` reports from, one per run."""
    import pdesim.cli as cli

    seen = []
    report = cli.regime_report

    def spy(recorder, system, *args, **kwargs):
        seen.append(recorder)
        return report(recorder, system, *args, **kwargs)

    monkeypatch.setattr(cli, "regime_report", spy)
    return seen


@pytest.mark.parametrize("out", [False, True])
def test_run_prints_the_regime_lines_it_printed_with_a_wrapped_sink(tmp_path, capsys, out):
    extra = ["--out", str(tmp_path / "run.h5")] if out else []
    assert main([*RD_RUN, *extra]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("RDSpiral(L=5.0, N=16,")
    assert "3 trajectories x 21 frames (t = 0 .. 5, dt = 0.05)" in printed[0]
    assert printed[1:4] == RD_REGIME_LINES
    assert printed[4:] == ([f"wrote {tmp_path / 'run.h5'}"] if out else [])


@pytest.mark.parametrize("out", [False, True])
def test_a_resumed_run_reports_from_the_records_of_an_uninterrupted_one(
    tmp_path, capsys, monkeypatch, recorders, out
):
    import importlib

    driver = importlib.import_module("pdesim.simulate")
    extra = ["--out", str(tmp_path / "run.h5")] if out else []
    ckpt = ["--checkpoint", str(tmp_path / "run.npz"), "--checkpoint-every", "1"]
    assert main([*RD_RUN, *extra]) == 0
    whole = capsys.readouterr().out.splitlines()[1:]
    check = driver._check_frame

    def interrupt(system, frame, first, t):  # in the second batch, after its t = 3 checkpoint
        if first == 2 and t > 3.1:
            raise KeyboardInterrupt
        check(system, frame, first, t)

    monkeypatch.setattr(driver, "_check_frame", interrupt)
    with pytest.raises(KeyboardInterrupt):
        main([*RD_RUN, *extra, *ckpt])
    assert (tmp_path / "run.npz").exists()
    monkeypatch.setattr(driver, "_check_frame", check)
    assert main([*RD_RUN, *extra, *ckpt, "--resume"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == whole
    assert not (tmp_path / "run.npz").exists()
    uninterrupted, resumed = recorders
    assert resumed.probe == uninterrupted.probe
    for name in ("t", "std", "values", "last"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(uninterrupted, name))
