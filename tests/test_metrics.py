"""Metrics against hand-computable cases."""

import math

import numpy as np
import pytest
import torch

from pdesim import make_system, simulate
from surrogates import metrics as m


@pytest.fixture(scope="module")
def fields():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 2, 32, 16)) * 3 + 1


def test_identical_fields_score_zero(fields):
    assert np.all(m.vrmse(fields, fields) == 0)
    assert np.all(m.nrmse(fields, fields) == 0)
    np.testing.assert_allclose(m.pearson(fields, fields), 1.0, rtol=1e-6)
    mse, nmse = m.binned_spectral_error(fields, fields)
    assert np.all(mse == 0) and np.all(nmse == 0)
    assert m.histogram_w1(fields, fields) == 0
    x = fields.reshape(-1, 4)[:, :3]
    assert m.d_stsp_binned(x, x) == pytest.approx(0.0, abs=1e-12)
    assert m.d_stsp_gmm(fields.reshape(40, -1), fields.reshape(40, -1)) == pytest.approx(0.0)
    assert m.power_spectrum_hellinger(x, x) == pytest.approx(0.0, abs=1e-7)


def test_vrmse_definition_and_mean_prediction(fields):
    mean = np.broadcast_to(fields.mean((2, 3), keepdims=True), fields.shape)
    n = 32 * 16
    # unbiased spatial variance: predicting the mean scores sqrt((n - 1) / n)
    np.testing.assert_allclose(m.vrmse(mean, fields), math.sqrt((n - 1) / n), rtol=1e-6)
    np.testing.assert_allclose(m.vrmse(mean, fields, unbiased=False), 1.0, rtol=1e-6)
    t = torch.from_numpy(fields)
    torch.testing.assert_close(m.vrmse(t + 0.5, t), torch.from_numpy(m.vrmse(fields + 0.5, fields)))
    # a constant error c scores c / std
    np.testing.assert_allclose(
        m.vrmse(fields + 0.3, fields), 0.3 / fields.std((2, 3), ddof=1), rtol=1e-6
    )
    np.testing.assert_allclose(m.pearson(2 * fields + 7, fields), 1.0, rtol=1e-6)
    np.testing.assert_allclose(m.pearson(-fields, fields), -1.0, rtol=1e-6)


def test_binned_spectral_error_of_a_phase_shift():
    """sin(kx + phi) vs sin(kx): residual power 1 - cos(phi), all in k's bin."""
    n, phi = 64, 0.7
    x = 2 * np.pi * np.arange(n) / n
    edges = m.spectral_bins((n,))
    for mode in (1, 6, 25):
        true = np.sin(mode * x)[None, None]
        pred = np.sin(mode * x + phi)[None, None]
        mse, nmse = m.binned_spectral_error(pred, true)
        k = 2 * np.pi * mode / n
        b = int(np.searchsorted(edges, k, side="right") - 1)
        expected = np.zeros(3)
        expected[b] = 1 - math.cos(phi)
        np.testing.assert_allclose(mse[0, 0], expected, atol=1e-12)
        # the bins add up to the MSE (Parseval)
        assert mse.sum() == pytest.approx(np.mean((pred - true) ** 2))
        assert nmse[0, 0, b] == pytest.approx(2 * (1 - math.cos(phi)))


