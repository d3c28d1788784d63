"""Reaction-diffusion spirals: exact solutions, rd-spiral's published output, regimes,
the adaptive integrator, Neumann/rectangular boxes, restart, memory and bad input."""

import dataclasses
import importlib
import math
import tracemalloc

import numpy as np
import pytest

import pdesim
from pdesim.diagnostics import (
    classify_regime,
    frame_statistics,
    phase_singularities,
    rotation_frequency,
)
from pdesim.integrators import IFDP5
from pdesim.io import WellWriter, read_fields

# rd-spiral's spatial std of u (and v) for its shipped presets, from its companion
# repository: https://github.com/sandyherho/data_analysis_rd-spiral/blob/main/
# processed_data/stable_vs_turbulent_std_comparison.csv (columns u_std_stable_spiral,
# v_std_stable_spiral, u_std_turbulent_spiral; rows t = 0, 0.1, ..., 200). Values at
# t = 20, 100, 200 are the CSV's rounded to 6 decimals.
SIGMA_U_STABLE = {
    0.0: 0.7032399865271064,
    1.0: 0.6588444047423458,
    2.0: 0.6583538525080631,
    5.0: 0.6662906179745043,
    10.0: 0.6699464173928095,
    20.0: 0.671081,
    50.0: 0.6705660970667349,
    100.0: 0.670618,
    200.0: 0.670963,
}
SIGMA_V_STABLE_10 = 0.6699422684845302
SIGMA_U_TURBULENT = {
    0.0: 0.7062471216270452,
    1.0: 0.6989090526074573,
    2.0: 0.6745031693966983,
    5.0: 0.666378671189848,
    10.0: 0.6605961892400893,
    20.0: 0.665533,
    50.0: 0.6711558284383004,
}


def _small(**params):
    """rd-spiral's system on a small periodic box (n = 32 resolves d = 0.1 at L = 20)."""
    return pdesim.make_system("rd_spiral", **{"L": 20.0, "N": 32, **params})


# ----------------------------------------------------------------- exact solutions


def _oscillation_error(method: str, dt: float) -> float:
    system = _small(beta=1.3, rtol=1e-9, atol=1e-12)
    phi = 0.4
    u0 = np.empty((1, 2, 32, 32))
    u0[0, 0], u0[0, 1] = np.cos(phi), -np.sin(phi)
    run = pdesim.simulate(system, t_end=10.0, dt=dt, save_every=0.5, initial=u0, method=method)
    t = run.t[:, None, None]
    error_u = np.abs(run.fields["u"][0] - np.cos(1.3 * t + phi)).max()
    return max(error_u, np.abs(run.fields["v"][0] + np.sin(1.3 * t + phi)).max())


def test_uniform_oscillation_is_reproduced():
    """``u = cos(beta t + phi)``, ``v = -sin(beta t + phi)``: ETDRK4 (plain RK4 on the
    k = 0 mode here) converges to it at fourth order; IF-DP5 meets its tolerance."""
    coarse, fine = _oscillation_error("etdrk4", 0.1), _oscillation_error("etdrk4", 0.05)
    assert fine < 3e-6
    assert np.log2(coarse / fine) > 3.7
    assert _oscillation_error("ifdp5", 0.5) < 5e-7


def _plane_wave(system, t: float) -> np.ndarray:
    x, y = system.grid.mesh()
    q = (2 * np.pi * 2 / 20.0, 2 * np.pi * 1 / 20.0)
    r = np.sqrt(1 - system.params.d1 * (q[0] ** 2 + q[1] ** 2))
    phase = q[0] * x + q[1] * y - system.params.beta * r**2 * t
    return np.stack([r * np.cos(phase), r * np.sin(phase)])[None]


