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
    rows = np.array([curve, [0.1] * 6, [np.nan] * 6])  # one call for many curves
    assert m.first_crossing(rows, 0.5).tolist() == [3, 6, 0]
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


def waves(n_traj=3, n_t=40, n=16, scale=1.0, modes=(1,), period=10):
    """Travelling waves ``sum_k a_k cos(k x - w_k t + phase_b)`` with ``a_k = 1 / k`` and
    ``w_k = 2 pi k / period``: over full periods every statistic is known exactly."""
    x = 2 * np.pi * np.arange(n) / n
    t = np.arange(n_t)[:, None, None]
    phase = np.linspace(0, 2, n_traj)[:, None, None, None]
    u = sum(np.cos(k * x - 2 * np.pi * k * t / period + phase) / k for k in modes)
    return scale * u


def test_dealias_cutoff_and_spectrum_log2_error():
    assert m.dealias_cutoff((64,)) == 21 and m.dealias_cutoff((48, 32)) == 10
    u = waves(1, 4, n=32, modes=range(1, 11))[0]  # energy at k = 1..10
    _, e = m.energy_spectrum(u)
    _, e3 = m.energy_spectrum(u * math.sqrt(3))
    assert m.spectrum_log2_error(e3, e, 10)[0, 0] == pytest.approx(math.log2(3))
    assert m.spectrum_log2_error(e, e, 10)[0, 0] == 0
    # beyond k_max nothing counts; a missing wavenumber below it is infinitely off
    off = u + 5 * np.cos(12 * 2 * np.pi * np.arange(32) / 32)
    _, e_off = m.energy_spectrum(off)
    assert m.spectrum_log2_error(e_off, e, 10)[0, 0] == pytest.approx(0, abs=1e-9)
    assert m.spectrum_log2_error(e_off, e, 12)[0, 0] > 5
    _, e_cut = m.energy_spectrum(waves(1, 4, n=32, modes=range(1, 10))[0])
    assert m.spectrum_log2_error(e_cut, e, 10)[0, 0] > 50  # k = 10: round-off only
    assert m.spectrum_log2_error(0 * e, e, 10)[0, 0] == math.inf


def test_drift_time():
    n = 16
    x = 2 * np.pi * np.arange(n) / n
    frames = np.stack([np.cos(3 * x + 0.1 * t)[None] for t in range(40)])
    _, ref = m.energy_spectrum(frames)
    ref = ref.mean(0)
    assert m.drift_time(frames, ref, window=5) == 40  # the truth itself never drifts
    # energy x3 (> x2) everywhere: drifts in the first window
    assert m.drift_time(frames * math.sqrt(3), ref, window=5) == 0
    assert m.drift_time(frames * math.sqrt(1.9), ref, window=5) == 40
    grown = frames.copy()
    grown[20:] *= 2  # energy x4 > x2 from step 20 on
    assert m.drift_time(grown, ref, window=5) == 20
    grown[12, 0, 3] = np.nan
    assert m.drift_time(grown, ref, window=5) == 10
    # half a window grown: mean energy (1 + 4) / 2 = 2.5 > 2; the tail shorter than W
    assert m.drift_time(grown[:20], ref, window=8) == 8
    late = frames.copy()
    late[36:] *= 2
    assert m.drift_time(late, ref, window=6) == 40  # steps 36..39: an untested tail
    # a wavenumber below floor x peak does not count, nor one above k_max
    faint = frames + 1e-3 * np.cos(5 * x)
    _, ref_faint = m.energy_spectrum(faint)
    assert m.drift_time(frames, ref_faint.mean(0), window=5) == 40
    assert m.drift_time(frames, ref_faint.mean(0), window=5, floor=1e-8) == 0
    assert m.drift_time(frames, ref_faint.mean(0), window=5, floor=1e-8, k_max=4) == 40
    spectra = np.stack([m.energy_spectrum(f)[1] for f in (frames, grown, frames * 2)])
    np.testing.assert_array_equal(m.drift_times(spectra, ref, 5), [40, 10, 0])
    with pytest.raises(ValueError, match="window=0"):
        m.drift_times(spectra, ref, 0)


@pytest.fixture(scope="module")
def ks_long():
    """4 KS trajectories (L = 22, N = 64) of 2001 frames 1 time unit apart (~96 Λt)."""
    system = make_system("ks1d", L=22.0, N=64)
    run = simulate(system, 2000.0, 0.25, 1.0, n_traj=4, seed=3, t_warmup=100.0)
    return run.fields["u"][:, :, None]


