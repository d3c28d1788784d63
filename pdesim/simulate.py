"""Run a system: a batch of trajectories, a saving cadence, divergence detection.

:func:`simulate` draws one random generator per trajectory from
``numpy.random.SeedSequence(seed).spawn(n_traj)``, so trajectory ``i`` is the same
whether it runs alone or among others, advances the trajectories in batches through
the system's stepper, and keeps frames at ``t_warmup, t_warmup + save_every, ...,
t_end``. A non-finite or runaway state raises :class:`SimulationDiverged` with the
trajectory and the time; nothing with NaN is ever returned. Between two events (a
saved frame, an observer's turn, a checkpoint, the end) a stepper with ``advance``
runs all the steps in one call (a compiled loop for small 1-D states); a stretch whose
end is not finite is run again step by step from a copy, so a divergence is reported
at its first non-finite step, as with a check after every step.

Saved frames go to a *sink* as they are produced: by default :class:`MemorySink`
(the arrays end up in ``Run.fields``); :class:`pdesim.io.WellWriter` streams them to
an HDF5 file instead, so a long run's memory stays bounded.

*Observers* (:mod:`pdesim.observers`, py-pde's trackers, Dedalus' analysis handlers)
see the physical fields at their own cadence (``observers=[...]``). The sink is one
observer among others: the one at the saved frames' cadence, given only frames that
passed the system's frame check, and counted in the memory estimate. Nothing wraps the
sink to see the frames: ``pdesim run`` gives its sink as ``sink=`` and its regime
recorder (:class:`pdesim.diagnostics.recorder.RegimeRecorder`) in ``observers=``. A
run without observers takes the same path as before observers existed.

Checkpoint/restart: with ``checkpoint=path`` and ``checkpoint_every=T`` the driver
writes, every ``T`` time units of each batch (atomically:
:func:`pdesim.files.atomic_path`), everything the rest of the run depends on -- the
batch's spectral state, its step, the stepper's own state (e.g. the adaptive step size
of ``ifdp5``), the sink's state (frames so far, or where the partial HDF5 file is) and
the run's settings with a digest of the initial fields (which are re-drawn from
``seed``; the driver draws nothing else at random). ``resume=True`` continues from that
file when it exists, and the result is bit-identical to an uninterrupted run. An
interrupted run keeps its checkpoint and the sink's partial output; a finished run, or
one that diverged, removes the checkpoint. Observers with ``get_state``/``set_state``
(the built-ins) are checkpointed too and resume where they were; others see only the
resumed part.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pdesim.common import SimulationDiverged
from pdesim.files import atomic_path
from pdesim.grid import Grid
from pdesim.integrators import StepSizeUnderflow
from pdesim.resources import MAX_STEPS, require_fits
from pdesim.systems import System
from pdesim.systems.base import Stepper, check_fields_shape
from pdesim.validation import require_int, require_multiple, require_output_file, require_real

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``, called after each saved frame and, between
frames, whenever :data:`PROGRESS_SECONDS` of wall time have passed since the last call."""

#: Between saved frames, ``progress`` is called again after this many seconds.
PROGRESS_SECONDS = 0.5

#: The driver runs at most about this many seconds of steps per call of a stepper's
#: ``advance`` (:class:`_Advancer`; :data:`PROGRESS_SECONDS` if less, with ``progress``),
#: so that ``progress`` and an interruption come on time.
CHUNK_SECONDS = 0.1

#: A real field stack of one batch is kept below this many bytes (cache-sized).
_BATCH_BYTES = 4 * 2**20

#: The memory estimate counts this many float64 copies of one trajectory's fields per
#: trajectory of a batch (stepper stages, spectral state, FFT buffers), and this many
#: more per run (coefficient arrays of the grid): an upper bound of the peaks tracemalloc
#: measured for every system and method (at most 114 copies at batch 4, keller_segel
#: with etdrk4, against 24 x 4 + 32 = 128 here; a stepper with ``advance`` adds the
#: driver's copy of the state, :class:`_Advancer`, about one more).
WORK_COPIES_PER_TRAJECTORY = 24
WORK_COPIES_FIXED = 32


