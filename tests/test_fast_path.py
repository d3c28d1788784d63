"""The fast paths equal the general one and are taken where they apply: the compiled
1-D path (pdesim.compiled), the compiled KS2D path (pdesim.compiled_ks2d) and batches
of large states stepped in tiles (2-D)."""

import numpy as np
import pytest

import pdesim
from pdesim import compiled, compiled_ks2d, fft_backends
from pdesim.diagnostics import lyapunov_spectrum
from pdesim.diagnostics.lyapunov import _orthonormalise
from pdesim.systems import base
from pdesim.systems.base import SpectralStepper, TangentStepper

#: The systems of the compiled path: parameters and a time step.
SYSTEMS = {"ks1d": ({"L": 22.0, "N": 64}, 0.25), "burgers": ({"N": 64}, 0.01)}


def _system(name, **params):
    """The system ``name`` with the parameters of :data:`SYSTEMS` (``params`` override)."""
    return pdesim.make_system(name, **{**SYSTEMS[name][0], **params})


def _fields(system, batch, seed=0):
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(batch)]
    return np.stack([system.initial_condition("random", r) for r in rngs])


def _relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture
def estimate_planner():
    """FFTW's estimate planner without wisdom, as dataset shards run: fresh backends, and
    none of the wisdom earlier tests' measured plans left in this process (FFTW answers
    an estimate request with any wisdom it holds for the problem, so the plans, and the
    last bits, would depend on which tests ran before)."""
    pytest.importorskip("pyfftw")
    with fft_backends.reproducible_plans():
        yield


@pytest.mark.parametrize("name", SYSTEMS)
def test_advected_scalars_take_the_compiled_path_up_to_the_threshold(monkeypatch, name):
    system, dt = _system(name), SYSTEMS[name][1]
    assert isinstance(system.make_stepper(dt), compiled.AdvectionStepper)
    assert system.make_stepper(dt)._compiled is not None  # the coefficients have its form
    assert isinstance(system.make_tangent_stepper(dt), compiled.AdvectionTangentStepper)
    monkeypatch.setattr(compiled, "MAX_POINTS", 32)
    assert type(system.make_stepper(dt)) is SpectralStepper
    assert type(system.make_tangent_stepper(dt)) is TangentStepper


def test_scipy_backend_and_fft_threads_take_the_general_path(monkeypatch):
    for environment in (
        {"PDESIM_FFT": "scipy"},
        {"PDESIM_FFT": "pyfftw", "PDESIM_FFT_THREADS": "2"},
    ):
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        assert type(pdesim.make_system("ks1d").make_stepper(0.25)) is SpectralStepper
        assert type(pdesim.make_system("ks2d", **KS2D[0]).make_stepper(0.1)) is SpectralStepper


@pytest.mark.parametrize("name", SYSTEMS)
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_compiled_trajectories_equal_the_general_path_over_300_steps(estimate_planner, batch, name):
    system, dt = _system(name), SYSTEMS[name][1]
    fast, general = system.make_stepper(dt), SpectralStepper(system, dt)
    u0 = _fields(system, batch)
    x, y = fast.to_state(u0), general.to_state(u0)
    for n in range(300):
        fast.step(x, n * dt)
        general.step(y, n * dt)
    assert _relative(x, y) <= 1e-12
    assert np.abs(y[:, 0, 1:4]).min() > 1e-3  # on the attractor, not decayed


@pytest.mark.parametrize("batch", [1, 3, 64])
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ks1d", {}),
        ("ks1d", {"L": 100.0, "N": 256}),
        ("burgers", {}),
        ("burgers", {"N": 256, "nu": 0.005, "dealias": "1/2"}),
    ],
)
def test_every_compiled_step_equals_the_general_step_along_a_trajectory(batch, name, params):
    """Each of 300 steps from the same state (default planner: plans may differ)."""
    system, dt = _system(name, **params), SYSTEMS[name][1]
    fast, general = system.make_stepper(dt), SpectralStepper(system, dt)
    y = general.to_state(_fields(system, batch))
    worst = 0.0
    for step in range(300):
        x = y.copy()
        fast.step(x, step * dt)
        general.step(y, step * dt)
        worst = max(worst, _relative(x, y))
    assert worst <= 1e-13


def test_advance_equals_single_steps_and_chunks_do_not_mix_trajectories():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    stepper = system.make_stepper(0.25)
    batch = 2 * compiled.chunk_rows(64) + 3  # two full chunks and a short one
    u0 = _fields(system, batch)
    x, y = stepper.to_state(u0), stepper.to_state(u0)
    stepper.advance(x, 0.0, 40)
    for n in range(40):
        stepper.step(y, n * 0.25)
    np.testing.assert_array_equal(x, y)
    alone = stepper.to_state(u0[-1:])
    stepper.advance(alone, 0.0, 40)
    assert _relative(x[-1:], alone) <= 1e-12


def test_non_contiguous_states_take_the_general_path():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    fast, general = system.make_stepper(0.25), SpectralStepper(system, 0.25)
    u0 = _fields(system, 4)
    x = fast.to_state(u0)[::2]
    y = general.to_state(u0)[::2]
    assert not x.flags.c_contiguous
    fast.advance(x, 0.0, 20)
    general.advance(y, 0.0, 20)
    assert _relative(x, y) <= 1e-12


