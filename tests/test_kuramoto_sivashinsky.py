"""Kuramoto-Sivashinsky: conservation laws, dealiasing, backends and Lyapunov exponents."""

import numpy as np
import pytest

import pdesim
from pdesim.diagnostics import kaplan_yorke_dimension, lyapunov_spectrum
from pdesim.integrators import ETDRK4


def _rfft_weights(n):
    """Each rfft mode 0 < m < N/2 stands for the pair +-m."""
    w = np.full(n // 2 + 1, 2.0)
    w[[0, -1]] = 1.0
    return w


def _energy_residual(dealias, band_limited):
    system = pdesim.make_system("ks1d", L=22.0, N=64, dealias=dealias)
    rng = np.random.default_rng(4)
    coeffs = system.transform.forward(rng.standard_normal((1, 1, 64)))
    if band_limited:
        coeffs *= system.grid.dealias_mask("2/3")
    out = np.empty_like(coeffs)
    system.nonlinear(coeffs, 0.0, out)
    terms = _rfft_weights(64) * np.real(np.conj(coeffs) * out)
    return terms.sum(), np.abs(terms).sum()


def test_dealiased_nonlinearity_conserves_energy_to_round_off():
    residual, scale = _energy_residual("2/3", band_limited=True)
    assert abs(residual) < 1e-13 * scale
    # The check can fail: without dealiasing a full-band state leaks energy.
    residual, scale = _energy_residual("none", band_limited=False)
    assert abs(residual) > 1e-4 * scale


def test_ks1d_conserves_the_mean():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    rng = np.random.default_rng(0)
    u0 = system.initial_condition("random", rng)[None] + 0.7
    run = pdesim.simulate(system, t_end=250.0, dt=0.25, save_every=25.0, initial=u0)
    means = run.fields["u"][0].mean(axis=-1)
    np.testing.assert_allclose(means, 0.7, rtol=0, atol=1e-13)
    assert run.fields["u"][0, -1].std() > 0.5  # it is chaotic, not decayed


def test_ks2d_mean_drift_identity():
    """d<u>/dt = -1/2 <|grad u|^2>, with the gradient taken independently by numpy."""
    length, n, dt = 20 * np.pi, 64, 0.01
    system = pdesim.make_system("ks2d", L=length, N=n)
    run = pdesim.simulate(system, t_end=40.02, dt=dt, save_every=dt, t_warmup=40.0)
    u = run.fields["u"][0]
    rate = (u[2].mean() - u[0].mean()) / (2 * dt)
    k = 2 * np.pi * np.fft.fftfreq(n, 1 / n) / length
    coeffs = np.fft.fft2(u[1])
    ux = np.fft.ifft2(1j * k[:, None] * coeffs).real
    uy = np.fft.ifft2(1j * k[None, :] * coeffs).real
    expected = -0.5 * np.mean(ux**2 + uy**2)
    assert u[1].std() > 1.0
    assert rate == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("name", "params", "dt"),
    [("ks1d", {"L": 22.0, "N": 64}, 0.25), ("ks2d", {"L": 20 * np.pi, "N": 64}, 0.1)],
)
def test_pyfftw_and_scipy_backends_agree_over_100_steps(monkeypatch, name, params, dt):
    results = []
    for backend in ("pyfftw", "scipy"):
        monkeypatch.setenv("PDESIM_FFT", backend)
        system = pdesim.make_system(name, **params)
        assert system.transform.backend.name == backend
        run = pdesim.simulate(system, t_end=100 * dt, dt=dt, save_every=100 * dt, n_traj=2)
        results.append(run.fields["u"])
    scale = np.abs(results[0]).max()
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-10 * scale)


def test_kaplan_yorke_dimension_of_known_spectra():
    assert kaplan_yorke_dimension([0.9056, 0.0, -14.5723]) == pytest.approx(2.0621, abs=1e-4)
    assert kaplan_yorke_dimension([-0.1, -0.2]) == 0.0
    assert np.isnan(kaplan_yorke_dimension([0.1, 0.05]))


