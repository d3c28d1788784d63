"""Observers: objects that :func:`pdesim.simulate` calls during a run, at their own cadence.

An observer is what py-pde calls a *tracker* and Dedalus an *analysis handler*: it is
given the physical fields at the times it asked for and keeps (or shows) whatever it
derives from them. The cycle is

- ``start(system, n_traj, t)`` once, before the run, with the times ``t`` it will
  observe (optional method);
- ``observe(t, fields, trajectories, index)`` at each of those times, for each batch of
  trajectories: ``fields`` is a read-only ``(batch, field, *space)`` float64 array (what
  ``stepper.to_fields`` gives), ``trajectories`` the ``slice`` of the run's trajectory
  indices in the batch (``0 .. n_traj - 1``) and ``index`` the position of ``t`` in the
  times given to ``start``;
- ``finish()`` once, after a successful run (optional method).

The driver runs batch after batch, so the calls go through all times of trajectories
``0..b-1``, then all times of ``b..2b-1``, and so on.

Cadence: the attribute ``every`` (a whole number of steps, like Dedalus' ``iter``) or
``interval`` (time units, a whole multiple of ``dt``, like Dedalus' ``sim_dt`` or
py-pde's ``interrupts``); with neither, the observer follows the saved frames
(``save_every``). Observation times are ``t_warmup, t_warmup + c, ...`` up to ``t_end``
(the same window as the saved frames, so times an observer shares with the frames are
equal floats when its cadence equals ``save_every`` or is given as ``interval``).

Observers see frames that passed the stepper's finiteness check; the system's frame
check (:meth:`System.frame_problems`) runs on saved frames only.

Checkpoints: an observer with ``get_state() -> dict`` (arrays and JSON-able values) and
``set_state(state)`` is saved with a checkpointed run and, on resume, continues where it
was (given after ``start``, if the checkpoint holds an observer of the same type and
cadence at the same place in the list). The built-ins have both; an observer without
them sees only the resumed part.

Built-ins: :class:`ScalarSeries` (energy, mass, norms or a user function, one number per
trajectory and time) and :class:`LivePlot` (a matplotlib figure updated during the run;
matplotlib is imported only when one starts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

Quantity = Callable[[np.ndarray], np.ndarray]
"""``f(fields) -> (batch,)`` for ``fields`` of shape ``(batch, field, *space)``."""


@runtime_checkable
class ObserverProtocol(Protocol):
    """What :func:`pdesim.simulate` needs of an observer (``start``/``finish`` optional)."""

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Look at ``fields`` (batch, field, *space) of ``trajectories`` at time ``t``."""


class Observer:
    """Base class of observers: holds the cadence; ``start`` and ``finish`` do nothing.

    Parameters
    ----------
    every: observe every this many steps (an int >= 1).
    interval: observe every this many time units (a whole multiple of ``dt``).

    Give at most one; with neither, the observer follows the saved frames.
    """

    def __init__(self, *, every: int | None = None, interval: float | None = None) -> None:
        self.every = every
        self.interval = interval

    def start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Prepare for ``n_traj`` trajectories observed at times ``t``."""

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Look at ``fields`` (batch, field, *space) of ``trajectories`` at ``t = times[index]``."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after a successful run."""


def _space_axes(fields: np.ndarray) -> tuple[int, ...]:
    return tuple(range(1, fields.ndim))


#: Built-in quantities of one field ``u`` (batch, *space): each returns (batch,).
QUANTITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "energy": lambda u: np.mean(u * u, axis=_space_axes(u)),
    "mass": lambda u: np.mean(u, axis=_space_axes(u)),
    "l2": lambda u: np.sqrt(np.mean(u * u, axis=_space_axes(u))),
    "linf": lambda u: np.max(np.abs(u), axis=_space_axes(u)),
}
"""``energy`` = mean of u², ``mass`` = mean of u, ``l2`` = sqrt(mean u²) (the L2 norm over
the square root of the domain's volume), ``linf`` = max |u|; means over grid points."""