def test_compiled_finite_check_flags_each_trajectory():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    stepper = system.make_stepper(0.25)
    state = stepper.to_state(_fields(system, 3))
    state[1, 0, 0] = np.nan
    assert stepper.finite(state).tolist() == [True, False, True]
    stepper.advance(state, 0.0, 2)
    assert stepper.finite(state).tolist() == [True, False, True]
    np.testing.assert_array_equal(stepper.finite(state), SpectralStepper.finite(stepper, state))


def test_wrong_state_shape_is_refused():
    stepper = pdesim.make_system("ks1d", L=22.0, N=64).make_stepper(0.25)
    with pytest.raises(ValueError, match="shape"):
        stepper.step(np.zeros((2, 1, 30), dtype=complex), 0.0)


def test_ks2d_advance_equals_single_steps():
    system = pdesim.make_system("ks2d", L=10 * np.pi, N=32)
    stepper = system.make_stepper(0.1)
    u0 = _fields(system, 3)
    x, y = stepper.to_state(u0), stepper.to_state(u0)
    stepper.advance(x, 0.0, 30)
    for n in range(30):
        stepper.step(y, n * 0.1)
    np.testing.assert_array_equal(x, y)


#: KS2D cases of the compiled 2-D path: parameters and a time step.
KS2D = ({"L": 10 * np.pi, "N": 32}, 0.1)
KS2D_VARIANTS = [{}, {"L": 20.0, "N": 48, "dealias": "1/2"}, {"dealias": "none"}]


def _ks2d(**params):
    return pdesim.make_system("ks2d", **{**KS2D[0], **params})


def test_ks2d_takes_the_compiled_path():
    stepper = _ks2d().make_stepper(KS2D[1])
    assert isinstance(stepper, compiled_ks2d.KS2DStepper) and stepper._compiled


@pytest.mark.parametrize("params", KS2D_VARIANTS)
@pytest.mark.parametrize("batch", [1, 3])
def test_compiled_ks2d_trajectories_equal_the_general_path(estimate_planner, batch, params):
    """Plans of the general path's layout: with the estimate planner, the same bits."""
    system, dt = _ks2d(**params), KS2D[1]
    fast, general = system.make_stepper(dt), SpectralStepper(system, dt)
    u0 = _fields(system, batch)
    x, y = fast.to_state(u0), general.to_state(u0)
    for n in range(150):
        fast.step(x, n * dt)
        general.step(y, n * dt)
    assert _relative(x, y) <= 1e-12
    assert np.abs(y).max() > 10 * np.abs(general.to_state(u0)).max()  # grown: nonlinear


@pytest.mark.parametrize("params", KS2D_VARIANTS)
def test_every_compiled_ks2d_step_equals_the_general_step(params):
    """Each of 100 steps from the same state (default planner: plans may differ)."""
    system, dt = _ks2d(**params), KS2D[1]
    fast, general = system.make_stepper(dt), SpectralStepper(system, dt)
    y = general.to_state(_fields(system, 2))
    worst = 0.0
    for step in range(100):
        x = y.copy()
        fast.step(x, step * dt)
        general.step(y, step * dt)
        worst = max(worst, _relative(x, y))
    assert worst <= 1e-13


def test_compiled_ks2d_trajectory_does_not_depend_on_its_batch():
    system = _ks2d()
    stepper = system.make_stepper(KS2D[1])
    u0 = _fields(system, 4)
    x, alone = stepper.to_state(u0), stepper.to_state(u0[2:3])
    stepper.advance(x, 0.0, 30)
    stepper.advance(alone, 0.0, 30)
    np.testing.assert_array_equal(x[2:3], alone)
    y = stepper.to_state(u0)
    for n in range(30):
        stepper.step(y, n * KS2D[1])
    np.testing.assert_array_equal(x, y)


def test_compiled_ks2d_leaves_non_contiguous_states_to_the_general_path_and_checks_shapes():
    system = _ks2d()
    fast, general = system.make_stepper(KS2D[1]), SpectralStepper(system, KS2D[1])
    u0 = _fields(system, 4)
    x, y = fast.to_state(u0)[::2], general.to_state(u0)[::2]
    fast.advance(x, 0.0, 20)
    general.advance(y, 0.0, 20)
    assert _relative(x, y) <= 1e-12
    with pytest.raises(ValueError, match="shape"):
        fast.step(np.zeros((1, 1, 32, 16), dtype=complex), 0.0)


