"""Synchrony of node time series: cross-correlation to a reference node, Kuramoto order.

Series are arrays ``(time, node)`` (e.g. ``run.fields["x"][trajectory]``).

**Cross-correlation coefficient** (as in the ring-star papers of Shepelev, Bukh,
Muni and co-workers): with ``x~ = x - <x>_t``::

    Gamma_{r,i} = <x~_r x~_i> / sqrt(<x~_r^2> <x~_i^2>),   Gamma = mean_{i != r} Gamma_{r,i}

(``r`` the reference node, the centre 0 by default; ``Gamma = 1`` is complete synchrony).

**Kuramoto order parameter** ``R = < |(1/N) sum_j exp(i theta_j(n))| >_n``. The phase
definition matters and is a parameter:

* ``"centred"`` (default): ``theta_j = atan2(y_j - <y_j>, x_j - <x_j>)``, the angle
  around each node's own time-mean, which needs the second variable ``y``;
* ``"spike"``: ``theta_j(n) = 2 pi (m + (n - n_m) / (n_{m+1} - n_m))`` between
  successive upward crossings ``n_m`` of ``x_j`` through ``threshold`` (default: the
  node's time-mean); only times between every node's first and last crossing count;
* ``"naive"``: ``theta_j = atan2(y_j, x_j)``. For Chialvo neurons ``x, y`` are mostly
  positive, the angles cluster and ``R ~ 0.95`` even for uncoupled nodes: offered
  only to reproduce that bias.
"""

from __future__ import annotations

import numpy as np

from pdesim.validation import require_choice, require_int, require_real

PHASES = ("centred", "spike", "naive")


def _nodes(name: str, values, min_time: int = 2) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < min_time or arr.shape[1] < 2:
        raise ValueError(
            f"parameter {name!r} must be an array (time, node) with >= {min_time} times and "
            f">= 2 nodes, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"parameter {name!r} contains non-finite values")
    return arr


def cross_correlation(x, reference: int = 0) -> np.ndarray:
    """``Gamma_{r,i}`` for every node ``i`` (1 at the reference itself), shape ``(node,)``."""
    x = _nodes("x", x)
    r = require_int("reference", reference, ge=0, le=x.shape[1] - 1)
    dev = x - x.mean(axis=0)
    var = (dev**2).mean(axis=0)
    if np.any(var == 0):
        raise ValueError(
            f"node(s) {np.nonzero(var == 0)[0].tolist()} are constant in time: the "
            "cross-correlation is undefined"
        )
    return (dev * dev[:, r : r + 1]).mean(axis=0) / np.sqrt(var * var[r])


def network_cross_correlation(x, reference: int = 0) -> float:
    """``Gamma``: the mean of ``Gamma_{r,i}`` over the nodes ``i != r``."""
    gamma = cross_correlation(x, reference)
    return float(np.delete(gamma, reference).mean())


def _spike_phases(x: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, slice]:
    n_time, n_nodes = x.shape
    phases = np.empty_like(x)
    first, last = 0, n_time
    t = np.arange(n_time)
    for j in range(n_nodes):
        above = x[:, j] >= threshold[j]
        ups = np.nonzero(~above[:-1] & above[1:])[0] + 1
        if ups.size < 2:
            raise ValueError(
                f"node {j} crosses the spike threshold {threshold[j]:.3g} fewer than twice: "
                "spike phases are undefined (use phase='centred')"
            )
        phases[:, j] = 2 * np.pi * np.interp(t, ups, np.arange(ups.size))
        first, last = max(first, ups[0]), min(last, ups[-1] + 1)
    if last - first < 2:
        raise ValueError("the nodes' spike trains do not overlap in time")
    return phases, slice(first, last)


def kuramoto_order_parameter(
    x,
    y=None,
    phase: str = "centred",
    threshold: float | None = None,
) -> float:
    """Time-averaged Kuramoto order parameter ``R`` in ``[0, 1]`` (see the module docstring).

    ``x``, ``y``: arrays ``(time, node)``; ``y`` is required for ``"centred"`` and
    ``"naive"`` phases. ``threshold``: spike threshold for ``"spike"`` phases
    (default: each node's time-mean of ``x``).
    """
    require_choice("phase", phase, PHASES)
    x = _nodes("x", x, min_time=3)
    if phase == "spike":
        level = (
            x.mean(axis=0)
            if threshold is None
            else np.full(x.shape[1], require_real("threshold", threshold))
        )
        theta, window = _spike_phases(x, level)
        theta = theta[window]
    else:
        if y is None:
            raise ValueError(f"phase={phase!r} needs the second variable 'y'")
        y = _nodes("y", y, min_time=3)
        if y.shape != x.shape:
            raise ValueError(f"'x' and 'y' must have the same shape, got {x.shape} and {y.shape}")
        if phase == "centred":
            theta = np.arctan2(y - y.mean(axis=0), x - x.mean(axis=0))
        else:
            theta = np.arctan2(y, x)
    return float(np.abs(np.exp(1j * theta).mean(axis=1)).mean())
