"""Regimes of spiral-wave fields: rd-spiral's classifier, rotation, defects, spectra.

* :func:`classify_regime` -- rd-spiral's equilibrium classifier (``core/solver.py``,
  ``_analyze_equilibrium``) on the time series of the spatial std of ``u``: over the
  last ``max(int(0.1 T), 10)`` values, with ``mean`` and ``variation`` (sample std,
  ``ddof = 1`` as pandas) of that window::

      mean < 0.01          -> HOMOGENEOUS          (pattern decayed)
      variation < 1e-4     -> STATIC EQUILIBRIUM
      variation < 1e-3     -> DYNAMIC EQUILIBRIUM  (steady rotation)
      variation < 1e-2     -> QUASI-PERIODIC
      otherwise            -> NON-EQUILIBRIUM      (chaotic / turbulent)

  (absolute thresholds, as in rd-spiral, so they mean something only for its system:
  :data:`REGIME_CLASSIFIERS` names it ``"rd-spiral"``, and a system that it applies
  to says so with ``System.regime_classifier``).
* :func:`rotation_frequency` -- angular frequency ``omega`` of ``z = u + i v`` at a probe,
  ``z ~ exp(-i omega t)``: ``omega = -d arg z / dt`` from a least-squares line through
  the unwrapped phase, with the residual as a measure of (non-)uniformity. For
  rd-spiral's system the uniform oscillation has ``omega = beta``.
* :func:`phase_singularities` -- phase defects (spiral cores) of ``z``: the winding
  number of ``arg z`` around every grid plaquette (periodic wrap optional).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HOMOGENEOUS = "HOMOGENEOUS"
STATIC_EQUILIBRIUM = "STATIC EQUILIBRIUM"
DYNAMIC_EQUILIBRIUM = "DYNAMIC EQUILIBRIUM"
QUASI_PERIODIC = "QUASI-PERIODIC"
NON_EQUILIBRIUM = "NON-EQUILIBRIUM"
REGIME_LABELS = (
    HOMOGENEOUS,
    STATIC_EQUILIBRIUM,
    DYNAMIC_EQUILIBRIUM,
    QUASI_PERIODIC,
    NON_EQUILIBRIUM,
)


@dataclass(frozen=True)
class Regime:
    """A classifier verdict and the window statistics it rests on."""

    label: str
    window: int
    mean: float
    variation: float
    range: float


def regime_window(n_frames: int) -> int:
    """Frames of the window rd-spiral's classifier reads: the last ``max(int(0.1 T), 10)``
    of ``T = n_frames`` (all of them when fewer)."""
    return min(n_frames, max(int(0.1 * n_frames), 10))


def classify_regime(std_series: np.ndarray) -> Regime:
    """rd-spiral's label for the spatial-std time series ``std_series`` (module docstring)."""
    series = np.asarray(std_series, dtype=np.float64).ravel()
    if series.size < 2 or not np.isfinite(series).all():
        raise ValueError(
            f"parameter 'std_series' must hold >= 2 finite values, got {series.size} values"
        )
    window = regime_window(series.size)
    tail = series[-window:]
    mean = float(tail.mean())
    variation = float(tail.std(ddof=1))
    if mean < 0.01:
        label = HOMOGENEOUS
    elif variation < 1e-4:
        label = STATIC_EQUILIBRIUM
    elif variation < 1e-3:
        label = DYNAMIC_EQUILIBRIUM
    elif variation < 1e-2:
        label = QUASI_PERIODIC
    else:
        label = NON_EQUILIBRIUM
    return Regime(label, window, mean, variation, float(tail.max() - tail.min()))


#: Regime classifiers by the name a system declares in ``System.regime_classifier``;
#: each labels the time series of the spatial std of the system's first field.
REGIME_CLASSIFIERS: dict[str, Callable[[np.ndarray], Regime]] = {"rd-spiral": classify_regime}


@dataclass(frozen=True)
class Rotation:
    """``omega`` (rad per unit time, ``z ~ exp(-i omega t)``) and the phase-fit residual."""

    omega: float
    residual: float
    probe: tuple[int, ...]

    @property
    def period(self) -> float:
        return float(2 * np.pi / abs(self.omega)) if self.omega else float("inf")


def rotation_frequency(
    u: np.ndarray, v: np.ndarray, t: np.ndarray, probe: tuple[int, ...] | None = None
) -> Rotation:
    """Angular frequency of ``u + i v`` at grid point ``probe`` over frames ``(T, *space)``.

    ``probe`` defaults to the point a quarter of the way along every axis (away from the
    centre, where rd-spiral's spiral core sits). Frames must be dense enough that the
    phase moves by less than pi between them.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if u.shape != v.shape or u.ndim < 2 or t.shape != u.shape[:1] or t.size < 3:
        raise ValueError(
            "parameters 'u', 'v' must be frames (T, *space) of one shape with T = len(t) >= 3, "
            f"got {u.shape}, {v.shape} and {t.shape}"
        )
    space = u.shape[1:]
    probe = tuple(n // 4 for n in space) if probe is None else tuple(probe)
    if len(probe) != len(space) or any(not 0 <= i < n for i, n in zip(probe, space, strict=True)):
        raise ValueError(f"parameter 'probe' must index a point of {space}, got {probe}")
    phase = np.unwrap(np.arctan2(v[(slice(None), *probe)], u[(slice(None), *probe)]))
    slope, intercept = np.polyfit(t, phase, 1)
    residual = float(np.sqrt(np.mean((phase - (slope * t + intercept)) ** 2)))
    return Rotation(float(-slope), residual, probe)


@dataclass(frozen=True)
class Defects:
    """Counts of phase singularities of charge +1 and -1 (shaped like the leading axes)."""

    positive: np.ndarray
    negative: np.ndarray

    @property
    def count(self) -> np.ndarray:
        return self.positive + self.negative

    @property
    def charge(self) -> np.ndarray:
        return self.positive - self.negative


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def phase_singularities(
    u: np.ndarray,
    v: np.ndarray,
    periodic: bool = True,
    center: tuple[float, float] = (0.0, 0.0),
) -> Defects:
    """Phase defects of ``(u - u*) + i (v - v*)`` over the last two axes.

    The winding number of the phase around each plaquette (sum of the wrapped phase
    differences along its four edges over ``2 pi``) is +1, -1 or 0; ``periodic`` wraps
    the plaquettes across the box edges, otherwise only interior plaquettes count.
    ``center = (u*, v*)`` is the state the phase is measured around (the origin for
    rd-spiral's lambda-omega system).
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.shape != v.shape or u.ndim < 2:
        raise ValueError(f"parameters 'u', 'v' must be 2-D fields of one shape, got {u.shape}")
    phase = np.arctan2(v - center[1], u - center[0])
    if periodic:
        right = np.roll(phase, -1, axis=-2)
        up = np.roll(phase, -1, axis=-1)
        diag = np.roll(right, -1, axis=-1)
        base = phase
    else:
        base = phase[..., :-1, :-1]
        right = phase[..., 1:, :-1]
        up = phase[..., :-1, 1:]
        diag = phase[..., 1:, 1:]
    winding = _wrap(right - base) + _wrap(diag - right) + _wrap(up - diag) + _wrap(base - up)
    charge = np.rint(winding / (2 * np.pi)).astype(int)
    return Defects((charge > 0).sum(axis=(-2, -1)), (charge < 0).sum(axis=(-2, -1)))
