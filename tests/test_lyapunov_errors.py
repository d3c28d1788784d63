"""Error bars of Lyapunov exponents and the Kaplan-Yorke dimension (block averages)."""

import numpy as np
import pytest

import pdesim
from pdesim.diagnostics import kaplan_yorke_dimension, lyapunov_spectrum
from pdesim.diagnostics.lyapunov import _block_errors


def test_decaying_burgers_has_the_exact_exponents_of_the_heat_equation_and_no_error():
    # nu = 0.5 on [0, 2 pi): the zero-mean state decays like exp(-0.5 t), so after the
    # warm-up the tangent dynamics is v_t = nu v_xx to ~1e-17, whose ETDRK4 map is
    # exactly exp(-nu m^2 dt) per mode: exponents -nu m^2, each twice (cos and sin).
    # The tangent warm-up lets the vectors align first (modes 2 against 3: exp(-50)).
    system = pdesim.make_system("burgers", nu=0.5, N=16)
    result = lyapunov_spectrum(
        system,
        n_exponents=4,
        t_end=100.0,
        dt=0.25,
        t_warmup=80.0,
        t_tangent_warmup=20.0,
        initial="random",
    )
    np.testing.assert_allclose(result.exponents, [-0.5, -0.5, -2.0, -2.0], rtol=0, atol=1e-12)
    assert result.standard_errors.shape == (4,)
    assert np.all(result.standard_errors < 1e-10)
    assert result.kaplan_yorke == 0.0
    assert result.kaplan_yorke_error == 0.0
    assert result.n_blocks == 20
    assert result.block_exponents.shape == (20, 4)


def test_the_estimate_is_the_mean_of_its_blocks_and_the_error_their_standard_error():
    system = pdesim.make_system("ks1d", L=22.0, N=32)
    result = lyapunov_spectrum(system, n_exponents=2, t_end=100.0, dt=0.25, t_warmup=50.0)
    blocks = result.block_exponents
    assert blocks.shape == (20, 2)
    np.testing.assert_allclose(blocks.mean(axis=0), result.exponents, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        result.standard_errors, blocks.std(axis=0, ddof=1) / np.sqrt(20), rtol=1e-12
    )
    assert result.leading_error == result.standard_errors[0] > 0
    text = str(result)
    assert f"lambda_1 = {result.leading:+.4f} +- {result.leading_error:.4f}" in text
    assert "D_KY = " in text and "20 blocks" in text


def test_block_count_is_capped_by_the_intervals_and_one_block_has_no_error():
    system = pdesim.make_system("ks1d", L=22.0, N=32)
    few = lyapunov_spectrum(system, n_exponents=1, t_end=5.0, dt=0.25, t_warmup=0.0)
    assert few.n_blocks == 5  # 5 re-orthonormalisations of 4 steps each
    one = lyapunov_spectrum(system, n_exponents=1, t_end=5.0, dt=0.25, t_warmup=0.0, n_blocks=1)
    assert one.exponents[0] == few.exponents[0]  # the estimate does not depend on B
    assert np.isnan(one.standard_errors).all() and np.isnan(one.kaplan_yorke_error)
    with pytest.raises(ValueError, match="n_blocks"):
        lyapunov_spectrum(system, t_end=5.0, dt=0.25, n_blocks=0)
    with pytest.raises(ValueError, match="t_tangent_warmup"):
        lyapunov_spectrum(system, t_end=5.0, dt=0.25, t_tangent_warmup=0.3)


def test_jackknife_error_of_the_kaplan_yorke_dimension_matches_linear_propagation():
    # Synthetic per-interval rates with correlated exponents: the jackknife error of D
    # agrees with the delta method g^T C g / B on the block covariance C (small noise).
    rng = np.random.default_rng(7)
    mean = np.array([0.05, 0.0, -0.01, -0.2])
    mix = np.array([[1.0, 0, 0, 0], [0.3, 0.5, 0, 0], [-0.5, 0.2, 0.4, 0], [-0.8, 0, 0.3, 0.6]])
    logs = mean + 0.02 * rng.standard_normal((4000, 4)) @ mix.T
    blocks, se, ky_error = _block_errors(logs, 1.0, 20)
    lam = logs.mean(axis=0)
    d = kaplan_yorke_dimension(lam)
    assert 3 < d < 4  # j = 3: D = 3 + (l1 + l2 + l3) / |l4|
    s3 = lam[:3].sum()
    grad = np.array([1 / abs(lam[3])] * 3 + [s3 / lam[3] ** 2])  # D = 3 - s3 / l4
    delta = np.sqrt(grad @ np.cov(blocks, rowvar=False) @ grad / 20)
    assert ky_error == pytest.approx(delta, rel=0.05)
    np.testing.assert_allclose(se, blocks.std(axis=0, ddof=1) / np.sqrt(20))


def test_ks_l22_block_error_matches_the_spread_over_independent_seeds():
    # Eight independent short runs (10 blocks of 50, long against the ~2 time units
    # the stretching rates stay correlated): the block standard error of lambda_1, a
    # per-run estimate, agrees with the actual scatter of lambda_1 between the runs.
    # (T = 500 per run: more, shorter runs pin the scatter down better at equal cost.)
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    runs = [
        lyapunov_spectrum(
            system, n_exponents=2, t_end=500.0, dt=0.25, t_warmup=100.0, seed=s, n_blocks=10
        )
        for s in range(8)
    ]
    lam1 = np.array([r.exponents[0] for r in runs])
    se1 = np.array([r.standard_errors[0] for r in runs])
    spread = lam1.std(ddof=1)
    typical_se = np.sqrt(np.mean(se1**2))
    assert typical_se / 3 < spread < 3 * typical_se
    assert np.all((1 / 3 < se1 / typical_se) & (se1 / typical_se < 3))


@pytest.mark.slow
def test_ks_l22_published_leading_exponent_within_three_standard_errors():
    """numerics.md: lambda_1 = 0.0482 (T = 60000), D_KY = 4.24 (to 2 decimals, hence the
    0.005 allowed beside 3 SE); Cvitanovic, Davidchack & Siminos: about 0.048."""
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    result = lyapunov_spectrum(system, n_exponents=6, t_end=20000.0, dt=0.25, t_warmup=1000.0)
    assert 0 < result.leading_error < 0.003
    assert abs(result.leading - 0.0482) < 3 * result.leading_error
    assert 0 < result.kaplan_yorke_error < 0.1
    assert abs(result.kaplan_yorke - 4.24) < 3 * result.kaplan_yorke_error + 0.005