def test_plane_wave_is_reproduced_and_etdrk4_converges_at_order_above_3_3():
    system = _small()
    u0 = _plane_wave(system, 0.0)
    exact = _plane_wave(system, 10.0)[0]
    errors = []
    steps = (0.4, 0.2, 0.1, 0.05)
    for h in steps:
        run = pdesim.simulate(system, t_end=10.0, dt=h, save_every=10.0, initial=u0)
        final = np.stack([run.fields["u"][0, -1], run.fields["v"][0, -1]])
        errors.append(np.abs(final - exact).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 2e-6
    assert orders.min() >= 3.3, (errors, orders)
    adaptive = pdesim.simulate(
        _small(rtol=1e-9, atol=1e-12), 10.0, 10.0, 10.0, initial=u0, method="ifdp5"
    )
    final = np.stack([adaptive.fields["u"][0, -1], adaptive.fields["v"][0, -1]])
    assert np.abs(final - exact).max() < 1e-6


# ----------------------------------------------------------------- rd-spiral's output


def _sigma(run, name="u"):
    return frame_statistics(run.fields[name][0]).std


def test_stable_preset_reproduces_rd_spirals_published_std_to_t10():
    system = pdesim.make_system("rd_spiral", preset="stable_spiral")
    run = pdesim.simulate(system, t_end=10.0, dt=0.05, save_every=1.0)
    sigma = _sigma(run)
    for t in (0.0, 1.0, 2.0, 5.0, 10.0):
        assert abs(sigma[int(t)] - SIGMA_U_STABLE[t]) < 1e-4, t
    assert abs(_sigma(run, "v")[10] - SIGMA_V_STABLE_10) < 1e-4


def test_dealiasing_does_not_change_the_resolved_stable_preset():
    kwargs = {"t_end": 5.0, "dt": 0.05, "save_every": 5.0}
    plain = pdesim.simulate(pdesim.make_system("rd_spiral", preset="stable_spiral"), **kwargs)
    for rule, bound in (("2/3", 1e-5), ("1/2", 5e-5)):
        system = pdesim.make_system("rd_spiral", preset="stable_spiral", dealias=rule)
        run = pdesim.simulate(system, **kwargs)
        difference = abs(_sigma(run)[-1] - _sigma(plain)[-1])
        assert 1e-7 < difference < bound  # the switch acts, and only on unresolved modes


@pytest.mark.slow
def test_stable_preset_to_t200_matches_rd_spiral_and_is_a_dynamic_equilibrium():
    system = pdesim.make_system("rd_spiral", preset="stable_spiral")
    run = pdesim.simulate(system, t_end=200.0, dt=0.05, save_every=0.1)
    sigma = _sigma(run)
    for t, expected in SIGMA_U_STABLE.items():
        assert abs(sigma[round(t / 0.1)] - expected) < 1e-4, t
    regime = classify_regime(sigma)
    assert regime.label == "DYNAMIC EQUILIBRIUM"
    assert regime.window == 200
    rotation = rotation_frequency(
        run.fields["u"][0, -400:], run.fields["v"][0, -400:], run.t[-400:]
    )
    assert 0 < rotation.omega < system.params.beta  # a spiral turns slower than the bulk


@pytest.mark.slow
def test_turbulent_preset_matches_rd_spiral_to_t50_and_is_non_equilibrium():
    system = pdesim.make_system("rd_spiral", preset="turbulent_spiral")
    run = pdesim.simulate(system, t_end=200.0, dt=0.05, save_every=0.1)
    sigma = _sigma(run)
    for t, expected in SIGMA_U_TURBULENT.items():
        assert abs(sigma[round(t / 0.1)] - expected) < 1e-3, t
    assert classify_regime(sigma).label == "NON-EQUILIBRIUM"
    defects = phase_singularities(run.fields["u"][0, -1], run.fields["v"][0, -1])
    assert defects.count > 4  # the four-armed spiral broke up


def test_pattern_decay_preset_becomes_homogeneous_and_rotates_at_beta():
    system = pdesim.make_system("rd_spiral", preset="pattern_decay")
    run = pdesim.simulate(system, t_end=100.0, dt=0.05, save_every=0.1)
    assert classify_regime(_sigma(run)).label == "HOMOGENEOUS"
    last = slice(-200, None)
    rotation = rotation_frequency(run.fields["u"][0, last], run.fields["v"][0, last], run.t[last])
    assert abs(rotation.omega - system.params.beta) < 1e-4
    assert rotation.residual < 1e-4  # uniform rotation: the phase is a straight line


# ----------------------------------------------------------------- adaptive integrator


@pytest.fixture(scope="module")
def spiral64():
    """The stable preset at n = 64 from t = 0 to 2, with an ETDRK4 reference at h = 0.005."""
    system = pdesim.make_system("rd_spiral", preset="stable_spiral", N=64)
    ref = pdesim.simulate(system, t_end=2.0, dt=0.005, save_every=2.0)
    return system, np.stack([ref.fields["u"][0, -1], ref.fields["v"][0, -1]])


@pytest.mark.parametrize(("rtol", "bound"), [(1e-5, 1e-4), (1e-7, 1e-6), (1e-9, 1e-8)])
def test_ifdp5_meets_its_tolerance_against_an_etdrk4_reference(spiral64, rtol, bound):
    reference = spiral64[1]
    system = pdesim.make_system("rd_spiral", preset="stable_spiral", N=64, rtol=rtol, atol=rtol)
    run = pdesim.simulate(system, t_end=2.0, dt=1.0, save_every=1.0, method="ifdp5")
    final = np.stack([run.fields["u"][0, -1], run.fields["v"][0, -1]])
    error = np.abs(final - reference).max()
    assert error < bound
    assert run.info["stepper"]["n_accepted"] > 2


def test_ifdp5_rejects_a_step_that_is_too_large_and_recovers(spiral64):
    system, reference = spiral64
    state = system.transform.forward(system.initial_condition("spiral", None)[None])
    integrator = IFDP5(system.linear_operator(), system.nonlinear, rtol=1e-8, atol=1e-8, h0=2.0)
    integrator.advance(state, 0.0, 2.0)
    assert integrator.n_rejected >= 3  # 2.0 -> 0.4 -> 0.08 -> ... until the error fits
    fields = np.empty((1, 2, 64, 64))
    system.transform.inverse(state, out=fields)
    assert np.abs(fields[0] - reference).max() < 1e-6
    # A stiff linear part alone never forces a rejection: it is integrated exactly.
    linear = np.array([-1e6, -1.0])
    quiet = IFDP5(linear, lambda u, t, out: out.fill(0.0), rtol=1e-8, atol=1e-8, h0=5.0)
    u = np.ones((1, 2))
    quiet.advance(u, 0.0, 5.0)
    assert quiet.n_rejected == 0
    np.testing.assert_allclose(u[0], np.exp(5.0 * linear), rtol=1e-14, atol=0)


def test_ifdp5_step_underflow_is_reported_at_the_blow_up_time():
    """``u' = u²``, ``u(0) = 1`` blows up at t = 1: the step must collapse there."""
    from pdesim.integrators import StepSizeUnderflow

    integrator = IFDP5(np.zeros(1), lambda u, t, out: np.multiply(u, u, out=out))
    with pytest.raises(StepSizeUnderflow) as info:
        integrator.advance(np.ones((1, 1)), 0.0, 2.0)
    assert abs(info.value.time - 1.0) < 1e-3


# ----------------------------------------------------------------- other systems, boxes


@pytest.mark.parametrize(
    ("name", "params", "dt"),
    [
        ("rd_spiral", {"d1": 0.05, "d2": 0.2, "beta": 0.7, "L": 10.0, "N": 48}, 0.05),
        ("barkley", {"L": 10.0, "N": 64}, 0.01),
        ("gray_scott", {"L": 1.0, "N": 64, "F": 0.018, "k": 0.051}, 1.0),
    ],
)
def test_neumann_box_equals_the_even_reflection_on_the_doubled_periodic_box(name, params, dt):
    """A cosine series on [0, L] x [0, Ly] is a Fourier series on the doubled box: the
    DCT (Neumann) run must equal the periodic run of the mirrored data on that box."""
    lx, nx = params["L"], params["N"]
    ly, ny = 0.75 * lx, 3 * nx // 4  # rectangular: Lx != Ly, nx != ny
    common = {**params, "Ly": ly, "Ny": ny, "dealias": "none"}
    neumann = pdesim.make_system(name, **common, boundary="neumann")
    periodic = pdesim.make_system(
        name, **{**common, "L": 2 * lx, "N": 2 * nx, "Ly": 2 * ly, "Ny": 2 * ny}
    )
    rng = np.random.default_rng(1)
    u0 = neumann.initial_condition("random", rng)[None]
    if name != "rd_spiral":
        u0 = 0.3 + 0.2 * u0
    mirrored = np.concatenate([u0, u0[..., ::-1, :]], axis=-2)
    mirrored = np.concatenate([mirrored, mirrored[..., ::-1]], axis=-1)
    kwargs = {"t_end": 20 * dt, "dt": dt, "save_every": 20 * dt}
    a = pdesim.simulate(neumann, initial=u0, **kwargs)
    b = pdesim.simulate(periodic, initial=mirrored, **kwargs)
    for field in ("u", "v"):
        final = a.fields[field][0, -1]
        assert final.shape == (nx, ny)
        assert np.abs(final - a.fields[field][0, 0]).max() > 1e-3  # it did evolve
        np.testing.assert_allclose(final, b.fields[field][0, -1, :nx, :ny], rtol=0, atol=1e-10)


def test_gray_scott_keeps_its_trivial_state_and_barkley_its_rest_state():
    gs = pdesim.make_system("gray_scott", N=64, L=1.0)
    rest = np.stack([np.ones((64, 64)), np.zeros((64, 64))])[None]
    run = pdesim.simulate(gs, t_end=50.0, dt=1.0, save_every=50.0, initial=rest)
    np.testing.assert_allclose(run.fields["u"][0, -1], 1.0, atol=1e-13)
    barkley = pdesim.make_system("barkley", N=64, L=10.0)
    run = pdesim.simulate(barkley, 1.0, 0.01, 1.0, initial=np.zeros((1, 2, 64, 64)))
    assert np.abs(run.fields["u"][0, -1]).max() == 0.0


@pytest.mark.slow
def test_barkley_broken_wave_curls_into_one_rotating_spiral():
    system = pdesim.make_system("barkley", N=128, L=40.0)
    run = pdesim.simulate(system, t_end=60.0, dt=0.01, save_every=0.2, initial="broken_wave")
    u, v = run.fields["u"][0], run.fields["v"][0]
    centre = (0.5, system.params.a / 2 - system.params.b)  # on the u-nullcline u = (v + b) / a
    defects = phase_singularities(u[-1], v[-1], periodic=True, center=centre)
    assert defects.count.min() >= 1
    rotation = rotation_frequency(u[-150:] - centre[0], v[-150:] - centre[1], run.t[-150:])
    assert rotation.period < 30 and rotation.residual < 1.0


@pytest.mark.slow
def test_gray_scott_presets_keep_a_pattern_from_the_default_start():
    for preset in pdesim.SYSTEMS["gray_scott"].presets:
        system = pdesim.make_system("gray_scott", preset=preset)
        run = pdesim.simulate(system, t_end=3000.0, dt=1.0, save_every=1000.0, seed=1)
        assert frame_statistics(run.fields["v"][0]).std[-1] > 0.03, preset


def test_initial_conditions_have_the_documented_topology():
    system = pdesim.make_system("rd_spiral", L=20.0, N=64, Ly=16.0, Ny=48, arms=3)
    x, y = system.grid.mesh()
    r = np.hypot(x, y)
    spiral = system.initial_condition("spiral", None)
    np.testing.assert_allclose(spiral[0], np.tanh(r) * np.cos(3 * np.arctan2(y, x) - r))
    np.testing.assert_allclose(spiral[1], np.tanh(r) * np.sin(3 * np.arctan2(y, x) - r))
    one_armed = pdesim.make_system("rd_spiral", L=20.0, N=64, Ly=16.0, Ny=48)
    z = one_armed.initial_condition("periodic_spiral", None)
    defects = phase_singularities(z[0], z[1])
    assert (int(defects.positive), int(defects.negative)) == (2, 2)

    def high_modes(fields):  # share of the power in the upper half of the spectrum
        power = np.abs(np.fft.rfft2(fields[0])) ** 2
        m = np.abs(np.fft.fftfreq(64, 1 / 64))[:, None]
        return power[(m >= 16) | (np.arange(25)[None, :] >= 12)].sum() / power.sum()

    assert high_modes(z) < 1e-4 < 1e-2 < high_modes(spiral)  # smooth on the torus
    for seed in range(3):
        z = system.initial_condition("random_phase", np.random.default_rng(seed))
        defects = phase_singularities(z[0], z[1])
        assert defects.count > 0 and defects.charge == 0  # zero net charge on a torus
        assert high_modes(z) < 1e-3
        again = system.initial_condition("random_phase", np.random.default_rng(seed))
        np.testing.assert_array_equal(z, again)


# ----------------------------------------------------------------- restart and memory


@pytest.fixture
def frame_progress(monkeypatch):
    """progress called at saved frames only (not also every PROGRESS_SECONDS of wall
    time): the interruption tests count calls to stop at a given frame, however slow
    the machine."""
    monkeypatch.setattr(importlib.import_module("pdesim.simulate"), "PROGRESS_SECONDS", math.inf)


def _interrupt_after(calls: int):
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == calls:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("method", ["etdrk4", "ifdp5"])
@pytest.mark.parametrize("streamed", [False, True])
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(
    tmp_path, method, streamed, frame_progress
):
    system = pdesim.make_system("rd_spiral", preset="stable_spiral", N=64)
    dt = 0.05 if method == "etdrk4" else 0.5
    kwargs = {"t_end": 4.0, "dt": dt, "save_every": 0.5, "n_traj": 3, "batch_size": 2}
    kwargs |= {"initial": "random_phase", "method": method}
    whole = pdesim.simulate(system, **kwargs)
    ckpt = {"checkpoint": tmp_path / "run.ckpt.npz", "checkpoint_every": 1.0}

    def sink():
        return WellWriter(tmp_path / "run.h5") if streamed else None

    with pytest.raises(KeyboardInterrupt):  # interrupted in the second batch, after t = 1
        pdesim.simulate(system, progress=_interrupt_after(12), sink=sink(), **ckpt, **kwargs)
    assert (tmp_path / "run.ckpt.npz").exists() and not (tmp_path / "run.h5").exists()
    resumed = pdesim.simulate(system, resume=True, sink=sink(), **ckpt, **kwargs)
    assert not (tmp_path / "run.ckpt.npz").exists()
    if streamed:
        fields, _, _ = read_fields(tmp_path / "run.h5")
        for name in ("u", "v"):
            np.testing.assert_array_equal(fields[name], whole.fields[name].astype(np.float32))
    else:
        for name in ("u", "v"):
            np.testing.assert_array_equal(resumed.fields[name], whole.fields[name])
    if method == "ifdp5":  # the same steps (a resumed run evaluates N once more at restart)
        for key in ("h", "n_accepted", "n_rejected"):
            assert resumed.info["stepper"][key] == whole.info["stepper"][key]


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, frame_progress):
    system = pdesim.make_system("rd_spiral", preset="pattern_decay")
    kwargs = {"t_end": 2.0, "dt": 0.05, "save_every": 0.5}
    ckpt = {"checkpoint": tmp_path / "c.npz", "checkpoint_every": 0.5}
    with pytest.raises(KeyboardInterrupt):
        pdesim.simulate(system, progress=_interrupt_after(3), **ckpt, **kwargs)
    with pytest.raises(ValueError, match="belongs to another run: its seed"):
        pdesim.simulate(system, seed=1, resume=True, **ckpt, **kwargs)
    with pytest.raises(ValueError, match=r"'checkpoint_every'.*multiple of dt"):
        pdesim.simulate(system, checkpoint=tmp_path / "d.npz", checkpoint_every=0.07, **kwargs)
    with pytest.raises(ValueError, match="needs a 'checkpoint'"):
        pdesim.simulate(system, checkpoint_every=1.0, **kwargs)