@pytest.mark.parametrize("name", SYSTEMS)
@pytest.mark.parametrize("m", [1, 6])
def test_compiled_tangent_steps_equal_the_general_ones(m, name):
    system, dt = _system(name), SYSTEMS[name][1]
    fast, general = system.make_tangent_stepper(dt), TangentStepper(system, dt)
    base = SpectralStepper(system, dt)
    state = base.to_state(_fields(system, 1 + m, seed=3))
    base.advance(state[:1], 0.0, 200)  # away from the initial state (KS: onto the attractor)

    def differences(x, y):
        return _relative(x[:1], y[:1]), _relative(x[1:], y[1:])

    worst = (0.0, 0.0)
    for step in range(300):
        x = state.copy()
        fast.advance(x, step * dt, 1)
        general.advance(state, step * dt, 1)
        worst = np.maximum(worst, differences(x, state))
        state[1:] /= np.abs(state[1:]).max()  # the tangents grow: keep them O(1)
    assert max(worst) <= 1e-13
    x = state.copy()
    fast.advance(x, 0.0, 40)
    general.advance(state, 0.0, 40)
    assert max(differences(x, state)) <= 1e-12


def test_lyapunov_spectrum_equals_the_general_path(monkeypatch):
    kwargs = {"n_exponents": 6, "t_end": 40.0, "dt": 0.25, "t_warmup": 50.0, "n_blocks": 2}
    fast = lyapunov_spectrum(pdesim.make_system("ks1d", L=22.0, N=64), **kwargs)
    monkeypatch.setattr(compiled, "MAX_POINTS", 0)
    general = lyapunov_spectrum(pdesim.make_system("ks1d", L=22.0, N=64), **kwargs)
    np.testing.assert_allclose(fast.exponents, general.exponents, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.block_exponents, general.block_exponents, rtol=0, atol=1e-10)


def test_gram_schmidt_equals_numpy_qr_with_a_positive_diagonal():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((6, 1, 64))
    vectors[4] = vectors[3] + 1e-9 * vectors[4]  # nearly dependent
    q, r = np.linalg.qr(vectors.reshape(6, -1).T)
    signs = np.sign(np.diag(r))
    ours, growth = _orthonormalise(vectors)
    np.testing.assert_allclose(growth, np.abs(np.diag(r)), rtol=1e-6, atol=0)
    np.testing.assert_allclose(ours[:4].reshape(4, -1), (q * signs).T[:4], rtol=0, atol=1e-14)
    flat = ours.reshape(6, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(6), rtol=0, atol=1e-14)


#: 2-D systems whose batches are stepped in tiles: parameters and a time step.
TILED = {
    "ks2d": ({"L": 10 * np.pi, "N": 32}, 0.1),
    "cgle": ({"dim": 2, "L": 40.0, "N": 32, "alpha": 1.0, "beta": -1.0}, 0.05),
}


@pytest.mark.parametrize("name", TILED)
@pytest.mark.parametrize("batch", [1, 3, 5, 8])
def test_tiled_batches_equal_the_whole_batch_stepped_at_once(monkeypatch, name, batch):
    params, dt = TILED[name]
    system = pdesim.make_system(name, **params)
    # ks2d's compiled path steps one trajectory at a time; the tiles are the general path's
    stepper = SpectralStepper(system, dt) if name == "ks2d" else system.make_stepper(dt)
    u0 = _fields(system, batch)
    tiled, whole = stepper.to_state(u0), stepper.to_state(u0)
    monkeypatch.setattr(base, "TILE_BYTES", 2 * tiled[:1].nbytes)  # tiles of two
    tiles = stepper.tiles(tiled)
    assert sum(len(t) for t in tiles) == batch and all(np.shares_memory(t, tiled) for t in tiles)
    assert len(tiles) == -(-batch // 2)
    stepper.advance(tiled, 0.0, 40)
    for n in range(40):
        stepper.integrator.step(whole, n * dt)  # the whole batch in one piece
    assert _relative(tiled, whole) <= 1e-12
    stepped = stepper.to_state(u0)
    for n in range(40):
        stepper.step(stepped, n * dt)
    np.testing.assert_array_equal(stepped, tiled)  # step and advance tile alike
    alone = stepper.to_state(u0[-1:])
    stepper.advance(alone, 0.0, 40)
    assert _relative(tiled[-1:], alone) <= 1e-12


def test_tiles_follow_the_byte_budget_and_keep_per_trajectory_coefficients_whole(monkeypatch):
    system = pdesim.make_system("ks2d", L=10 * np.pi, N=32)
    state = system.make_stepper(0.1).to_state(_fields(system, 7))
    per = state[:1].nbytes

    def tiles(budget):  # a new stepper: tile sizes are kept per state shape
        monkeypatch.setattr(base, "TILE_BYTES", budget)
        return SpectralStepper(system, 0.1).tiles(state)

    assert [len(t) for t in tiles(3 * per)] == [3, 3, 1]
    assert tiles(7 * per)[0] is state
    assert [len(t) for t in tiles(per // 2)] == [1] * 7  # a trajectory larger than a tile
    stepper = SpectralStepper(system, 0.1)
    assert stepper.tiles(state[::2])[0].shape[0] == 4  # not C-contiguous: one piece
    coefficients = stepper.integrator.coefficient_rows(state.shape)
    batched = type(coefficients)(*[np.repeat(c, 7, axis=0) for c in vars(coefficients).values()])
    monkeypatch.setattr(stepper.integrator, "coefficient_rows", lambda shape: batched)
    assert stepper.tiles(state)[0] is state