def test_energy_spectrum_and_its_error():
    n = 32
    x = 2 * np.pi * np.arange(n) / n
    u = (2 * np.cos(3 * x) + np.sin(5 * x))[None, None]
    _, e = m.energy_spectrum(u)
    expected = np.zeros(n // 2 + 1)
    expected[3], expected[5] = 2.0, 0.5  # amplitude a gives a^2 / 2
    np.testing.assert_allclose(e[0, 0], expected, atol=1e-12)
    assert m.spectrum_log_error(2 * e, e)[0, 0] == pytest.approx(math.log(2))


def test_histogram_w1_of_a_shift(fields):
    assert m.histogram_w1(fields + 0.6, fields) == pytest.approx(0.6 / fields.std(), rel=1e-6)


def test_horizons():
    curve = np.array([0.1, 0.2, 0.49, 0.5, 0.2, 2.0])
    assert m.first_crossing(curve, 0.5) == 3
    assert m.first_crossing(curve, 3.0) == 6
    assert m.first_crossing([0.1, np.nan, 0.1], 0.5) == 1
    assert m.first_crossing([0.99, 0.9, 0.7, 0.9], 0.8, below=True) == 2
    frames = np.ones((6, 1, 8))
    frames[4, 0, 2] = np.inf
    assert m.first_nonfinite(frames) == 4
    frames = np.ones((6, 2, 8))
    frames[3, 1] = 11.0
    assert m.envelope_exit(frames, [1.0, 2.0]) == 3
    assert m.envelope_exit(frames, [1.0, 3.0]) == 6
    drift = m.mass_drift(np.stack([np.ones((1, 8)), 1.5 * np.ones((1, 8))]))
    np.testing.assert_allclose(drift[:, 0], [0.0, 0.25])


def test_d_stsp_of_shifted_gaussians():
    """KL of N(0,1) to N(1,1) is 1/2; the binned estimate on many samples is close."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200000, 1))
    assert m.d_stsp_binned(a, a + 1.0) == pytest.approx(0.5, rel=0.1)
    # two independent samples of the same law: only the noise floor
    assert m.d_stsp_binned(a, rng.standard_normal((200000, 1))) < 0.01


def test_hellinger_separates_frequencies():
    t = np.arange(4096)[:, None]
    slow, fast = np.sin(0.05 * t), np.sin(1.0 * t)
    assert m.power_spectrum_hellinger(slow, fast) > 0.9
    assert m.power_spectrum_hellinger(slow, np.sin(0.05 * t + 1.0)) < 0.05


def test_two_true_trajectories_give_the_noise_floor():
    """Independent KS trajectories: D_stsp and D_H small; a wrong model: large."""
    system = make_system("ks1d", L=22.0, N=32)
    run = simulate(system, 1100.0, 0.25, 1.0, n_traj=2, seed=3, t_warmup=100.0)
    u = run.fields["u"]
    basis = m.pod(u[0], 2)
    a, b = m.project(u[0], basis), m.project(u[1], basis)
    floor_stsp = m.d_stsp_binned(a, b, n_bins=10)
    floor_h = m.power_spectrum_hellinger(a, b)
    frozen = np.repeat(u[1][:1], len(u[1]), 0) + 1e-3 * np.arange(len(u[1]))[:, None]
    assert floor_stsp < 0.5 * m.d_stsp_binned(a, m.project(frozen, basis), n_bins=10)
    assert floor_h < 0.3
    assert m.power_spectrum_hellinger(a, 0.5 * np.roll(a, 0, 0)) == pytest.approx(0, abs=1e-7)
    assert floor_h < m.power_spectrum_hellinger(a, m.project(frozen, basis))


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        m.nrmse(np.zeros((2, 1, 4)), np.zeros((2, 1, 5)))
    with pytest.raises(ValueError, match=r"D in 1\.\.5"):
        m.d_stsp_binned(np.zeros((10, 6)), np.zeros((10, 6)))
    assert m.d_stsp_gmm(np.zeros((4, 7)), np.full((4, 7), np.nan)) == math.inf


def test_histogram_w1_matches_scipy_for_unequal_samples():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(3000), rng.gamma(2.0, size=2000)
    expected = wasserstein_distance(a, b) / b.std()
    assert m.histogram_w1(a, b) == pytest.approx(expected, rel=1e-3)


def test_drift_time():
    n = 16
    x = 2 * np.pi * np.arange(n) / n
    frames = np.stack([np.cos(3 * x + 0.1 * t)[None] for t in range(40)])
    _, ref = m.energy_spectrum(frames)
    ref = ref.mean(0)
    assert m.drift_time(frames, ref, window=5) == 40
    grown = frames.copy()
    grown[20:] *= 2  # energy x4 > x2 from step 20 on
    assert m.drift_time(grown, ref, window=5) == 20
    grown[12, 0, 3] = np.nan
    assert m.drift_time(grown, ref, window=5) == 10
