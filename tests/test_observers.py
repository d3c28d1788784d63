"""Observers of simulate: cadences, what they see, built-ins, no effect on a run, bad input."""

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest

import pdesim
from pdesim.diagnostics.recorder import RegimeRecorder
from pdesim.simulate import MemorySink

driver = importlib.import_module("pdesim.simulate")  # the module, not the function

RUN = {"t_end": 5.0, "dt": 0.25, "save_every": 1.0, "n_traj": 3, "t_warmup": 1.0, "seed": 3}


@pytest.fixture
def ks1d():
    return pdesim.make_system("ks1d", L=22.0, N=64)


class Log(pdesim.Observer):
    """Records every call."""

    def __init__(self, **cadence):
        super().__init__(**cadence)
        self.calls = []

    def start(self, system, n_traj, t):
        self.calls.append(("start", system.name, n_traj, np.array(t)))

    def observe(self, t, fields, trajectories, index):
        assert not fields.flags.writeable
        assert fields.dtype == np.float64
        self.calls.append(("observe", t, trajectories, index, fields.shape, fields.copy()))

    def finish(self):
        self.calls.append(("finish",))

    def observed(self):
        return [c for c in self.calls if c[0] == "observe"]


def test_several_observers_see_their_own_time_grids(ks1d):
    steps, every_time, default = Log(every=3), Log(interval=0.5), Log()
    run = pdesim.simulate(ks1d, batch_size=2, observers=[steps, every_time, default], **RUN)
    grids = {
        steps: 1.0 + 0.75 * np.arange(6),  # 16 steps after the warm-up: k = 0, 3, ..., 15
        every_time: 1.0 + 0.5 * np.arange(9),
        default: run.t,
    }
    for log, grid in grids.items():
        assert log.calls[0][:3] == ("start", "ks1d", 3)
        np.testing.assert_array_equal(log.calls[0][3], grid)
        assert log.calls[-1] == ("finish",)
        seen = log.observed()
        # batch after batch: trajectories 0-1 through all times, then trajectory 2
        expected = [(slice(0, 2), i) for i in range(len(grid))]
        expected += [(slice(2, 3), i) for i in range(len(grid))]
        assert [(c[2], c[3]) for c in seen] == expected
        assert [c[1] for c in seen] == [*grid, *grid]  # exactly the grid's floats
        assert [c[4] for c in seen] == [(2, 1, 64)] * len(grid) + [(1, 1, 64)] * len(grid)
    # the default cadence sees exactly the saved frames
    frames = np.stack([c[5] for c in default.observed()[:5]], axis=1)[:, :, 0]
    np.testing.assert_array_equal(frames, run.fields["u"][:2])


