"""The simulation driver: API contract, reproducibility, bad input, divergence."""

import importlib
import math

import numpy as np
import pytest

import pdesim
from pdesim import compiled
from pdesim.observers import ScalarSeries

driver = importlib.import_module("pdesim.simulate")  # the module, not the function


@pytest.fixture
def ks1d():
    return pdesim.make_system("ks1d", L=22.0, N=64)


def test_run_shapes_and_times(ks1d):
    run = pdesim.simulate(ks1d, t_end=20.0, dt=0.25, save_every=2.0, n_traj=3, t_warmup=10.0)
    assert run.fields["u"].shape == (3, 6, 64)
    assert run.fields["u"].dtype == np.float64
    np.testing.assert_allclose(run.t, [10, 12, 14, 16, 18, 20])
    assert run.grid.points == (64,)
    assert run.params == {"L": 22.0, "N": 64, "dealias": "2/3"}
    assert run.initial == "random"


def test_first_frame_without_warmup_is_the_initial_condition(ks1d):
    run = pdesim.simulate(ks1d, t_end=1.0, dt=0.25, save_every=0.5, initial="kassam_trefethen")
    x = 2 * np.pi * ks1d.grid.coords[0] / 22.0
    np.testing.assert_allclose(run.fields["u"][0, 0], np.cos(x) * (1 + np.sin(x)), atol=1e-14)


def test_trajectories_are_reproducible_alone_or_in_a_batch(ks1d):
    kwargs = {"t_end": 50.0, "dt": 0.25, "save_every": 5.0, "seed": 7}
    four = pdesim.simulate(ks1d, n_traj=4, batch_size=1, **kwargs).fields["u"]
    three = pdesim.simulate(ks1d, n_traj=3, batch_size=1, **kwargs).fields["u"]
    np.testing.assert_array_equal(four[:3], three)
    again = pdesim.simulate(ks1d, n_traj=4, batch_size=1, **kwargs).fields["u"]
    np.testing.assert_array_equal(four, again)
    batched = pdesim.simulate(ks1d, n_traj=4, batch_size=4, **kwargs).fields["u"]
    np.testing.assert_allclose(batched, four, rtol=0, atol=1e-9)
    assert not np.allclose(four[0], four[1])  # different seeds per trajectory


def test_initial_array_is_used_as_given(ks1d):
    u0 = np.zeros((2, 1, 64))
    u0[1, 0] = np.sin(2 * np.pi * ks1d.grid.coords[0] / 22.0)
    run = pdesim.simulate(ks1d, t_end=1.0, dt=0.25, save_every=1.0, n_traj=2, initial=u0)
    np.testing.assert_array_equal(run.fields["u"][0], 0.0)
    np.testing.assert_allclose(run.fields["u"][1, 0], u0[1, 0], rtol=0, atol=1e-15)
    assert run.initial == "array"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: pdesim.make_system("ks3d"), ValueError, "unknown system 'ks3d'.*ks1d"),
        (lambda: pdesim.make_system("ks1d", N=63), ValueError, "'N' must be an even integer"),
        (lambda: pdesim.make_system("ks1d", N=8), ValueError, "'N'.*>= 16"),
        (lambda: pdesim.make_system("ks1d", N=64.0), TypeError, "'N'.*got 64.0"),
        (lambda: pdesim.make_system("ks1d", L=0.0), ValueError, "'L' must be .* > 0"),
        (lambda: pdesim.make_system("ks1d", L=-3.0), ValueError, "'L'"),
        (lambda: pdesim.make_system("ks1d", L="22"), TypeError, "'L'"),
        (lambda: pdesim.make_system("ks1d", L=200.0, N=64), ValueError, "'N' must be >= 3 L / pi"),
        (lambda: pdesim.make_system("ks1d", dealias="3/4"), ValueError, "'dealias'"),
        (lambda: pdesim.make_system("ks1d", nu=1.0), TypeError, "no parameter 'nu'"),
        # issue 16: no bare OverflowError, and the parameter out of its range is named
        (lambda: pdesim.make_system("ks1d", L=10**400), ValueError, "'L'.*too large for a float"),
        (lambda: pdesim.make_system("ks1d", L=1e300), ValueError, "parameter 'L' must be <="),
        (lambda: pdesim.make_system("ks1d", N=2**40), ValueError, "'N'.*<= 1048576"),
        (
            lambda: pdesim.make_system("barkley", eps=1e-300),
            ValueError,
            r"^parameter 'eps' = 1e-300 is out of its useful range \(with Du = 1, L = 40\)",
        ),
        (lambda: pdesim.make_system("barkley", Du=1e-300), ValueError, "^parameter 'Du' = 1e"),
        (lambda: pdesim.make_system("gray_scott", F=1e308), ValueError, "^parameter 'F' = 1e"),
        (lambda: pdesim.make_system("rd_spiral", Ly=1e300), ValueError, "^parameter 'Ly' = 1e"),
        (lambda: pdesim.make_system("keller_segel", L=1e300), ValueError, "^parameter 'L' = 1e"),
        (
            lambda: pdesim.make_system("keller_segel", width=1e-300),
            ValueError,
            r"^parameter 'width' = 1e-300 is out of its useful range \(with L = 4\)",
        ),
        (lambda: pdesim.make_system("rd_spiral", arms=2**64), ValueError, "'arms'.*64 bits"),
    ],
)
def test_bad_system_parameters_name_the_parameter(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dt": 0.0}, ValueError, "'dt'"),
        ({"dt": -0.25}, ValueError, "'dt'"),
        ({"dt": "0.25"}, TypeError, "'dt'"),
        ({"save_every": 0.3}, ValueError, "'save_every' must be a positive whole multiple of dt"),
        ({"t_end": 0.1}, ValueError, "'t_end' must be .*>= 0.25"),
        ({"t_end": 10.1}, ValueError, "'t_end'.*multiple of dt"),
        ({"t_warmup": 11.0}, ValueError, "'t_warmup'"),
        ({"t_warmup": 0.5}, ValueError, "t_end - t_warmup"),
        ({"n_traj": 0}, ValueError, "'n_traj'"),
        ({"n_traj": 1.5}, TypeError, "'n_traj'"),
        ({"seed": -1}, ValueError, "'seed'"),
        ({"seed": 2**64}, ValueError, "'seed'.*64 bits"),
        ({"batch_size": 0}, ValueError, "'batch_size'"),
        ({"resume": True}, ValueError, "'resume' = True needs a 'checkpoint'"),
        ({"initial": "gaussian"}, ValueError, "'initial' must be one of random, kassam_trefethen"),
        ({"initial": np.zeros((1, 1, 32))}, ValueError, r"'initial' must have shape \(1, 1, 64\)"),
        ({"initial": np.full((1, 1, 64), np.nan)}, ValueError, "'initial' contains non-finite"),
    ],
)
def test_bad_run_arguments_name_the_parameter(ks1d, kwargs, error, message):
    args = {"t_end": 10.0, "dt": 0.25, "save_every": 1.0, **kwargs}
    with pytest.raises(error, match=message):
        pdesim.simulate(ks1d, **args)


