"""The complex Ginzburg-Landau system ``cgle`` against exact solutions (issue 19's
worked example of docs/writing_a_system.md).

    A_t = A + (1 + i alpha) ∇²A - (1 + i beta) |A|² A
"""

import numpy as np
import pytest

import pdesim
from pdesim.systems.ginzburg_landau import ComplexGinzburgLandau

T = 10.0
STEPS = (0.4, 0.2, 0.1, 0.05, 0.025)


def _final(system, initial: np.ndarray, dt: float, t_end: float = T) -> np.ndarray:
    run = pdesim.simulate(system, t_end=t_end, dt=dt, save_every=t_end, initial=initial[None])
    return np.stack([run.fields["A_re"][0, -1], run.fields["A_im"][0, -1]])


@pytest.mark.parametrize(
    ("params", "mode"),
    [
        ({"alpha": 1.5, "beta": -0.7, "L": 20.0, "N": 32}, (2, 1)),
        ({"dim": 1, "alpha": 1.5, "beta": -0.7, "L": 20.0, "N": 32}, (2,)),
    ],
    ids=["2d", "1d"],
)
def test_plane_wave_follows_the_dispersion_relation_at_fourth_order(params, mode):
    """Plane waves ``A = R exp(i (q.x - omega t))`` with ``R² = 1 - |q|²`` and
    ``omega = beta + (alpha - beta)|q|²`` are exact solutions.

    Derivation: ``A_t = -i omega A`` and ``∇²A = -|q|² A``; ``|A|² = R²`` is constant, so
    the equation divided by ``A`` reads
    ``-i omega = 1 - (1 + i alpha)|q|² - (1 + i beta) R²``. Its real part gives
    ``R² = 1 - |q|²`` (a wave exists for ``|q| < 1``), its imaginary part
    ``omega = alpha |q|² + beta R² = beta + (alpha - beta)|q|²``.

    On the periodic grid ``q = 2 pi m / L`` and the wave is one Fourier mode of ``A``
    whose cubic term is the same mode again (no aliasing), so the only error is
    ETDRK4's in time: the max error at T = 10 falls at order 4 as dt halves
    (measured: 2.0e-4, 9.4e-6, 5.1e-7, 3.0e-8, 1.8e-9 for dt = 0.4 ... 0.025 in 2-D,
    orders 4.4, 4.2, 4.1, 4.05) and is below 1e-8 at dt = 0.025.
    """
    system = pdesim.make_system("cgle", **params)
    q2 = sum(
        (2 * np.pi * m / length) ** 2 for m, length in zip(mode, system.grid.lengths, strict=True)
    )
    assert 0.1 < q2 < 1.0  # a wave well inside the band, with a non-trivial frequency
    exact = system.plane_wave(mode, T)
    errors = [np.abs(_final(system, system.plane_wave(mode), dt) - exact).max() for dt in STEPS]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-8, errors
    assert orders.min() > 3.8, (errors, orders)


def test_plane_wave_formula_by_finite_differences_in_time():
    """:meth:`plane_wave` itself satisfies the equation (independently of the solver):
    the right-hand side evaluated spectrally equals a centred difference in t."""
    system = pdesim.make_system("cgle", alpha=0.8, beta=2.0, L=30.0, N=32)
    mode, h = (3, -2), 1e-4
    z = lambda t: (lambda f: f[0] + 1j * f[1])(system.plane_wave(mode, t))  # noqa: E731
    a = z(0.0)
    k2 = system.grid.k_squared
    laplacian = np.fft.irfft2(-k2 * np.fft.rfft2(a.real), s=a.shape) + 1j * np.fft.irfft2(
        -k2 * np.fft.rfft2(a.imag), s=a.shape
    )
    rhs = a + (1 + 0.8j) * laplacian - (1 + 2.0j) * np.abs(a) ** 2 * a
    np.testing.assert_allclose((z(h) - z(-h)) / (2 * h), rhs, atol=1e-7)