class ScalarSeries(Observer):
    """One number per trajectory and observation time: a built-in quantity or ``f(fields)``.

    Parameters
    ----------
    quantity: one of ``"energy"``, ``"mass"``, ``"l2"``, ``"linf"`` (of one field, see
        :data:`QUANTITIES`), or a function ``f(fields) -> (batch,)`` of the whole
        ``(batch, field, *space)`` array.
    field: the field a built-in quantity is of (name or index; default: the system's
        first field). Not used with a function.
    every, interval: cadence (see :class:`Observer`).
    name: a label (default: the quantity's name, with the field's).

    After the run, ``values`` is ``(n_traj, n_times)`` (NaN where nothing was observed,
    e.g. before a resumed checkpoint) and ``t`` the ``n_times`` times.
    """

    def __init__(
        self,
        quantity: str | Quantity = "energy",
        *,
        field: str | int | None = None,
        every: int | None = None,
        interval: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(every=every, interval=interval)
        if isinstance(quantity, str):
            if quantity not in QUANTITIES:
                raise ValueError(
                    f"parameter 'quantity' = {quantity!r} is not a built-in quantity; "
                    f"choose one of {', '.join(QUANTITIES)} or give a function f(fields)"
                )
        elif not callable(quantity):
            raise TypeError(
                f"parameter 'quantity' must be a name or a function f(fields) -> (batch,), "
                f"got {type(quantity).__name__}"
            )
        self.quantity = quantity
        self.field = field
        self.name = name
        self.t: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self._index = 0

    def start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Allocate ``values`` (n_traj, len(t)), NaN-filled, and resolve the field."""
        self.t = np.asarray(t, dtype=np.float64).copy()
        self.values = np.full((n_traj, len(self.t)), np.nan)
        if isinstance(self.quantity, str):
            names = tuple(system.field_names)
            field = names[0] if self.field is None else self.field
            if isinstance(field, str):
                if field not in names:
                    raise ValueError(
                        f"parameter 'field' = {field!r} is not a field of {system.name} "
                        f"(fields: {', '.join(names)})"
                    )
                self._index = names.index(field)
            else:
                if not 0 <= int(field) < len(names):
                    raise ValueError(
                        f"parameter 'field' = {field!r} is out of range for {system.name}'s "
                        f"{len(names)} field(s)"
                    )
                self._index = int(field)
            if self.name is None:
                self.name = f"{self.quantity}({names[self._index]})"
        elif self.name is None:
            self.name = getattr(self.quantity, "__name__", "quantity")

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Store the quantity of each trajectory of the batch at ``t = self.t[index]``."""
        if isinstance(self.quantity, str):
            value = QUANTITIES[self.quantity](fields[:, self._index])
        else:
            value = np.asarray(self.quantity(fields), dtype=np.float64)
            if value.shape != (fields.shape[0],):
                raise ValueError(
                    f"ScalarSeries {self.name!r}: the function returned shape {value.shape} "
                    f"for fields of shape {fields.shape}; it must return ({fields.shape[0]},), "
                    "one number per trajectory of the batch"
                )
        self.values[trajectories, index] = value

    def get_state(self) -> dict[str, Any]:
        """The values so far (for a checkpoint)."""
        return {"values": self.values}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`get_state`'s values (after :meth:`start`)."""
        values = np.asarray(state["values"], dtype=np.float64)
        if values.shape != self.values.shape:
            raise ValueError(
                f"ScalarSeries {self.name!r}: the checkpoint holds values of shape "
                f"{values.shape}, this run observes {self.values.shape}"
            )
        self.values[...] = values


class LivePlot(Observer):
    """A matplotlib figure of a scalar series, redrawn during the run (interactive use).

    Parameters
    ----------
    quantity, field: as for :class:`ScalarSeries` (default: the energy of the first field).
    every, interval: cadence (see :class:`Observer`).
    figure: a ``matplotlib.figure.Figure`` to draw into (e.g. in a notebook); default:
        one made with ``matplotlib.pyplot.figure()`` when the run starts.
    max_lines: at most this many trajectories are drawn (the first ones).
    refresh: least wall time in seconds between redraws (the last one is always drawn).

    ``series`` holds the :class:`ScalarSeries` behind the plot. matplotlib is imported
    only in :meth:`start`.
    """

    def __init__(
        self,
        quantity: str | Quantity = "energy",
        *,
        field: str | int | None = None,
        every: int | None = None,
        interval: float | None = None,
        figure: Any = None,
        max_lines: int = 8,
        refresh: float = 0.2,
    ) -> None:
        super().__init__(every=every, interval=interval)
        self.series = ScalarSeries(quantity, field=field)
        self.figure = figure
        self.max_lines = max_lines
        self.refresh = refresh
        self.lines: list[Any] = []
        self._drawn = 0.0

    def start(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Make (or clear) the figure and one line per drawn trajectory."""
        self.series.start(system, n_traj, t)
        if self.figure is None:
            import matplotlib.pyplot as plt  # only for interactive use

            self.figure = plt.figure()
        self.figure.clear()
        axes = self.figure.add_subplot()
        axes.set_xlabel("t")
        axes.set_ylabel(self.series.name)
        axes.set_title(f"{system.name}: {self.series.name}")
        axes.set_xlim(self.series.t[0], max(self.series.t[-1], self.series.t[0] + 1e-12))
        self.lines = [
            axes.plot(self.series.t, self.series.values[i], label=f"trajectory {i}")[0]
            for i in range(min(n_traj, self.max_lines))
        ]
        self._drawn = 0.0

    def observe(self, t: float, fields: np.ndarray, trajectories: slice, index: int) -> None:
        """Record the batch's values; redraw if ``refresh`` seconds have passed."""
        self.series.observe(t, fields, trajectories, index)
        if time.perf_counter() - self._drawn >= self.refresh:
            self._draw()

    def finish(self) -> None:
        """Draw the complete series."""
        self._draw()

    def get_state(self) -> dict[str, Any]:
        """The series so far (for a checkpoint)."""
        return self.series.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue the series from a checkpoint (after :meth:`start`)."""
        self.series.set_state(state)

    def _draw(self) -> None:
        for i, line in enumerate(self.lines):
            line.set_ydata(self.series.values[i])
        axes = self.figure.axes[0]
        axes.relim()
        axes.autoscale_view(scalex=False)
        self.figure.canvas.draw_idle()
        flush = getattr(self.figure.canvas, "flush_events", None)
        if callable(flush):
            flush()
        self._drawn = time.perf_counter()
