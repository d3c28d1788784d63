"""A frame sink that keeps what a regime summary needs while passing every frame on.

:class:`RegimeRecorder` wraps another sink (memory or :class:`pdesim.io.WellWriter`)
and keeps, per trajectory and saved frame, the spatial std of every field and the
fields' values at one probe point, plus the last frame -- a few numbers per frame,
so a streamed run's memory stays bounded. It is also an observer
(:mod:`pdesim.observers`): ``RegimeRecorder()`` without a sink, given in
``simulate(..., observers=[recorder])``, records the same at its cadence (default: the
saved frames; ``every=`` steps or ``interval=`` time) and is checkpointed as an observer.
:func:`regime_report` turns them into
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


class RegimeRecorder:
    """A sink wrapper (or, without a sink, an observer) recording per-frame std, probe
    values and the last frame.

    Parameters
    ----------
    sink: the sink to pass frames on to; None for the observer use only.
    probe: the grid point of the probe values (default: a quarter of each axis).
    every, interval: the cadence as an observer (see :class:`pdesim.observers.Observer`).
    """

    def __init__(
        self,
        sink: Any = None,
        probe: tuple[int, ...] | None = None,
        *,
        every: int | None = None,
        interval: float | None = None,
    ) -> None:
        self.sink = sink
        self.probe = probe
        self.every = every
        self.interval = interval
        self.t: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self.last: np.ndarray | None = None

    def open(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        self.sink.open(system, n_traj, t)
        self._start(system, n_traj, t)

    def _start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        shape = system.grid.shape
        self.probe = tuple(n // 4 for n in shape) if self.probe is None else tuple(self.probe)
        self.t = np.asarray(t, dtype=np.float64)
        self.std = np.full((n_traj, len(t), system.n_fields), np.nan)
        self.values = np.full((n_traj, len(t), system.n_fields), np.nan)
        self.last = np.zeros((n_traj, system.n_fields, *shape))

    def memory_bytes(self, system: Any, n_traj: int, n_frames: int) -> int:
        """Bytes :meth:`open` will allocate: the wrapped sink's (if it says), the two
        per-frame numbers of every field and the last frame (float64)."""
        sized = getattr(self.sink, "memory_bytes", None)
        inner = sized(system, n_traj, n_frames) if callable(sized) else 0
        fields = system.n_fields
        return inner + 8 * n_traj * fields * (2 * n_frames + system.grid.size)

    def start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Observer: prepare for ``n_traj`` trajectories observed at times ``t``."""
        self._start(system, n_traj, t)

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Observer: record the batch ``fields`` of ``trajectories`` at ``t = self.t[index]``."""
        self._record(trajectories.start, index, fields)

    def finish(self) -> None:
        """Observer: nothing to do."""

    def get_state(self) -> dict[str, Any]:
        """Observer: what a checkpoint keeps (the records so far)."""
        return {"std": self.std, "values": self.values, "last": self.last}

    def set_state(self, state: dict[str, Any]) -> None:
        """Observer: continue from :meth:`get_state`'s records (after :meth:`start`)."""
        self.std[...] = state["std"]
        self.values[...] = state["values"]
        self.last[...] = state["last"]

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        self.sink.write(first, index, frame)
        self._record(first, index, frame)

    def _record(self, first: int, index: int, frame: np.ndarray) -> None:
        stop = first + frame.shape[0]
        axes = tuple(range(2, frame.ndim))
        self.std[first:stop, index] = frame.std(axis=axes)
        self.values[first:stop, index] = frame[(slice(None), slice(None), *self.probe)]
        if index == len(self.t) - 1:
            self.last[first:stop] = frame

    def close(self, run: Any) -> None:
        self.sink.close(run)

    def abort(self) -> None:
        self.sink.abort()

    def checkpoint_data(self) -> dict[str, Any]:
        return {
            **self.sink.checkpoint_data(),
            "recorder_std": self.std,
            "recorder_values": self.values,
            "recorder_last": self.last,
        }

    def resume(self, system: Any, n_traj: int, t: np.ndarray, data: dict[str, Any]) -> None:
        inner = {k: v for k, v in data.items() if not k.startswith("recorder_")}
        self.sink.resume(system, n_traj, t, inner)
        self._start(system, n_traj, t)
        self.std[...] = data["recorder_std"]
        self.values[...] = data["recorder_values"]
        self.last[...] = data["recorder_last"]

    def suspend(self) -> None:
        self.sink.suspend()


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