def test_simulate_rejects_a_non_system():
    with pytest.raises(TypeError, match="'system'"):
        pdesim.simulate("ks1d", t_end=1.0, dt=0.25, save_every=0.25)


def test_unstable_step_is_reported_as_divergence_with_its_time(ks1d):
    with pytest.raises(pdesim.SimulationDiverged) as info:
        pdesim.simulate(ks1d, t_end=2000.0, dt=5.0, save_every=20.0, n_traj=2)
    err = info.value
    assert err.trajectory in (0, 1)
    assert 0 < err.time < 2000.0
    assert f"t = {err.time:g}" in str(err)


def test_runaway_state_is_reported(ks1d):
    u0 = np.full((2, 1, 64), 1.0)
    u0[1] = 1e5
    with pytest.raises(pdesim.SimulationDiverged, match="trajectory 1 diverged at t = 0: max"):
        pdesim.simulate(ks1d, t_end=1.0, dt=0.25, save_every=1.0, n_traj=2, initial=u0)


def test_progress_reports_reach_the_total(ks1d):
    calls = []
    pdesim.simulate(
        ks1d,
        t_end=5.0,
        dt=0.25,
        save_every=1.0,
        n_traj=2,
        batch_size=1,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (40, 40)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_derived_limits_do_not_blame_the_grid_for_a_length_no_grid_resolves():
    with pytest.raises(ValueError) as info:
        pdesim.make_system("barkley", eps=1e-300)
    message = str(info.value)
    assert "'eps' = 1e-300" in message and "parameter 'N' must be" not in message
    assert "1048576" in message  # the most points an axis can have, not a 152-digit N


def test_numpy_run_arguments_are_taken_as_python_numbers(ks1d):
    run = pdesim.simulate(
        ks1d,
        t_end=np.float32(1.0),
        dt=np.float64(0.25),
        save_every=np.float32(0.5),
        n_traj=np.int64(2),
        seed=np.uint64(3),
        batch_size=np.int32(1),
    )
    assert type(run.seed) is int and run.n_traj == 2 and run.info["batch_size"] == 1
    # the same batch size: FFTW's measured plans for 1 and 2 rows may differ in the last bits
    expected = pdesim.simulate(
        ks1d, t_end=1.0, dt=0.25, save_every=0.5, n_traj=2, seed=3, batch_size=1
    )
    np.testing.assert_array_equal(run.fields["u"], expected.fields["u"])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no_meta"])
def test_a_damaged_checkpoint_is_named_and_says_how_to_start_over(ks1d, tmp_path, damage):
    path = tmp_path / "run.npz"
    if damage == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 10)
    else:
        np.savez(path, meta=np.array("{}"), state=np.zeros(1000))
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:300])
    args = {"t_end": 1.0, "dt": 0.25, "save_every": 0.25, "checkpoint_every": 0.5}
    with pytest.raises(ValueError) as info:
        pdesim.simulate(ks1d, checkpoint=path, resume=True, **args)
    message = str(info.value)
    assert str(path) in message and "is damaged" in message and "delete it" in message
    assert "pickle" not in message and "unsafely" not in message
    run = pdesim.simulate(ks1d, checkpoint=path, resume=False, **args)  # starts over
    assert len(run.t) == 5 and not path.exists()