def test_true_ks_trajectories_do_not_drift_with_the_calibrated_window(ks_long):
    """20 Lyapunov times (420 frames) is quiet; 1 Lyapunov time (21 frames) is noise."""
    b, t = ks_long.shape[:2]
    _, e = m.energy_spectrum(ks_long.reshape(b * t, 1, 64))
    e = e.reshape(b, t, 1, -1)
    ref = e.mean((0, 1))
    np.testing.assert_array_equal(m.drift_times(e, ref, 420, k_max=21), [t] * b)
    assert np.all(m.drift_times(e, ref, 21, k_max=21) < 200)
    # the same truth with its energy x3 drifts in the first window
    np.testing.assert_array_equal(m.drift_times(3 * e, ref, 420, k_max=21), [0] * b)


def test_collapse():
    true = waves(3, 40)
    # a cos(...) over full periods: temporal std a / sqrt(2) at every point
    np.testing.assert_allclose(m.collapse_ratio(0.4 * true, true), 0.4, rtol=1e-12)
    np.testing.assert_allclose(m.collapse_ratio(np.roll(true, 3, 1), true), 1.0, rtol=1e-12)
    assert m.collapsed(0.4 * true, true).tolist() == [True] * 3
    assert m.collapsed(0.6 * true, true).tolist() == [False] * 3
    assert not m.collapsed(true, true).any()
    frozen = np.repeat(true[:, :1], 40, 1)  # persistence: no temporal variability
    assert m.collapsed(frozen, true).all()
    mixed = true.copy()
    mixed[1] *= 0.1
    mixed[2, 30:] = np.nan  # non-finite: counted elsewhere, not as a collapse
    assert m.collapsed(mixed, true).tolist() == [False, True, False]
    assert np.isnan(m.collapse_ratio(mixed, true)[2, 0])
    # per field: one collapsed field is enough
    two = np.concatenate([true, true], 2)
    two_pred = np.concatenate([true, 0.2 * true], 2)
    np.testing.assert_allclose(m.collapse_ratio(two_pred, two)[0], [1.0, 0.2], rtol=1e-12)
    assert m.collapsed(two_pred, two).all()


def test_autocorrelation_hand_cases():
    # a travelling wave cos(k x - w t): ACF(tau) = cos(w tau) exactly
    u = waves(2, 60, period=12)
    tau = np.arange(11)
    np.testing.assert_allclose(
        m.autocorrelation(u, 10)[0], np.cos(2 * np.pi * tau / 12), atol=1e-12
    )
    # +-1 alternating in time: (-1)^tau; frozen in time (not in space): 1 at every lag
    alt = np.ones((2, 20, 1, 4)) * (-1.0) ** np.arange(20)[None, :, None, None]
    np.testing.assert_allclose(m.autocorrelation(alt, 5)[0], (-1.0) ** np.arange(6))
    frozen = np.repeat(u[:, :1], 60, 1)
    np.testing.assert_allclose(m.autocorrelation(frozen, 5), 1.0)
    np.testing.assert_allclose(m.autocorrelation(np.zeros((1, 5, 1, 3)), 2), 1.0)
    # errors: 0 for equal series, max |cos w1 tau - cos w2 tau| between two waves
    assert m.acf_error(u, u, 10) == pytest.approx(0, abs=1e-12)
    v = waves(2, 60, period=6)
    expected = np.abs(np.cos(2 * np.pi * tau / 12) - np.cos(2 * np.pi * tau / 6)).max()
    assert m.acf_error(v, u, 10) == pytest.approx(expected, abs=1e-12)
    assert m.acf_error(frozen, u, 10) == pytest.approx(2.0, abs=1e-12)  # 1 vs cos(pi) = -1
    bad = u.copy()
    bad[0, 3] = np.nan
    assert m.acf_error(bad, u, 4) == math.inf
    with pytest.raises(ValueError, match="max_lag=60"):
        m.autocorrelation(u, 60)


def test_pooled_hellinger():
    t = np.arange(2048)[:, None]
    slow, fast = np.sin(0.05 * t), np.sin(1.0 * t)
    single = m.power_spectrum_hellinger(slow, fast)
    assert m.power_spectrum_hellinger(slow[None], fast[None]) == pytest.approx(single)
    pooled = np.stack([slow, np.sin(0.05 * t + 1.0)])
    assert m.power_spectrum_hellinger(pooled, pooled[::-1]) == pytest.approx(0, abs=1e-6)
    # half of the pooled power in the wrong place: between 0 and the single-series value
    mixed = np.stack([slow, fast])
    assert 0.3 < m.power_spectrum_hellinger(pooled, mixed) < single
    # a frozen series (constant up to round-off) has no spectrum: D_H = 1, not white noise
    frozen = np.full((2, 2048, 1), 0.1) + 1e-17 * np.sin(3.0 * t)[None]
    assert m.power_spectrum_hellinger(pooled, frozen) == 1.0
