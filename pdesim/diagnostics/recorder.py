"""An observer that keeps what a regime summary needs.

:class:`RegimeRecorder` is an observer (:mod:`pdesim.observers`): given in
``simulate(..., observers=[recorder])``, it keeps, per trajectory and observation time
(default: the saved frames; ``every=`` steps or ``interval=`` time), the spatial std of
every field and the fields' values at one probe point, plus the fields at the last
time -- a few numbers per frame, so a run streamed to a file (``sink=``) keeps its
memory bounded. It is checkpointed as an observer, so a resumed run's records equal an
uninterrupted one's. :func:`regime_report` turns them into
lines, from what the system declares: the label of its regime classifier
(``System.regime_classifier``) on the std of the first field and, for systems with a
phase pair (``System.phase_fields``), the rotation frequency at the probe and the
phase singularities of the last frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdesim.diagnostics.regimes import (
    REGIME_CLASSIFIERS,
    phase_singularities,
    regime_window,
    rotation_frequency,
)
from pdesim.observers import Observer


class RegimeRecorder(Observer):
    """An observer recording per-time std, probe values and the fields at the last time.

    Parameters
    ----------
    probe: the grid point of the probe values (default: a quarter of each axis).
    every, interval: the cadence (see :class:`pdesim.observers.Observer`; default: the
        saved frames).

    After :meth:`start`, ``t`` holds the ``n_times`` observation times, ``std`` and
    ``values`` are ``(n_traj, n_times, n_fields)`` (NaN where nothing was observed) and
    ``last`` is ``(n_traj, n_fields, *space)``.
    """

    def __init__(
        self,
        probe: tuple[int, ...] | None = None,
        *,
        every: int | None = None,
        interval: float | None = None,
    ) -> None:
        super().__init__(every=every, interval=interval)
        self.probe = probe
        self.t: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self.last: np.ndarray | None = None

    def start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Prepare for ``n_traj`` trajectories observed at times ``t``."""
        shape = system.grid.shape
        self.probe = tuple(n // 4 for n in shape) if self.probe is None else tuple(self.probe)
        self.t = np.asarray(t, dtype=np.float64)
        self.std = np.full((n_traj, len(t), system.n_fields), np.nan)
        self.values = np.full((n_traj, len(t), system.n_fields), np.nan)
        self.last = np.zeros((n_traj, system.n_fields, *shape))

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Record the batch ``fields`` of ``trajectories`` at ``t = self.t[index]``."""
        first, stop = trajectories.start, trajectories.start + fields.shape[0]
        axes = tuple(range(2, fields.ndim))
        self.std[first:stop, index] = fields.std(axis=axes)
        self.values[first:stop, index] = fields[(slice(None), slice(None), *self.probe)]
        if index == len(self.t) - 1:
            self.last[first:stop] = fields

    def get_state(self) -> dict[str, Any]:
        """What a checkpoint keeps (the records so far)."""
        return {"std": self.std, "values": self.values, "last": self.last}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`get_state`'s records (after :meth:`start`)."""
        self.std[...] = state["std"]
        self.values[...] = state["values"]
        self.last[...] = state["last"]


def regime_report(recorder: RegimeRecorder, system: Any, max_lines: int = 8) -> list[str]:
    """One line per trajectory (at most ``max_lines``): the label and window statistics
    of the system's regime classifier and, for systems with a phase pair, rotation
    frequency and phase singularities. No lines for a system that declares neither."""
    classifier = system.regime_classifier
    phase = system.phase_fields
    if classifier is None and phase is None:
        return []
    if recorder.std is None or recorder.std.shape[1] < 3:
        return ["regime: too few saved frames to classify (need >= 3)"]
    first = system.field_names[0]
    n_window = regime_window(recorder.std.shape[1])
    lines: list[str] = []
    for i in range(min(recorder.std.shape[0], max_lines)):
        details = []
        if classifier is not None:
            regime = REGIME_CLASSIFIERS[classifier](recorder.std[i, :, 0])
            details.append(
                f"{regime.label} ({classifier} classifier on std({first}) over the "
                f"last {regime.window} frames: mean {regime.mean:.4g}, "
                f"variation {regime.variation:.2g})"
            )
        if phase is not None:
            j, k = (system.field_names.index(name) for name in phase)
            window = slice(-n_window, None)
            series = recorder.values[i, window]
            rotation = rotation_frequency(
                series[:, j : j + 1], series[:, k : k + 1], recorder.t[window]
            )
            defects = phase_singularities(
                recorder.last[i, j], recorder.last[i, k], periodic=system.grid.periodic
            )
            details.append(
                f"rotation omega = {rotation.omega:.4g} at grid point {recorder.probe} "
                f"(phase-fit residual {rotation.residual:.2g} rad); phase singularities at "
                f"t = {recorder.t[-1]:g}: +{int(defects.positive)} / -{int(defects.negative)}"
            )
        lines.append(f"trajectory {i}: " + "; ".join(details))
    if recorder.std.shape[0] > max_lines:
        lines.append(f"... and {recorder.std.shape[0] - max_lines} more trajectories")
    return lines