def test_energy_series_equals_the_energy_of_the_saved_frames(ks1d):
    same = pdesim.ScalarSeries("energy", interval=1.0)
    finer = pdesim.ScalarSeries("energy", every=2)
    norms = [pdesim.ScalarSeries(q, interval=1.0) for q in ("mass", "l2", "linf")]
    run = pdesim.simulate(ks1d, batch_size=2, observers=[same, finer, *norms], **RUN)
    u = run.fields["u"]
    energy = np.mean(u**2, axis=-1)
    np.testing.assert_array_equal(same.t, run.t)
    assert same.values.shape == (3, len(run.t))
    np.testing.assert_allclose(same.values, energy, rtol=1e-14, atol=0)
    np.testing.assert_allclose(finer.t[::2], run.t, rtol=0, atol=1e-14)
    np.testing.assert_allclose(finer.values[:, ::2], energy, rtol=1e-14, atol=0)
    assert np.isfinite(finer.values).all() and finer.values.shape == (3, 9)
    mass, l2, linf = (s.values for s in norms)
    np.testing.assert_allclose(mass, u.mean(axis=-1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(l2, np.sqrt(energy), rtol=1e-14)
    np.testing.assert_allclose(linf, np.abs(u).max(axis=-1), rtol=0, atol=0)
    assert same.name == "energy(u)"


def test_a_user_function_series_and_a_field_of_a_two_field_system():
    system = pdesim.make_system("rd_spiral", L=20.0, N=32, Ly=20.0, Ny=32)
    probe = pdesim.ScalarSeries(lambda f: f[:, 1, 3, 4])  # v at one grid point
    mass_v = pdesim.ScalarSeries("mass", field="v", every=2)
    run = pdesim.simulate(
        system, t_end=1.0, dt=0.05, save_every=0.25, n_traj=2, observers=[probe, mass_v]
    )
    np.testing.assert_array_equal(probe.values, run.fields["v"][:, :, 3, 4])
    np.testing.assert_allclose(
        mass_v.values[:, ::5], run.fields["v"][:, ::2].mean(axis=(-2, -1)), rtol=1e-13, atol=1e-15
    )
    assert probe.name == "<lambda>" and mass_v.name == "mass(v)"


def test_a_function_of_the_wrong_shape_is_named(ks1d):
    bad = pdesim.ScalarSeries(lambda f: f[:, 0], name="profile")
    with pytest.raises(ValueError, match=r"ScalarSeries 'profile'.*shape \(3, 64\)"):
        pdesim.simulate(ks1d, observers=[bad], **RUN)


def test_observers_leave_the_run_bit_identical(ks1d):
    kwargs = {**RUN, "batch_size": 2}
    plain = pdesim.simulate(ks1d, **kwargs)
    empty = pdesim.simulate(ks1d, observers=[], **kwargs)
    none = pdesim.simulate(ks1d, observers=None, **kwargs)
    figure = pytest.importorskip("matplotlib.figure").Figure()
    watched = pdesim.simulate(
        ks1d,
        observers=[
            pdesim.ScalarSeries(every=1),
            pdesim.ScalarSeries("linf", interval=0.75),
            pdesim.LivePlot(figure=figure, every=2),
            Log(every=5),
        ],
        **kwargs,
    )
    for other in (empty, none, watched):
        np.testing.assert_array_equal(other.fields["u"], plain.fields["u"])
        np.testing.assert_array_equal(other.t, plain.t)
        assert other.info == plain.info


def test_live_plot_draws_the_series_into_a_given_figure(ks1d):
    figure = pytest.importorskip("matplotlib.figure").Figure()
    live = pdesim.LivePlot("l2", figure=figure, max_lines=2, interval=0.5)
    pdesim.simulate(ks1d, observers=[live], **RUN)
    (axes,) = figure.axes
    assert len(axes.lines) == 2 and axes.get_ylabel() == "l2(u)"
    for i, line in enumerate(axes.lines):
        np.testing.assert_array_equal(line.get_xdata(), live.series.t)
        np.testing.assert_array_equal(line.get_ydata(), live.series.values[i])
    assert np.isfinite(live.series.values).all()


def test_the_observers_module_imports_matplotlib_only_when_a_plot_starts():
    tree = ast.parse(Path(pdesim.observers.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top for a in n.names] + [getattr(n, "module", "") or "" for n in top]
    assert not [name for name in names if "matplotlib" in name]


@pytest.mark.parametrize("cadence", [{}, {"interval": 0.5}])
def test_the_regime_recorder_records_what_the_saved_frames_give(cadence):
    system = pdesim.make_system("rd_spiral", L=5.0, N=16, Ly=5.0, Ny=12)
    recorder = RegimeRecorder(**cadence)
    run = pdesim.simulate(
        system,
        t_end=2.0,
        dt=0.05,
        save_every=0.25,
        n_traj=3,
        seed=4,
        t_warmup=0.5,
        initial="random",
        batch_size=2,
        observers=[recorder],
    )
    # (n_traj, time, field, x, y) from Run.fields, at the recorder's times
    frames = np.stack([run.fields[name] for name in system.field_names], axis=2)
    frames = frames[:, :: 2 if cadence else 1]
    np.testing.assert_array_equal(recorder.t, run.t[:: 2 if cadence else 1])
    assert recorder.probe == (4, 3)
    np.testing.assert_array_equal(recorder.std, frames.std(axis=(3, 4)))
    np.testing.assert_array_equal(recorder.values, frames[:, :, :, 4, 3])
    np.testing.assert_array_equal(recorder.last, frames[:, -1])
    assert np.isfinite(recorder.std).all() and recorder.std.shape == (3, frames.shape[1], 2)


def test_progress_is_also_reported_between_frames_without_changing_results(ks1d, monkeypatch):
    plain = pdesim.simulate(ks1d, batch_size=2, **RUN)
    monkeypatch.setattr(driver, "PROGRESS_SECONDS", 0.0)
    calls = []
    run = pdesim.simulate(
        ks1d, batch_size=2, progress=lambda done, total: calls.append((done, total)), **RUN
    )
    np.testing.assert_array_equal(run.fields["u"], plain.fields["u"])
    n_steps = 20
    # every step of both batches, warm-up included (step 0 of each batch too)
    assert [d for d, _ in calls] == [*(2 * s for s in range(n_steps + 1))] + [
        2 * n_steps + s for s in range(n_steps + 1)
    ]
    assert {t for _, t in calls} == {3 * n_steps}


class Opener(MemorySink):
    def __init__(self):
        super().__init__()
        self.opened = False

    def open(self, system, n_traj, t):
        self.opened = True
        super().open(system, n_traj, t)


class NoObserve:
    def start(self, system, n_traj, t):
        pass


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (NoObserve(), TypeError, r"observers\[1\] \(NoObserve\) has no observe method"),
        (object(), TypeError, r"observers\[1\] \(object\) has no observe method"),
        (pdesim.ScalarSeries(every=0), ValueError, r"observers\[1\] \(ScalarSeries\).*'every'"),
        (pdesim.ScalarSeries(every=-2), ValueError, r"observers\[1\].*'every'.*>= 1"),
        (pdesim.ScalarSeries(every=1.5), TypeError, r"observers\[1\].*'every'"),
        (pdesim.ScalarSeries(interval=0.0), ValueError, r"observers\[1\].*'interval'.*> 0"),
        (pdesim.ScalarSeries(interval=-1.0), ValueError, r"observers\[1\].*'interval'"),
        (
            pdesim.ScalarSeries(interval=0.3),
            ValueError,
            r"observers\[1\] \(ScalarSeries\).*'interval'.*whole multiple of dt",
        ),
        (
            pdesim.ScalarSeries(every=2, interval=0.5),
            ValueError,
            r"observers\[1\].*'every' \(steps\) or 'interval' \(time\), not both",
        ),
    ],
)
def test_bad_observers_are_refused_by_name_before_any_work(ks1d, bad, error, message):
    first, sink = Log(), Opener()
    with pytest.raises(error, match=message):
        pdesim.simulate(ks1d, sink=sink, observers=[first, bad], **RUN)
    assert first.calls == [] and not sink.opened


@pytest.mark.parametrize("observers", ["energy", 3, pdesim.ScalarSeries()])
def test_observers_must_be_a_list(ks1d, observers):
    with pytest.raises(TypeError, match="parameter 'observers' must be a list"):
        pdesim.simulate(ks1d, observers=observers, **RUN)


def test_bad_built_in_settings_are_named():
    with pytest.raises(ValueError, match=r"'quantity' = 'enstrophy'.*energy, mass, l2, linf"):
        pdesim.ScalarSeries("enstrophy")
    with pytest.raises(TypeError, match="'quantity'"):
        pdesim.ScalarSeries(3)
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    with pytest.raises(ValueError, match=r"'field' = 'w' is not a field of ks1d"):
        pdesim.simulate(system, observers=[pdesim.ScalarSeries(field="w")], **RUN)


class Interrupt:
    """Interrupts the run at one observation (deterministic, unlike wall-time progress)."""

    every = 1

    def __init__(self, first, index):
        self.at = (first, index)

    def observe(self, t, fields, trajectories, index):
        if (trajectories.start, index) == self.at:
            raise KeyboardInterrupt


def test_built_in_observers_resume_from_a_checkpoint_and_others_see_the_resumed_part(
    ks1d, tmp_path
):
    kwargs = {**RUN, "batch_size": 2}
    ckpt = {"checkpoint": tmp_path / "run.npz", "checkpoint_every": 1.0}

    def observers():
        return [pdesim.ScalarSeries(every=2), RegimeRecorder(), Log(every=1)]

    whole = observers()
    plain = pdesim.simulate(ks1d, observers=whole, **kwargs)
    # interrupted in the second batch at step 14 (t = 3.5); its last checkpoint is step 12
    with pytest.raises(KeyboardInterrupt):
        pdesim.simulate(ks1d, observers=[*observers(), Interrupt(2, 10)], **ckpt, **kwargs)
    assert (tmp_path / "run.npz").exists()
    resumed = observers()
    run = pdesim.simulate(ks1d, observers=resumed, resume=True, **ckpt, **kwargs)
    np.testing.assert_array_equal(run.fields["u"], plain.fields["u"])
    np.testing.assert_array_equal(resumed[0].values, whole[0].values)
    for name in ("std", "values", "last"):
        np.testing.assert_array_equal(getattr(resumed[1], name), getattr(whole[1], name))
    seen = resumed[2].observed()  # no get_state: only what came after the checkpoint
    assert [(c[2], c[3]) for c in seen] == [(slice(2, 3), k) for k in range(9, 17)]


def test_live_plot_makes_its_own_figure_when_none_is_given(ks1d):
    plt = pytest.importorskip("matplotlib.pyplot")
    live = pdesim.LivePlot("mass", refresh=0.0)
    try:
        pdesim.simulate(ks1d, observers=[live], **RUN)
        assert live.figure in map(plt.figure, plt.get_fignums())
        np.testing.assert_array_equal(
            live.figure.axes[0].lines[0].get_ydata(), live.series.values[0]
        )
    finally:
        plt.close(live.figure)