@pytest.fixture
def advance_calls(monkeypatch):
    """The ``n_steps`` of every call of the compiled stepper's ``advance``."""
    calls = []
    advance = compiled.AdvectionStepper.advance

    def spy(self, state, t, n_steps):
        calls.append(n_steps)
        advance(self, state, t, n_steps)

    monkeypatch.setattr(compiled.AdvectionStepper, "advance", spy)
    return calls


def _chunked_run(ks1d, monkeypatch, tmp_path, chunk_seconds, interrupt_at=None):
    """A KS1D run with warm-up, frames, an observer and checkpoints at three unrelated
    cadences, in stretches of at most ``chunk_seconds`` (0: one step at a time),
    interrupted after ``interrupt_at`` frames and resumed."""
    monkeypatch.setattr(driver, "CHUNK_SECONDS", chunk_seconds)
    monkeypatch.setattr(driver, "PROGRESS_SECONDS", math.inf)  # progress at frames only
    kwargs = {"t_end": 31.0, "dt": 0.25, "save_every": 2.0, "t_warmup": 5.0, "seed": 2}
    kwargs |= {"n_traj": 5, "batch_size": 3, "checkpoint": tmp_path / "run.npz"}
    kwargs |= {"checkpoint_every": 1.75}
    frames = []

    def progress(done, total):
        frames.append(done)
        if len(frames) == interrupt_at:
            raise KeyboardInterrupt

    if interrupt_at is not None:
        with pytest.raises(KeyboardInterrupt):
            pdesim.simulate(ks1d, progress=progress, observers=[ScalarSeries(every=3)], **kwargs)
        assert kwargs["checkpoint"].exists()
    series = ScalarSeries(every=3)
    run = pdesim.simulate(ks1d, observers=[series], resume=True, **kwargs)
    return run.fields["u"], series.values


def test_runs_in_chunks_equal_runs_one_step_at_a_time(ks1d, monkeypatch, tmp_path, advance_calls):
    stepwise = _chunked_run(ks1d, monkeypatch, tmp_path, 0.0)
    assert advance_calls == []
    chunked = _chunked_run(ks1d, monkeypatch, tmp_path, 1e6)
    assert max(advance_calls) == 7  # between the warm-up's checkpoints, steps 7 and 14
    resumed = _chunked_run(ks1d, monkeypatch, tmp_path, 1e6, interrupt_at=19)  # in the second batch
    for a, b, c in zip(stepwise, chunked, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


class StepOnly:
    """A stepper without ``advance`` (the driver steps it one step at a time)."""

    def __init__(self, stepper):
        self.stepper = stepper

    def to_state(self, fields):
        return self.stepper.to_state(fields)

    def to_fields(self, state, out):
        self.stepper.to_fields(state, out)

    def step(self, state, t):
        self.stepper.step(state, t)

    def finite(self, state):
        return self.stepper.finite(state)


def test_a_stepper_without_advance_is_stepped_one_step_at_a_time(ks1d, monkeypatch):
    kwargs = {"t_end": 20.0, "dt": 0.25, "save_every": 5.0, "n_traj": 3}
    chunked = pdesim.simulate(ks1d, **kwargs).fields["u"]
    make_stepper = ks1d.make_stepper
    monkeypatch.setattr(ks1d, "make_stepper", lambda dt, method: StepOnly(make_stepper(dt)))
    np.testing.assert_array_equal(pdesim.simulate(ks1d, **kwargs).fields["u"], chunked)


def test_divergence_inside_a_chunk_is_reported_at_its_first_step(ks1d, monkeypatch, advance_calls):
    """The stretch is run again step by step from a copy: the message of a check after
    every step, not the stretch's end."""
    kwargs = {"t_end": 2000.0, "dt": 5.0, "save_every": 20.0, "n_traj": 2}
    messages = []
    for seconds in (1e6, 0.0):
        monkeypatch.setattr(driver, "CHUNK_SECONDS", seconds)
        with pytest.raises(pdesim.SimulationDiverged) as info:
            pdesim.simulate(ks1d, **kwargs)
        messages.append((info.value.trajectory, info.value.time, str(info.value)))
    assert advance_calls == [3]  # steps 2-4 (after a first single step), to the frame at t = 20
    message = "trajectory 1 diverged at t = 15: non-finite state"
    assert messages[0] == messages[1] == (1, 15.0, message)