@pytest.mark.parametrize(("alpha", "beta"), [(2.0, -1.0), (0.0, 1.0), (0.5, 0.5)])
def test_uniform_oscillation_has_the_benjamin_feir_newell_growth_rate(alpha, beta):
    """A long-wave perturbation ``a`` of the uniform oscillation ``A = (1 + a) e^{-i beta t}``
    grows or decays at ``lambda(k) = -(1 + k²) + sqrt(1 - 2 alpha beta k² - alpha² k⁴)``.

    Linearised, ``a = x + i y`` obeys ``x_t = ∇²x - alpha ∇²y - 2x``,
    ``y_t = alpha ∇²x + ∇²y - 2 beta x``; the larger eigenvalue of its matrix for
    ``e^{ikx}`` is the ``lambda`` above, ``≈ -(1 + alpha beta) k²`` for small ``k``:
    unstable where ``1 + alpha beta < 0`` (Benjamin-Feir-Newell; here alpha = 2,
    beta = -1). Measured from the mode's amplitude between t = 20 and 60 (the other
    eigenvalue, about -2, has died out by then).
    """
    system = pdesim.make_system("cgle", dim=1, alpha=alpha, beta=beta, L=50.0, N=64)
    x = system.grid.coords[0]
    k = 2 * np.pi / 50.0
    initial = np.stack([1 + 1e-6 * np.cos(k * x), 0 * x])
    run = pdesim.simulate(system, t_end=60.0, dt=0.05, save_every=20.0, initial=initial[None])
    field = run.fields["A_re"][0] + 1j * run.fields["A_im"][0]
    a = field * np.exp(1j * beta * run.t[:, None]) - 1
    amplitude = np.hypot(
        np.abs(np.fft.fft(a.real, axis=-1)[:, 1]), np.abs(np.fft.fft(a.imag, axis=-1)[:, 1])
    )
    rate = np.log(amplitude[3] / amplitude[1]) / 40.0
    expected = -(1 + k * k) + np.sqrt(1 - 2 * alpha * beta * k * k - alpha**2 * k**4)
    assert np.sign(expected) == np.sign(-(1 + alpha * beta))
    assert rate == pytest.approx(expected, rel=1e-4)


def test_alpha_zero_is_rd_spiral_rescaled():
    """``rd_spiral(d1 = d2 = D, beta, L)`` at x is ``cgle(alpha = 0, beta, L / sqrt(D))`` at
    ``x / sqrt(D)``: the grids map node to node and the solutions agree to the time
    discretisation error (the two split the equation differently), which falls at
    order 4 (measured 1.8e-6, 1.1e-7, 6.9e-9 for dt = 0.05, 0.025, 0.0125)."""
    d = 0.1
    rd = pdesim.make_system("rd_spiral", d1=d, d2=d, beta=1.0, L=20.0, N=32, dealias="none")
    cgle = pdesim.make_system("cgle", alpha=0.0, beta=1.0, L=20 / np.sqrt(d), N=32, dealias="none")
    for a, b in zip(rd.grid.mesh(), cgle.grid.mesh(), strict=True):
        np.testing.assert_allclose(a / np.sqrt(d), b, rtol=0, atol=1e-12)
    initial = rd.initial_condition("random_phase", np.random.default_rng(1))[None]
    gaps = []
    for dt in (0.05, 0.025):
        one = pdesim.simulate(rd, t_end=5.0, dt=dt, save_every=5.0, initial=initial)
        two = pdesim.simulate(cgle, t_end=5.0, dt=dt, save_every=5.0, initial=initial)
        gaps.append(
            max(
                np.abs(one.fields["u"][0, -1] - two.fields["A_re"][0, -1]).max(),
                np.abs(one.fields["v"][0, -1] - two.fields["A_im"][0, -1]).max(),
            )
        )
    assert gaps[1] < 2e-7, gaps
    assert np.log2(gaps[0] / gaps[1]) > 3.5, gaps


