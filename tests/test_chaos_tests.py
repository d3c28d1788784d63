"""The 0-1 test for chaos and sample entropy against known values."""

import numpy as np
import pytest
from scipy.special import erf

from pdesim.diagnostics import sample_entropy, zero_one_test
from pdesim.maps import ChialvoMap, step


def logistic(r: float, n: int = 5000, x: float = 0.3) -> np.ndarray:
    for _ in range(1000):
        x = r * x * (1 - x)
    out = np.empty(n)
    for i in range(n):
        x = r * x * (1 - x)
        out[i] = x
    return out


def chialvo(m: ChialvoMap, n: int = 5000) -> np.ndarray:
    x, y = 0.1, 0.1
    for _ in range(2000):
        x, y = step(x, y, m.a, m.b, m.c, m.k)
    out = np.empty(n)
    for i in range(n):
        x, y = step(x, y, m.a, m.b, m.c, m.k)
        out[i] = x
    return out


@pytest.mark.parametrize("r", [3.9, 4.0])
def test_zero_one_test_detects_chaos_in_the_logistic_map(r):
    assert zero_one_test(logistic(r)) > 0.9


@pytest.mark.parametrize("r", [3.55, 3.83])  # period 8, and the period-3 window
def test_zero_one_test_is_zero_for_periodic_logistic_orbits(r):
    assert abs(zero_one_test(logistic(r))) < 0.1


def test_zero_one_test_on_chialvo_regimes():
    assert zero_one_test(chialvo(ChialvoMap(b=0.18, k=0.03))) > 0.9  # chaotic preset
    assert abs(zero_one_test(chialvo(ChialvoMap(b=0.6, k=0.04)))) < 0.1  # quasi-periodic


def test_zero_one_test_matches_a_direct_loop_over_lags():
    """The FFT evaluation of M_c(n) against the definition, for a few c."""
    phi = logistic(4.0, 600)
    phi = phi - phi.mean()
    c = np.random.default_rng(0).uniform(np.pi / 5, 4 * np.pi / 5, 5)
    ks = []
    for cc in c:
        j = np.arange(1, phi.size + 1)
        p, q = np.cumsum(phi * np.cos(j * cc)), np.cumsum(phi * np.sin(j * cc))
        lags = np.arange(1, 61)
        m = [np.mean((p[n:] - p[:-n]) ** 2 + (q[n:] - q[:-n]) ** 2) for n in lags]
        ks.append(np.corrcoef(lags, m)[0, 1])
    assert zero_one_test(phi, n_c=5, seed=0, n_cut=60) == pytest.approx(np.median(ks), abs=1e-10)


def test_sample_entropy_of_gaussian_noise_is_minus_log_erf():
    expected = -np.log(erf(0.1))  # P(|X - Y| <= 0.2 std) for X, Y i.i.d. normal
    assert expected == pytest.approx(2.185, abs=1e-3)
    noise = np.random.default_rng(0).standard_normal(2000)
    assert sample_entropy(noise) == pytest.approx(expected, abs=0.05)


def test_sample_entropy_of_uniform_noise():
    r = 0.2 / np.sqrt(12)  # 0.2 std of U(0, 1)
    expected = -np.log(2 * r - r * r)
    noise = np.random.default_rng(1).uniform(size=2000)
    assert sample_entropy(noise) == pytest.approx(expected, abs=0.05)


def test_sample_entropy_is_low_for_a_sine_and_matches_brute_force():
    sine = np.sin(2 * np.pi * np.arange(2000) / 20)
    assert sample_entropy(sine) < 0.5
    x = np.random.default_rng(2).standard_normal(300)
    tol = 0.2 * x.std()
    n = x.size - 2
    t2 = np.array([x[i : i + 2] for i in range(n)])
    t3 = np.array([x[i : i + 3] for i in range(n)])
    d2 = np.abs(t2[:, None] - t2[None]).max(axis=-1)
    d3 = np.abs(t3[:, None] - t3[None]).max(axis=-1)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    brute = -np.log((d3[upper] <= tol).sum() / (d2[upper] <= tol).sum())
    assert sample_entropy(x) == pytest.approx(brute, rel=1e-12)


def test_bad_series():
    with pytest.raises(ValueError, match="'series'"):
        zero_one_test(np.ones(50))
    with pytest.raises(ValueError, match="constant"):
        zero_one_test(np.ones(500))
    with pytest.raises(ValueError, match="non-finite"):
        sample_entropy([1.0, np.nan] * 20)
    with pytest.raises(ValueError, match="'r'"):
        sample_entropy(np.arange(100.0), r=0.0)