class FrameSink(Protocol):
    """Receives saved frames as :func:`simulate` produces them."""

    def open(self, system: System, n_traj: int, t: np.ndarray) -> None:
        """Prepare for ``n_traj`` trajectories saved at times ``t``."""

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        """Store ``frame`` (batch, field, *space) of trajectories ``first..`` at ``t[index]``."""

    def close(self, run: Run) -> None:
        """Finish after a successful run (``run`` carries the metadata)."""

    def abort(self) -> None:
        """Discard everything after a failure."""


class CheckpointableSink(FrameSink, Protocol):
    """A sink that a checkpointed run can suspend and resume."""

    def checkpoint_data(self) -> dict[str, Any]:
        """Make what was written so far durable; arrays and JSON-able values to store."""

    def resume(self, system: System, n_traj: int, t: np.ndarray, data: dict[str, Any]) -> None:
        """Reopen with the state ``checkpoint_data`` returned (instead of :meth:`open`)."""

    def suspend(self) -> None:
        """Stop after an interruption, keeping what a resume needs."""


class MemorySink:
    """Keeps every frame in one float64 array; ``Run.fields`` holds views of it."""

    def __init__(self) -> None:
        self.data: np.ndarray | None = None
        self.field_names: tuple[str, ...] = ()

    def open(self, system: System, n_traj: int, t: np.ndarray) -> None:
        self.data = np.empty((n_traj, len(t), system.n_fields, *system.grid.shape))
        self.field_names = system.field_names

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        self.data[first : first + frame.shape[0], index] = frame

    def fields(self) -> dict[str, np.ndarray]:
        return {name: self.data[:, :, i] for i, name in enumerate(self.field_names)}

    def memory_bytes(self, system: System, n_traj: int, n_frames: int) -> int:
        """Bytes :meth:`open` will allocate: every frame, float64."""
        return 8 * n_traj * n_frames * system.n_fields * system.grid.size

    def close(self, run: Run) -> None:
        run.fields = self.fields()

    def abort(self) -> None:
        self.data = None

    def checkpoint_data(self) -> dict[str, Any]:
        """The frames so far (the checkpoint of an in-memory run holds its frames)."""
        return {"frames": self.data}

    def resume(self, system: System, n_traj: int, t: np.ndarray, data: dict[str, Any]) -> None:
        self.open(system, n_traj, t)
        self.data[...] = data["frames"]

    def suspend(self) -> None:
        self.data = None


@dataclass
class Run:
    """The result of :func:`simulate`.

    ``fields[name]`` has shape ``(n_traj, n_saved, *space)`` (empty when the frames
    were streamed to a file by a sink); ``t`` has ``n_saved`` times.
    """

    system: str
    fields: dict[str, np.ndarray]
    t: np.ndarray
    grid: Grid
    params: dict[str, Any]
    dt: float
    seed: int
    initial: str
    wall_time: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_traj(self) -> int:
        return int(self.info["n_traj"])