def test_stepper_api_round_trips_and_matches_simulate():
    """``make_stepper(dt)``, ``to_state``, ``step``, ``to_fields``: the loop
    :func:`pdesim.simulate` runs, by hand."""
    system = pdesim.make_system("cgle", alpha=1.0, beta=0.5, L=20.0, N=16)
    fields = system.initial_condition("random", np.random.default_rng(0))[None]
    stepper = system.make_stepper(0.1)
    state = stepper.to_state(fields)
    back = np.empty_like(fields)
    stepper.to_fields(state, back)
    np.testing.assert_allclose(back, fields, rtol=0, atol=1e-15)
    for n in range(10):
        stepper.step(state, n * 0.1)
    stepper.to_fields(state, back)
    run = pdesim.simulate(system, t_end=1.0, dt=0.1, save_every=1.0, initial=fields)
    np.testing.assert_array_equal(back[0, 0], run.fields["A_re"][0, -1])
    np.testing.assert_array_equal(back[0, 1], run.fields["A_im"][0, -1])


def test_random_start_grows_to_the_limit_cycle_and_stays_bounded():
    """From small noise ``|A|`` grows towards 1 and stays below about 1 (no blow-up)."""
    system = pdesim.make_system("cgle", L=20.0, N=32)
    run = pdesim.simulate(system, t_end=20.0, dt=0.1, save_every=10.0, seed=3)
    modulus = np.hypot(run.fields["A_re"][0], run.fields["A_im"][0])
    assert modulus[0].max() < 0.6
    assert 0.5 < modulus[-1].mean() <= 1.05 and modulus[-1].max() < 1.2


def test_parameters_are_validated_naming_the_parameter():
    with pytest.raises(ValueError, match="'Ly' applies to dim=2 only"):
        pdesim.make_system("cgle", dim=1, Ly=3.0)
    with pytest.raises(ValueError, match="'dim' must be an integer >= 1 and <= 2"):
        pdesim.make_system("cgle", dim=3)
    with pytest.raises(ValueError, match="'N' must be >= 24 to resolve"):
        pdesim.make_system("cgle", L=50.0, N=16)
    with pytest.raises(ValueError, match="'Ny' must be >= 48"):
        pdesim.make_system("cgle", L=20.0, N=32, Ly=100.0)
    with pytest.raises(ValueError, match="'L' = 1e\\+300 is out of its useful range"):
        pdesim.make_system("cgle", L=1e300)
    with pytest.raises(TypeError, match="'alpha'"):
        pdesim.make_system("cgle", alpha="2")
    system = pdesim.make_system("cgle", L=5.0, N=16)
    with pytest.raises(ValueError, match=r"'mode'.*need \|q\| < 1"):
        system.plane_wave((1, 0))
    with pytest.raises(ValueError, match="'plane_wave' needs L > 2 pi"):
        system.initial_condition("plane_wave", np.random.default_rng(0))
    wave = pdesim.make_system("cgle", dim=1, L=20.0, N=32)
    np.testing.assert_array_equal(
        wave.initial_condition("plane_wave", np.random.default_rng(0)), wave.plane_wave((1,))
    )
    with pytest.raises(ValueError, match="'method' must be one of etdrk4"):
        system.make_stepper(0.1, "ifdp5")


def test_presets_build_and_rd_spiral_preset_is_the_stable_spiral_rescaled():
    stable = ComplexGinzburgLandau.from_preset("rd_spiral_stable")
    rd = pdesim.make_system("rd_spiral", preset="stable_spiral")
    assert stable.params.L == pytest.approx(rd.params.L / np.sqrt(rd.params.d1))
    assert (stable.params.alpha, stable.params.beta, stable.params.N) == (0.0, 1.0, 128)
    unstable = ComplexGinzburgLandau.from_preset("benjamin_feir_unstable")
    assert 1 + unstable.params.alpha * unstable.params.beta < 0
