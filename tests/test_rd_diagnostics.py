"""Diagnostics of spiral-wave runs against closed forms and independent computations."""

import numpy as np
import pytest
import scipy.stats

from pdesim.diagnostics import (
    DEFAULT_BINS,
    classify_regime,
    excess_kurtosis,
    frame_statistics,
    isotropic_spectrum,
    mutual_information,
    phase_singularities,
    rotation_frequency,
    shannon_entropy,
)


def test_frame_statistics_are_per_frame_over_the_spatial_axes():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(5, 16, 12))
    stats = frame_statistics(frames)
    np.testing.assert_allclose(stats.std, [f.std() for f in frames])
    np.testing.assert_allclose(stats.mean, [f.mean() for f in frames])
    np.testing.assert_array_equal(stats.max, [f.max() for f in frames])
    np.testing.assert_array_equal(stats.min, [f.min() for f in frames])


def test_excess_kurtosis_is_fishers_computed_once():
    rng = np.random.default_rng(1)
    uniform = rng.uniform(size=400_000)
    assert abs(excess_kurtosis(uniform) + 1.2) < 0.01  # exact: -6/5
    assert abs(excess_kurtosis(rng.normal(size=400_000))) < 0.03  # exact: 0
    x = rng.exponential(size=1000)
    assert excess_kurtosis(x) == pytest.approx(scipy.stats.kurtosis(x), rel=1e-12)
    two_points = np.array([-1.0, 1.0] * 50)
    assert excess_kurtosis(two_points) == pytest.approx(-2.0)  # the lower bound
    with pytest.raises(ValueError, match="constant"):
        excess_kurtosis(np.ones(10))


def test_entropy_and_mutual_information_against_closed_forms():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=1_000_000)
    assert DEFAULT_BINS == 100
    assert abs(shannon_entropy(x) - np.log2(100)) < 1e-3
    assert shannon_entropy(x, bins=8) == pytest.approx(3.0, abs=1e-4)
    same = mutual_information(x, x)
    assert same.mi == pytest.approx(same.h_x, rel=1e-12) and same.nmi == pytest.approx(1.0)
    independent = mutual_information(x, rng.uniform(size=x.size))
    # Plug-in bias of MI for independent samples: (B - 1)² / (2 N ln 2) bits.
    assert 0 < independent.mi < 3 * 99**2 / (2 * x.size * np.log(2))
    with pytest.raises(ValueError, match="'bins'"):
        shannon_entropy(x, bins=1)


def test_classifier_labels_follow_rd_spirals_thresholds():
    rng = np.random.default_rng(3)
    base = np.full(500, 0.67)
    assert classify_regime(np.full(500, 0.005)).label == "HOMOGENEOUS"
    assert classify_regime(base).label == "STATIC EQUILIBRIUM"
    wobble = 0.67 + np.sin(np.arange(500) * 0.3)
    for amplitude, label in [
        (2e-5, "STATIC EQUILIBRIUM"),
        (5e-4, "DYNAMIC EQUILIBRIUM"),
        (5e-3, "QUASI-PERIODIC"),
        (5e-2, "NON-EQUILIBRIUM"),
    ]:
        series = base + amplitude * (wobble - 0.67)
        regime = classify_regime(series)
        assert regime.label == label and regime.window == 50
    short = classify_regime(rng.normal(0.5, 1e-6, size=30))
    assert short.window == 10  # at least 10 values, as rd-spiral
    with pytest.raises(ValueError, match="'std_series'"):
        classify_regime([np.nan, 1.0, 2.0])


def test_rotation_frequency_of_a_plane_wave_and_its_sign():
    t = np.linspace(0, 20, 201)
    x = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    omega = 0.8
    phase = x[None, :, None] - omega * t[:, None, None] + np.zeros((1, 1, 8))
    rotation = rotation_frequency(np.cos(phase), np.sin(phase), t)
    assert rotation.omega == pytest.approx(omega, rel=1e-12)
    assert rotation.residual < 1e-10 and rotation.period == pytest.approx(2 * np.pi / omega)
    reverse = rotation_frequency(np.cos(phase), -np.sin(phase), t)
    assert reverse.omega == pytest.approx(-omega, rel=1e-12)
    with pytest.raises(ValueError, match="'probe'"):
        rotation_frequency(np.cos(phase), np.sin(phase), t, probe=(16, 0))


def test_phase_singularities_count_placed_defects():
    n = 64
    x, y = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
    plus = (x - 20.3) + 1j * (y - 31.7)
    minus = np.conj((x - 44.1) + 1j * (y - 30.2))
    z = plus * minus / np.abs(plus * minus)
    defects = phase_singularities(z.real, z.imag, periodic=False)
    assert (int(defects.positive), int(defects.negative)) == (1, 1)
    batch = np.stack([z, np.conj(z), np.ones_like(z)])
    counts = phase_singularities(batch.real, batch.imag, periodic=False)
    np.testing.assert_array_equal(counts.positive, [1, 1, 0])
    np.testing.assert_array_equal(counts.charge, [0, 0, 0])


def test_isotropic_spectrum_obeys_parseval_and_finds_the_mode():
    lx, ly, nx, ny = 20.0, 10.0, 64, 32
    x, y = np.meshgrid(np.arange(nx) * lx / nx, np.arange(ny) * ly / ny, indexing="ij")
    field = 0.3 + np.cos(2 * np.pi * 3 * x / lx + 2 * np.pi * 2 * y / ly)
    k, spectrum = isotropic_spectrum(field, (lx, ly))
    assert spectrum.sum() == pytest.approx(np.mean(field**2), rel=1e-12)
    q = np.hypot(2 * np.pi * 3 / lx, 2 * np.pi * 2 / ly)
    peak = int(np.argmax(spectrum[1:])) + 1
    assert abs(k[peak] - q) <= (k[1] - k[0]) / 2
    assert spectrum[peak] == pytest.approx(0.5) and spectrum[0] == pytest.approx(0.09)
    rng = np.random.default_rng(4)
    noise = rng.normal(size=(3, nx, ny))
    _, batch = isotropic_spectrum(noise, (lx, ly))
    np.testing.assert_allclose(batch.sum(axis=-1), (noise**2).mean(axis=(-2, -1)))