def default_batch_size(system: System) -> int:
    """Trajectories per batch: as many as keep one real field stack cache-sized."""
    per_traj = 8 * system.n_fields * system.grid.size
    return max(1, _BATCH_BYTES // per_traj)


def trajectory_seeds(seed: int, n_traj: int, first: int = 0) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed, spawn_key=(i,))`` for ``i = first .. first + n_traj - 1``.

    These equal ``SeedSequence(seed).spawn(first + n_traj)[first:]``: a trajectory's
    randomness depends only on the root seed and its own index.
    """
    return [np.random.SeedSequence(seed, spawn_key=(i,)) for i in range(first, first + n_traj)]


def _initial_fields(
    system: System, initial: str | np.ndarray | None, n_traj: int, seed: int, first: int
) -> tuple[np.ndarray, str]:
    shape = (n_traj, system.n_fields, *system.grid.shape)
    if initial is not None and not isinstance(initial, str):
        return check_fields_shape("initial", initial, shape), "array"
    name = initial or system.initial_conditions[0]
    fields = np.empty(shape)
    for i, child in enumerate(trajectory_seeds(seed, n_traj, first)):
        fields[i] = system.initial_condition(name, np.random.default_rng(child))
    return fields, name


def _require_memory(
    system: System,
    n_traj: int,
    batch: int,
    batch_given: bool,
    n_saved: int,
    save_every: float,
    sink: FrameSink | None,
    draws_initial: bool,
) -> None:
    """Refuse a run whose estimated memory exceeds what the machine has free, naming the
    parameter behind the largest part of the estimate (:func:`pdesim.resources.require_fits`)."""
    state = 8 * system.n_fields * system.grid.size  # one trajectory's fields, float64
    grid = " x ".join(map(str, system.grid.shape))
    grid_names = [k for k in ("N", "Ny") if k in system.params_dict()]
    grid_what = (
        " and ".join(f"parameter {k!r} = {system.params_dict()[k]}" for k in grid_names)
        or f"the size of {system.name}'s grid"
    ) + f" ({grid} points)"
    in_batch = min(batch, n_traj)
    if sink is None:
        frames = MemorySink().memory_bytes(system, n_traj, n_saved)
    else:
        sized = getattr(sink, "memory_bytes", None)
        frames = sized(system, n_traj, n_saved) if callable(sized) else 0
    parts = [
        (
            f"parameter 'n_traj' = {n_traj}",
            "initial fields",
            state * n_traj if draws_initial else 0,
        ),
        (
            f"parameter 'batch_size' = {batch}" if batch_given and in_batch > 1 else grid_what,
            f"work arrays of {in_batch} trajector{'y' if in_batch == 1 else 'ies'} at a time",
            state * (WORK_COPIES_PER_TRAJECTORY * in_batch + WORK_COPIES_FIXED),
        ),
        (
            f"parameter 'n_traj' = {n_traj} with {n_saved} saved frames kept in memory "
            "(give a sink that writes them to a file: pdesim.io.WellWriter, --out)",
            "saved frames",
            frames,
        ),
        (
            f"parameter 'save_every' = {save_every:g} ({n_saved} saved frames)",
            "frame times",
            16 * n_saved,
        ),
    ]
    total = sum(size for *_, size in parts)
    what = max(parts, key=lambda part: part[2])[0]
    require_fits(what, total, [(label, size) for _, label, size in parts])


def simulate(
    system: System,
    t_end: float,
    dt: float,
    save_every: float,
    n_traj: int = 1,
    seed: int = 0,
    t_warmup: float = 0.0,
    initial: str | np.ndarray | None = None,
    *,
    method: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    sink: FrameSink | None = None,
    observers: Iterable[Any] | None = None,
    first_trajectory: int = 0,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float | None = None,
    resume: bool = False,
) -> Run:
    """Integrate ``n_traj`` trajectories of ``system`` from t = 0 to ``t_end`` with step ``dt``.

    Parameters
    ----------
    system: a system from :func:`pdesim.make_system`.
    t_end: final time (>= dt); the last saved frame is at ``t_end``.
    dt: time step (> 0).
    save_every: interval between saved frames, a whole multiple of ``dt``.
    n_traj: number of trajectories (>= 1).
    seed: root seed, ``0 <= seed < 2**63`` (files store it as a 64-bit integer);
        trajectory ``i`` uses ``SeedSequence(seed, spawn_key=(i,))``.
    t_warmup: time of the first saved frame; ``t_end - t_warmup`` must be a whole
        multiple of ``save_every``.
    initial: None (the system's default family), the name of one of
        ``system.initial_conditions``, or an array ``(n_traj, n_fields, *space)``.
    method: time-stepping method, one of ``system.methods`` (default: the first).
    batch_size: trajectories stepped together, >= 1 (default None: cache-sized batches).
    progress: optional callback ``progress(steps_done, steps_total)``, called after
        each saved frame and at least every :data:`PROGRESS_SECONDS` between frames.
    sink: where saved frames go (default: memory, returned in ``Run.fields``).
    observers: objects with ``observe(t, fields, trajectories, index)`` (and optional
        ``start(system, n_traj, t)`` / ``finish()``) called at their own cadence, the
        attribute ``every`` (steps) or ``interval`` (time, a multiple of ``dt``; default:
        ``save_every``), from ``t_warmup`` to ``t_end``; see :mod:`pdesim.observers`.
        On resume, observers with ``get_state``/``set_state`` (the built-ins) continue
        from the checkpoint; others see only the resumed part.
    first_trajectory: global index of the first trajectory, so that a shard of a larger
        ensemble draws the same random numbers as it would in one big run.
    checkpoint: file of the run's checkpoints (``.npz``); needs ``checkpoint_every``. Its
        folder must take new files (checked before the run).
    checkpoint_every: time between checkpoints within a batch, a whole multiple of ``dt``.
    resume: continue from ``checkpoint`` if that file exists (else start afresh); the
        settings must be those of the checkpointed run. Needs ``checkpoint``.

    Raises
    ------
    SimulationDiverged: a trajectory became non-finite or exceeded the blow-up threshold
        (or the adaptive method's step size underflowed).
    ValueError, TypeError: a bad argument, named, before anything runs; also a
        checkpoint of another run, or a damaged one.
    """
    if not isinstance(system, System):
        raise TypeError(
            f"parameter 'system' must be a pdesim system (see pdesim.make_system), "
            f"got {type(system).__name__}"
        )
    dt = require_real("dt", dt, gt=0.0)
    t_end = require_real("t_end", t_end, ge=dt)
    save_every = require_real("save_every", save_every, gt=0.0)
    t_warmup = require_real("t_warmup", t_warmup, ge=0.0, le=t_end)
    n_traj = require_int("n_traj", n_traj, ge=1)
    seed = require_int("seed", seed, ge=0)
    if not t_end / dt <= MAX_STEPS:
        raise ValueError(
            f"parameter 'dt' = {dt:g} gives t_end / dt = {t_end / dt:.3g} steps per "
            f"trajectory (t_end = {t_end:g}), more than the {MAX_STEPS} a run may take "
            "(pdesim.resources.MAX_STEPS); use a larger dt or a smaller t_end"
        )
    steps_per_save = require_multiple("save_every", save_every, "dt", dt)
    n_steps = require_multiple("t_end", t_end, "dt", dt)
    warmup_steps = 0 if t_warmup == 0 else require_multiple("t_warmup", t_warmup, "dt", dt)
    span = n_steps - warmup_steps
    if span % steps_per_save:
        raise ValueError(
            f"t_end - t_warmup = {t_end - t_warmup:g} must be a whole multiple of "
            f"save_every = {save_every:g}"
        )
    n_saved = span // steps_per_save + 1
    watchers = _schedule(observers, dt, steps_per_save, span, t_warmup, save_every)
    batch = (
        default_batch_size(system)
        if batch_size is None
        else require_int("batch_size", batch_size, ge=1)
    )

    first_trajectory = require_int("first_trajectory", first_trajectory, ge=0)
    draws_initial = initial is None or isinstance(initial, str)
    _require_memory(
        system, n_traj, batch, batch_size is not None, n_saved, save_every, sink, draws_initial
    )
    method = method or system.methods[0]
    u0, initial_name = _initial_fields(system, initial, n_traj, seed, first_trajectory)
    t = t_warmup + save_every * np.arange(n_saved)
    stepper = system.make_stepper(dt, method)
    sink = MemorySink() if sink is None else sink
    settings = {
        "system": system.name,
        "params": system.params_dict(),
        "dt": dt,
        "t_end": t_end,
        "save_every": save_every,
        "t_warmup": t_warmup,
        "n_traj": n_traj,
        "seed": seed,
        "first_trajectory": first_trajectory,
        "initial": initial_name,
        "initial_digest": hashlib.sha256(np.ascontiguousarray(u0).tobytes()).hexdigest(),
        "method": method,
        "batch_size": batch,
    }
    keeper = _checkpointer(checkpoint, checkpoint_every, dt, sink, settings, resume, watchers)
    position = keeper.load(resume) if keeper is not None else None
    for i, watcher in enumerate(watchers):
        watcher.start(system, n_traj)
        if position is not None:
            watcher.restore(position.observer_data.get(str(i)))
    if position is None:
        sink.open(system, n_traj, t)
    else:
        sink.resume(system, n_traj, t, position.sink_data)
        if position.stepper_state is not None:
            stepper.set_state(position.stepper_state)
    started = time.perf_counter() - (position.elapsed if position is not None else 0.0)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
            _run_batches(
                system,
                stepper,
                u0,
                sink,
                batch,
                n_steps,
                warmup_steps,
                steps_per_save,
                dt,
                progress,
                keeper,
                position,
                started,
                watchers,
            )
    except BaseException as exc:
        if keeper is not None and keeper.written and not isinstance(exc, SimulationDiverged):
            sink.suspend()
        else:
            sink.abort()
            if keeper is not None:
                keeper.remove()
        raise
    wall = time.perf_counter() - started
    run = Run(
        system=system.name,
        fields={},
        t=t,
        grid=system.grid,
        params=system.params_dict(),
        dt=dt,
        seed=seed,
        initial=initial_name,
        wall_time=wall,
        info={
            "n_traj": n_traj,
            "first_trajectory": first_trajectory,
            "batch_size": batch,
            "n_steps": n_steps,
            "method": method,
            "save_every": save_every,
            **({"stepper": stepper.get_state()} if hasattr(stepper, "get_state") else {}),
        },
    )
    for watcher in watchers:
        watcher.finish()
    sink.close(run)
    if keeper is not None:
        keeper.remove()
    return run


@dataclass
class _Watcher:
    """One observer with its cadence in steps and its observation times."""

    observer: Any
    steps: int
    t: np.ndarray

    def start(self, system: System, n_traj: int) -> None:
        start = getattr(self.observer, "start", None)
        if start is not None:
            start(system, n_traj, self.t)

    def finish(self) -> None:
        finish = getattr(self.observer, "finish", None)
        if finish is not None:
            finish()

    def state(self) -> dict[str, Any] | None:
        """What a checkpoint keeps of the observer (None: it has no ``get_state``)."""
        get_state = getattr(self.observer, "get_state", None)
        if not callable(get_state):
            return None
        return {"type": type(self.observer).__name__, "steps": self.steps, **get_state()}

    def restore(self, data: dict[str, Any] | None) -> None:
        """Give a resumed observer its checkpointed state, if it has ``set_state`` and the
        checkpoint holds an observer of its type and cadence at its place."""
        set_state = getattr(self.observer, "set_state", None)
        if not callable(set_state) or data is None:
            return
        if data.get("type") != type(self.observer).__name__ or data.get("steps") != self.steps:
            return
        set_state({k: v for k, v in data.items() if k not in ("type", "steps")})


def _schedule(
    observers: Iterable[Any] | None,
    dt: float,
    steps_per_save: int,
    span: int,
    t_warmup: float,
    save_every: float,
) -> list[_Watcher]:
    """Check ``observers`` (before any work) and give each its cadence and times."""
    if observers is None:
        return []
    if isinstance(observers, (str, bytes)) or not isinstance(observers, Iterable):
        raise TypeError(
            "parameter 'observers' must be a list of observers (see pdesim.observers), "
            f"got {type(observers).__name__}"
        )
    watchers = []
    for i, observer in enumerate(observers):
        what = f"observers[{i}] ({type(observer).__name__})"
        if not callable(getattr(observer, "observe", None)):
            raise TypeError(
                f"{what} has no observe method: an observer needs "
                "observe(t, fields, trajectories, index) (see pdesim.observers)"
            )
        for name in ("start", "finish"):
            method = getattr(observer, name, None)
            if method is not None and not callable(method):
                raise TypeError(f"{what}: its {name!r} attribute is not a method")
        every = getattr(observer, "every", None)
        interval = getattr(observer, "interval", None)
        try:
            if every is not None and interval is not None:
                raise ValueError(
                    f"give 'every' (steps) or 'interval' (time), not both: got every = "
                    f"{every!r}, interval = {interval!r}"
                )
            if every is not None:
                steps = require_int("every", every, ge=1)
                step_time = steps * dt
            elif interval is not None:
                step_time = require_real("interval", interval, gt=0.0)
                steps = require_multiple("interval", step_time, "dt", dt)
            else:
                steps, step_time = steps_per_save, save_every
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{what}: {exc}") from None
        t = t_warmup + step_time * np.arange(span // steps + 1)
        watchers.append(_Watcher(observer, steps, t))
    return watchers


def _next_event(
    step: int, n_steps: int, warmup_steps: int, steps_per_save: int, watch: int, checkpoint: int
) -> int:
    """The first step after ``step`` at which the driver has something to do: a saved
    frame (every ``steps_per_save`` from ``warmup_steps``, the first one), an observer's
    turn (every ``watch`` from there; 0: none), a checkpoint (every ``checkpoint``; 0:
    none) or the end, ``n_steps``."""
    if step < warmup_steps:
        target = warmup_steps
    else:
        target = step + steps_per_save - (step - warmup_steps) % steps_per_save
        if watch:
            target = min(target, step + watch - (step - warmup_steps) % watch)
    if checkpoint:
        target = min(target, step + checkpoint - step % checkpoint)
    return min(target, n_steps)


class _Advancer:
    """Advances one batch's state from one event of the driver to the next.

    A stepper with ``advance`` (and no state of its own, ``get_state``) runs a stretch
    of steps in one call, checked once at its end; when that check fails, the stretch
    is run again step by step from a copy of its start, so that the divergence is
    reported at the first step whose state is not finite, as a check after every step
    reports it (and does, for steppers without ``advance``). A stretch lasts at most
    about ``seconds`` (its steps are counted from the time the one before took), so
    that ``progress`` and an interruption are not held up.
    """

    def __init__(
        self,
        system: System,
        stepper: Stepper,
        state: np.ndarray,
        frame: np.ndarray,
        first: int,
        dt: float,
        seconds: float,
    ) -> None:
        self.system = system
        self.stepper = stepper
        self.frame = frame  # where a diverged state is looked at
        self.first = first  # the batch's first trajectory
        self.dt = dt
        self.seconds = seconds
        chunked = callable(getattr(stepper, "advance", None)) and not hasattr(stepper, "get_state")
        self.backup = np.empty_like(state) if chunked else None
        self.limit = 1

    def run(self, state: np.ndarray, step: int, target: int) -> int:
        """Advance ``state`` from step ``step`` towards ``target``; the step reached."""
        n = min(target - step, self.limit)
        began = time.perf_counter()
        if self.backup is None or n == 1:
            self._steps(state, step, n)
        else:
            np.copyto(self.backup, state)
            self.stepper.advance(state, step * self.dt, n)
            finite = self.stepper.finite(state)
            if np.count_nonzero(finite) < len(finite):  # not all finite (1.5 us before .all())
                np.copyto(state, self.backup)
                self._steps(state, step, n)  # raises at the first non-finite step
        elapsed = time.perf_counter() - began
        self.limit = max(1, int(n * self.seconds / max(elapsed, 1e-9)))
        return step + n

    def _steps(self, state: np.ndarray, step: int, n: int) -> None:
        """``n`` single steps from step ``step``, each checked."""
        for done in range(step + 1, step + n + 1):
            try:
                self.stepper.step(state, (done - 1) * self.dt)
            except StepSizeUnderflow as exc:
                raise SimulationDiverged(self.first, exc.time, str(exc)) from exc
            finite = self.stepper.finite(state)
            if np.count_nonzero(finite) < len(finite):
                bad = int(np.argmin(finite))
                self.stepper.to_fields(state, self.frame)  # the system says what went wrong
                reason = self.system.frame_problems(self.frame[bad : bad + 1])[0]
                raise SimulationDiverged(
                    self.first + bad, done * self.dt, reason or "non-finite state"
                )


def _run_batches(
    system: System,
    stepper: Stepper,
    u0: np.ndarray,
    sink: FrameSink,
    batch: int,
    n_steps: int,
    warmup_steps: int,
    steps_per_save: int,
    dt: float,
    progress: Progress | None,
    keeper: _Checkpointer | None,
    position: _Position | None,
    started: float,
    watchers: list[_Watcher],
) -> None:
    """Step each batch of trajectories, checking frames and handing them to ``sink``
    (and to the observers of ``watchers`` at their cadences).

    Between two events (:func:`_next_event`) the steps run through :class:`_Advancer`.
    With ``position`` the run continues at batch ``position.start``, step
    ``position.step`` (whose frame is already in the sink) from ``position.state``.
    """
    n_traj = u0.shape[0]
    total = n_steps * n_traj
    # Observers are looked at only on the steps that are multiples of all cadences' gcd
    # (0: none, and the loop below is the one of a run without observers).
    watch = math.gcd(*(w.steps for w in watchers)) if watchers else 0
    checkpoint_steps = keeper.steps if keeper is not None else 0
    # a stretch of steps between events lasts at most this long (progress comes between)
    seconds = CHUNK_SECONDS if progress is None else min(CHUNK_SECONDS, PROGRESS_SECONDS)
    reported = time.perf_counter()
    first_batch, first_step = 0, 0
    if position is not None:
        first_batch, first_step = position.start, position.step
        if first_step == n_steps:  # the checkpoint closed its batch
            first_batch, first_step = first_batch + batch, 0
    for start in range(first_batch, n_traj, batch):
        stop = min(start + batch, n_traj)
        done = n_steps * start
        resumed = position is not None and start == position.start and first_step > 0
        state = position.state if resumed else stepper.to_state(u0[start:stop])
        frame = np.empty((stop - start, *u0.shape[1:]))
        advancer = _Advancer(system, stepper, state, frame, start, dt, seconds)
        if watch:
            shown = frame.view()
            shown.flags.writeable = False
            trajectories = slice(start, stop)
        step = first_step if resumed else 0
        while True:
            if not (resumed and step == first_step):
                if step >= warmup_steps and (step - warmup_steps) % steps_per_save == 0:
                    stepper.to_fields(state, frame)
                    _check_frame(system, frame, start, step * dt)
                    sink.write(start, (step - warmup_steps) // steps_per_save, frame)
                    if progress is not None:
                        progress(done + step * (stop - start), total)
                        reported = time.perf_counter()
                elif progress is not None and time.perf_counter() - reported >= PROGRESS_SECONDS:
                    progress(done + step * (stop - start), total)
                    reported = time.perf_counter()
                if watch and step >= warmup_steps and (step - warmup_steps) % watch == 0:
                    k = step - warmup_steps
                    if k % steps_per_save:  # not a saved frame: not converted yet
                        stepper.to_fields(state, frame)
                    for w in watchers:
                        if k % w.steps == 0:
                            index = k // w.steps
                            w.observer.observe(float(w.t[index]), shown, trajectories, index)
                if checkpoint_steps and step and step % checkpoint_steps == 0:
                    keeper.save(start, step, state, stepper, time.perf_counter() - started)
            if step == n_steps:
                break
            target = _next_event(
                step, n_steps, warmup_steps, steps_per_save, watch, checkpoint_steps
            )
            step = advancer.run(state, step, target)


@dataclass
class _Position:
    """Where a checkpoint left a run."""

    start: int
    step: int
    state: np.ndarray
    stepper_state: dict[str, Any] | None
    sink_data: dict[str, Any]
    elapsed: float
    observer_data: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Checkpointer:
    """Writes and reads one run's checkpoint file (``.npz``, replaced atomically)."""

    def __init__(
        self,
        path: Path,
        steps: int,
        sink: CheckpointableSink,
        settings: dict,
        watchers: list[_Watcher] | None = None,
    ) -> None:
        self.path = path
        self.steps = steps
        self.sink = sink
        self.watchers = watchers or []
        self.settings = json.loads(json.dumps(settings))
        self.written = False

    def save(
        self, start: int, step: int, state: np.ndarray, stepper: Stepper, elapsed: float
    ) -> None:
        sink_data = self.sink.checkpoint_data()
        arrays = {f"sink_{k}": v for k, v in sink_data.items() if isinstance(v, np.ndarray)}
        observers = {}
        for i, watcher in enumerate(self.watchers):
            kept = watcher.state()
            if kept is not None:
                arrays |= {f"obs{i}_{k}": v for k, v in kept.items() if isinstance(v, np.ndarray)}
                observers[str(i)] = {k: v for k, v in kept.items() if not isinstance(v, np.ndarray)}
        meta = {
            "settings": self.settings,
            "start": start,
            "step": step,
            "elapsed": elapsed,
            "stepper": stepper.get_state() if hasattr(stepper, "get_state") else None,
            "sink": {k: v for k, v in sink_data.items() if not isinstance(v, np.ndarray)},
            "observers": observers,
        }
        with atomic_path(self.path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta)), state=state, **arrays)
        self.written = True

    def load(self, resume: bool) -> _Position | None:
        if not resume or not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                state = data["state"].copy()
                sink_data = {k[5:]: data[k].copy() for k in data.files if k.startswith("sink_")}
                observer_data = {
                    i: {
                        **kept,
                        **{
                            k[len(f"obs{i}_") :]: data[k].copy()
                            for k in data.files
                            if k.startswith(f"obs{i}_")
                        },
                    }
                    for i, kept in meta.get("observers", {}).items()
                }
            sink_data.update(meta["sink"])
            position = _Position(
                meta["start"],
                meta["step"],
                state,
                meta["stepper"],
                sink_data,
                meta["elapsed"],
                observer_data,
            )
            stored = meta["settings"]
        # Whatever a truncated or overwritten file raises (numpy's "pickled data" advice,
        # zipfile, zlib, json, a missing key), it is the same fact: the file is damaged.
        except Exception as exc:
            raise ValueError(
                f"checkpoint {str(self.path)!r} is damaged: it is not a complete checkpoint "
                f"of pdesim.simulate ({type(exc).__name__}); delete it to start the run over "
                "(a run without resume overwrites it)"
            ) from exc
        differ = sorted(
            key
            for key in set(self.settings) | set(stored)
            if self.settings.get(key) != stored.get(key)
        )
        if differ:
            raise ValueError(
                f"checkpoint {str(self.path)!r} belongs to another run: its "
                f"{', '.join(differ)} differ from this call's; resume with the same settings "
                "or remove the file"
            )
        self.written = True
        return position

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _checkpointer(
    path: str | os.PathLike | None,
    every: float | None,
    dt: float,
    sink: FrameSink,
    settings: dict[str, Any],
    resume: bool,
    watchers: list[_Watcher] | None = None,
) -> _Checkpointer | None:
    if path is None:
        if every is not None:
            raise ValueError(
                f"parameter 'checkpoint_every' = {every!r} needs a 'checkpoint' file to write"
            )
        if resume:
            raise ValueError("parameter 'resume' = True needs a 'checkpoint' file to resume from")
        return None
    if every is None:
        raise ValueError(f"parameter 'checkpoint' = {str(path)!r} needs 'checkpoint_every'")
    path = require_output_file("parameter 'checkpoint'", path)
    every = require_real("checkpoint_every", every, gt=0.0)
    steps = require_multiple("checkpoint_every", every, "dt", dt)
    missing = [
        name
        for name in ("checkpoint_data", "resume", "suspend")
        if not callable(getattr(sink, name, None))
    ]
    if missing:
        raise TypeError(
            f"parameter 'sink' ({type(sink).__name__}) cannot be checkpointed: it has no "
            f"{', '.join(missing)} method"
        )
    return _Checkpointer(path, steps, sink, settings, watchers)


def _check_frame(system: System, frame: np.ndarray, first: int, t: float) -> None:
    """Raise for the first trajectory of a saved frame that the system finds unusable."""
    for i, problem in enumerate(system.frame_problems(frame)):
        if problem is not None:
            raise SimulationDiverged(first + i, t, problem)