def test_ks1d_leading_lyapunov_exponent_short_average():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    result = lyapunov_spectrum(system, n_exponents=1, t_end=2000.0, dt=0.25, seed=1)
    assert 0.035 <= result.leading <= 0.060


@pytest.mark.slow
def test_ks1d_lyapunov_spectrum_l22_long_average():
    """Published: lambda_1 = 0.043-0.048, two near-zero exponents, D_KY about 4.2."""
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    result = lyapunov_spectrum(system, n_exponents=8, t_end=20000.0, dt=0.25, t_warmup=1000.0)
    lam = result.exponents
    assert lam[0] == pytest.approx(0.048, abs=0.003)
    assert np.all(np.abs(lam[1:3]) < 0.006)
    assert -0.20 <= lam[4] <= -0.18
    assert 4.1 <= result.kaplan_yorke <= 4.4


@pytest.mark.slow
def test_ks1d_lyapunov_exponent_l32pi():
    system = pdesim.make_system("ks1d", L=32 * np.pi, N=128)
    result = lyapunov_spectrum(system, n_exponents=1, t_end=15000.0, dt=0.25, t_warmup=500.0)
    assert result.leading == pytest.approx(0.092, abs=0.006)


@pytest.mark.parametrize("name", ["ks1d", "ks2d"])
def test_tangent_is_the_derivative_of_the_quadratic_term(name):
    # N is quadratic, so (N(u + e v) - N(u - e v)) / 2e = N'(u) v exactly (up to round-off)
    system = pdesim.make_system(name, N=32, L=30.0)
    rng = np.random.default_rng(3)
    u, v = (system.transform.forward(system.initial_condition("random", rng)[None]) for _ in "uv")
    plus, minus, tangent = (np.empty_like(u) for _ in range(3))
    system.nonlinear(u + 0.5 * v, 0.0, plus)
    system.nonlinear(u - 0.5 * v, 0.0, minus)
    system.nonlinear_tangent(u, v, tangent)
    np.testing.assert_allclose(tangent, plus - minus, rtol=0, atol=1e-12 * np.abs(tangent).max())


@pytest.mark.parametrize("name", ["ks1d", "ks2d"])
def test_several_tangents_share_the_one_base_state(name):
    # Lyapunov spectra pass m tangents with one base state; each must get N'(u) v_i
    # (KS2D's fused kernel once read base rows beyond the first: garbage for i > 0).
    system = pdesim.make_system(name, N=32, L=30.0)
    rng = np.random.default_rng(5)
    u = system.transform.forward(system.initial_condition("random", rng)[None])
    v = system.transform.forward(np.stack([system.initial_condition("random", rng) for _ in "abc"]))
    together = np.empty_like(v)
    system.nonlinear_tangent(u, v, together)
    for i in range(len(v)):
        alone = np.empty_like(v[i : i + 1])
        system.nonlinear_tangent(u, v[i : i + 1].copy(), alone)
        np.testing.assert_allclose(
            together[i : i + 1], alone, rtol=0, atol=1e-12 * np.abs(alone).max()
        )


@pytest.mark.parametrize("name", ["ks1d", "ks2d"])
def test_the_stepper_with_the_folded_output_factor_steps_like_the_whole_term(name):
    # The stepper gets N as (F[u^2] or F[|grad u|^2], output multiplier) and folds the
    # multiplier into ETDRK4; stepping with the whole N must give the same states.
    system = pdesim.make_system(name, N=32, L=30.0)
    rng = np.random.default_rng(4)
    u0 = system.transform.forward(system.initial_condition("random", rng)[None])
    factored, whole = u0.copy(), u0.copy()
    stepper = system.make_stepper(0.1)
    reference = ETDRK4(system.linear_operator(), system.nonlinear, 0.1)
    for n in range(20):
        stepper.step(factored, 0.1 * n)
        reference.step(whole, 0.1 * n)
    np.testing.assert_allclose(factored, whole, rtol=0, atol=1e-12 * np.abs(whole).max())
