"""Cross-correlation and Kuramoto order parameter on series with known answers."""

import numpy as np
import pytest

from pdesim.diagnostics import (
    cross_correlation,
    kuramoto_order_parameter,
    network_cross_correlation,
)


def test_cross_correlation_of_copies_negatives_and_independent_noise():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(5000)
    x = np.stack([base, 2 * base + 1, -base, rng.standard_normal(5000)], axis=1)
    gamma = cross_correlation(x)
    np.testing.assert_allclose(gamma[:3], [1.0, 1.0, -1.0], atol=1e-12)
    assert abs(gamma[3]) < 0.05
    assert network_cross_correlation(x) == pytest.approx(np.mean(gamma[1:]))
    assert cross_correlation(x, reference=3)[3] == pytest.approx(1.0)


def test_kuramoto_of_phase_oscillators():
    n = np.arange(4000)[:, None]
    omega = 0.3
    same = 2 * np.pi * 0.05 * n + np.zeros((1, 5))
    splay = omega * n + 2 * np.pi * np.arange(5) / 5
    for theta, expected in [(same, 1.0), (splay, 0.0)]:
        x, y = 0.5 + np.cos(theta), 2.0 + np.sin(theta)  # offsets: the naive phase is biased
        assert kuramoto_order_parameter(x, y) == pytest.approx(expected, abs=1e-3)
    x, y = 0.5 + np.cos(splay), 2.0 + np.sin(splay)
    assert kuramoto_order_parameter(x, y, phase="naive") > 0.8


def test_spike_phases_follow_the_threshold_crossings():
    n = np.arange(3000)
    period = 40
    shifts = np.array([0, 10, 20, 30])  # a quarter period apart: splay, R = 0
    x = np.stack([np.sin(2 * np.pi * (n - s) / period) for s in shifts], axis=1)
    assert kuramoto_order_parameter(x, phase="spike") == pytest.approx(0.0, abs=0.02)
    x = np.stack([np.sin(2 * np.pi * (n - 3 * j) / period) ** 3 for j in range(4)], axis=1)
    expected = abs(np.exp(2j * np.pi * 3 * np.arange(4) / period).mean())
    assert kuramoto_order_parameter(x, phase="spike") == pytest.approx(expected, abs=0.01)


def test_bad_synchrony_input():
    with pytest.raises(ValueError, match="'phase'"):
        kuramoto_order_parameter(np.ones((10, 3)), np.ones((10, 3)), phase="hilbert")
    with pytest.raises(ValueError, match="'y'"):
        kuramoto_order_parameter(np.ones((10, 3)))
    with pytest.raises(ValueError, match="constant"):
        cross_correlation(np.ones((10, 3)))
    with pytest.raises(ValueError, match="fewer than twice"):
        kuramoto_order_parameter(np.arange(30.0).reshape(10, 3), phase="spike")
    with pytest.raises(ValueError, match="'x'"):
        network_cross_correlation(np.ones(10))