def _streamed_peak(tmp_path, system, t_end, save_every):
    tracemalloc.start()
    try:
        pdesim.simulate(
            system, t_end=t_end, dt=0.05, save_every=save_every, sink=WellWriter(tmp_path / "m.h5")
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamed_run_memory_does_not_grow_with_its_length(tmp_path):
    """The writer buffers a few MiB of frames; beyond that, memory must not grow."""
    system = pdesim.make_system("rd_spiral", preset="stable_spiral", N=64)
    pdesim.simulate(system, t_end=0.1, dt=0.05, save_every=0.05)  # plans, buffers
    shorter = _streamed_peak(tmp_path, system, 10.0, 0.05)  # 201 frames, 6.6 MB as float32
    longer = _streamed_peak(tmp_path, system, 30.0, 0.05)  # 601 frames
    in_memory = 601 * 2 * 64 * 64 * 8
    assert longer < 1.2 * shorter
    assert longer < in_memory / 3


@pytest.mark.slow
def test_long_turbulent_run_streams_in_bounded_memory(tmp_path):
    system = pdesim.make_system("rd_spiral", preset="turbulent_spiral")
    peak = _streamed_peak(tmp_path, system, 200.0, 0.5)
    frames_bytes = 401 * 2 * 256 * 256 * 8  # what an in-memory run holds: 420 MB
    assert peak < 64 * 2**20 < frames_bytes / 6
    fields, t, _ = read_fields(tmp_path / "m.h5")
    assert fields["u"].shape == (1, 401, 256, 256) and t[-1] == 200.0


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: pdesim.make_system("rd_spiral", d1=-0.1), ValueError, "'d1' must be .*> 0"),
        (lambda: pdesim.make_system("rd_spiral", d2=0.0), ValueError, "'d2'"),
        (lambda: pdesim.make_system("rd_spiral", N=16), ValueError, "'N' must be >= 32 to resolve"),
        (
            lambda: pdesim.make_system("rd_spiral", Ny=16, Ly=20.0),
            ValueError,
            "'Ny' must be >= 32",
        ),
        (
            lambda: pdesim.make_system("rd_spiral", preset="chaos"),
            ValueError,
            "'preset'.*stable_spiral",
        ),
        (
            lambda: pdesim.make_system("rd_spiral", arms=0),
            ValueError,
            "'arms' must be an integer >= 1",
        ),
        (lambda: pdesim.make_system("rd_spiral", arms=1.5), TypeError, "'arms'"),
        (lambda: pdesim.make_system("rd_spiral", rtol=0.0), ValueError, "'rtol' must be .*> 0"),
        (lambda: pdesim.make_system("rd_spiral", atol=-1e-9), ValueError, "'atol'"),
        (lambda: pdesim.make_system("rd_spiral", boundary="dirichlet"), ValueError, "'boundary'"),
        (lambda: pdesim.make_system("rd_spiral", dealias="3/4"), ValueError, "'dealias'"),
        (lambda: pdesim.make_system("barkley", eps=0.0), ValueError, "'eps'"),
        (lambda: pdesim.make_system("barkley", Dv=-1.0), ValueError, "'Dv' must be .*>= 0"),
        (lambda: pdesim.make_system("barkley", N=32), ValueError, "'N' must be >= .* front width"),
        (lambda: pdesim.make_system("gray_scott", DA=-2e-5), ValueError, "'DA'"),
        (lambda: pdesim.make_system("gray_scott", F=-0.1), ValueError, "'F'"),
        (
            lambda: pdesim.make_system("rd_spiral", n=64),
            TypeError,
            "parameter 'n' of system 'rd_spiral' is now called 'N'",
        ),
        (
            lambda: pdesim.make_system("gray_scott", L=1.0, ny=64),
            TypeError,
            "parameter 'ny' of system 'gray_scott' is now called 'Ny'",
        ),
        (
            lambda: pdesim.make_system("barkley", preset=None, n=256, ny=256),
            TypeError,
            "parameter 'n' of system 'barkley' is now called 'N'",
        ),
        (
            lambda: pdesim.make_system("rd_spiral", preset="stable_spiral", n=64),
            TypeError,
            "parameter 'n' of system 'rd_spiral' is now called 'N'",
        ),
        (lambda: IFDP5(np.zeros(2), None, rtol=-1.0), ValueError, "'rtol'"),
        (lambda: IFDP5(np.zeros(2), None, atol=0.0), ValueError, "'atol'"),
        (
            lambda: pdesim.make_system("rd_spiral", N=32).make_stepper(0.1, "rk4"),
            ValueError,
            "'method' must be one of etdrk4, ifdp5",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_rd_systems_share_one_definition_of_the_rectangle():
    from pdesim.systems.reaction_diffusion import RectangleParams

    shared = {f.name: f for f in dataclasses.fields(RectangleParams)}
    for name in ("rd_spiral", "barkley", "gray_scott"):
        params = pdesim.SYSTEMS[name].Params
        assert issubclass(params, RectangleParams)
        table = {row["name"]: row for row in pdesim.SYSTEMS[name].parameter_table()}
        for field in ("Ly", "Ny", "boundary", "rtol", "atol"):
            assert table[field]["doc"] == shared[field].metadata["doc"]
            assert table[field]["allowed"] == shared[field].metadata["allowed"]
        assert all(row["doc"] and row["allowed"] for row in table.values())
    assert pdesim.make_system("barkley").params.dealias == "2/3"
    assert pdesim.make_system("rd_spiral").params.dealias == "none"


def test_redefault_takes_only_doc_and_allowed():
    from pdesim.systems.base import redefault
    from pdesim.systems.reaction_diffusion import RectangleParams

    with pytest.raises(TypeError, match="redefault\\(\\) takes doc and allowed, got help"):
        redefault(RectangleParams, "L", 3.0, help="x")


# ----------------------------------------------------------------- command line


def test_cli_streams_the_run_and_prints_the_regime_summary(tmp_path, capsys):
    from pdesim.cli import main

    out, png = tmp_path / "decay.h5", tmp_path / "decay.png"
    argv = ["run", "rd_spiral", "--preset", "pattern_decay", "--t-end", "80", "--dt", "0.05"]
    argv += ["--save-every", "0.5", "--out", str(out), "--plot", str(png), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trajectory 0: HOMOGENEOUS" in printed
    assert "rotation omega = 1 " in printed  # beta = 1: the decayed state rotates uniformly
    assert png.stat().st_size > 10_000
    fields, _, attrs = read_fields(out)
    assert fields["u"].shape == (1, 161, 64, 64) and attrs["dataset_name"] == "rd_spiral"
    assert main([*argv[:2], "--preset", "spiral_chaos", "--t-end", "1", "--quiet"]) == 2
    assert "'preset' must be one of stable_spiral" in capsys.readouterr().err
