"""Pointwise statistics of fields: per-frame moments, excess kurtosis, entropy, mutual information.

* :func:`frame_statistics` -- mean, std (``ddof = 0``), min and max of every frame over
  its spatial axes (rd-spiral's ``stats.csv`` columns).
* :func:`excess_kurtosis` -- Fisher's excess kurtosis ``m4 / m2² - 3`` (biased moments,
  as ``scipy.stats.kurtosis`` by default). 3 is subtracted once: the rd-spiral paper's
  "excess kurtosis > 96" subtracted it a second time from scipy's already-excess value.
* :func:`shannon_entropy`, :func:`mutual_information` -- histogram estimates in bits with
  ``bins`` equal-width bins over each sample's own range (default :data:`DEFAULT_BINS`
  = 100, which reproduces the scale of the values in rd-spiral's companion analysis:
  ``H <= log2(100) = 6.64`` bits). ``MI = H(x) + H(y) - H(x, y)`` and
  ``NMI = MI / sqrt(H(x) H(y))``. Estimates depend on the bin count; compare values
  only at the same ``bins``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pdesim.validation import require_int

#: Histogram bins of the entropy estimates (see the module docstring).
DEFAULT_BINS = 100


@dataclass(frozen=True)
class FrameStatistics:
    """Per-frame ``mean``, ``std``, ``min``, ``max``, each shaped like the leading axes."""

    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray


def frame_statistics(frames: np.ndarray, ndim: int = 2) -> FrameStatistics:
    """Statistics over the last ``ndim`` (spatial) axes of ``frames``."""
    arr = np.asarray(frames, dtype=np.float64)
    ndim = require_int("ndim", ndim, ge=1, le=arr.ndim)
    axes = tuple(range(-ndim, 0))
    return FrameStatistics(
        mean=arr.mean(axis=axes),
        std=arr.std(axis=axes),
        min=arr.min(axis=axes),
        max=arr.max(axis=axes),
    )


def excess_kurtosis(x: np.ndarray) -> float:
    """Fisher's excess kurtosis ``m4 / m2² - 3`` of all values of ``x`` (0 for a Gaussian)."""
    values = np.asarray(x, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"parameter 'x' needs at least 2 values, got {values.size}")
    centred = values - values.mean()
    m2 = np.mean(centred**2)
    if m2 == 0:
        raise ValueError("parameter 'x' is constant: its kurtosis is undefined")
    return float(np.mean(centred**4) / m2**2 - 3.0)


def _entropy_of_counts(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def shannon_entropy(x: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Shannon entropy (bits) of the values of ``x`` in ``bins`` equal-width bins."""
    bins = require_int("bins", bins, ge=2)
    counts, _ = np.histogram(np.asarray(x, dtype=np.float64).ravel(), bins=bins)
    return _entropy_of_counts(counts)


@dataclass(frozen=True)
class MutualInformation:
    """Histogram entropies (bits) of two samples, their mutual and normalised information."""

    h_x: float
    h_y: float
    h_xy: float
    mi: float
    nmi: float
    bins: int


def mutual_information(x: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> MutualInformation:
    """``MI = H(x) + H(y) - H(x, y)`` from a ``bins x bins`` joint histogram (bits)."""
    bins = require_int("bins", bins, ge=2)
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"parameters 'x' and 'y' need as many values, got {a.size} and {b.size}")
    joint, _, _ = np.histogram2d(a, b, bins=bins)
    h_x = _entropy_of_counts(joint.sum(axis=1))
    h_y = _entropy_of_counts(joint.sum(axis=0))
    h_xy = _entropy_of_counts(joint.ravel())
    mi = h_x + h_y - h_xy
    nmi = mi / np.sqrt(h_x * h_y) if h_x > 0 and h_y > 0 else 0.0
    return MutualInformation(h_x, h_y, h_xy, mi, float(nmi), bins)
