"""Run a system: a batch of trajectories, a saving cadence, divergence detection.

:func:`simulate` draws one random generator per trajectory from
``numpy.random.SeedSequence(seed).spawn(n_traj)``, so trajectory ``i`` is the same
whether it runs alone or among others, advances the trajectories in batches through
the system's stepper, and keeps frames at ``t_warmup, t_warmup + save_every, ...,
t_end``. A non-finite or runaway state raises :class:`SimulationDiverged` with the
trajectory and the time; nothing with NaN is ever returned.

Saved frames go to a *sink* as they are produced: by default :class:`MemorySink`
(the arrays end up in ``Run.fields``); :class:`pdesim.io.WellWriter` streams them to
an HDF5 file instead, so a long run's memory stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pdesim.spectral import Grid
from pdesim.systems import System
from pdesim.systems.base import Stepper, check_fields_shape
from pdesim.validation import require_int, require_multiple, require_real

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``, called after each saved frame."""

#: A real field stack of one batch is kept below this many bytes (cache-sized).
_BATCH_BYTES = 4 * 2**20


class SimulationDiverged(RuntimeError):
    """A trajectory became non-finite or exceeded the system's blow-up threshold."""

    def __init__(self, trajectory: int, time: float, reason: str) -> None:
        self.trajectory = trajectory
        self.time = time
        self.reason = reason
        super().__init__(f"trajectory {trajectory} diverged at t = {time:g}: {reason}")


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

    def close(self, run: Run) -> None:
        run.fields = self.fields()

    def abort(self) -> None:
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
    rngs = [np.random.default_rng(s) for s in trajectory_seeds(seed, n_traj, first)]
    fields = np.empty(shape)
    for i, rng in enumerate(rngs):
        fields[i] = system.initial_condition(name, rng)
    return fields, name


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
    first_trajectory: int = 0,
) -> Run:
    """Integrate ``n_traj`` trajectories of ``system`` from t = 0 to ``t_end`` with step ``dt``.

    Parameters
    ----------
    system: a system from :func:`pdesim.make_system`.
    t_end: final time (>= dt); the last saved frame is at ``t_end``.
    dt: time step (> 0).
    save_every: interval between saved frames, a whole multiple of ``dt``.
    n_traj: number of trajectories (>= 1).
    seed: root seed; trajectory ``i`` uses ``SeedSequence(seed, spawn_key=(i,))``.
    t_warmup: time of the first saved frame; ``t_end - t_warmup`` must be a whole
        multiple of ``save_every``.
    initial: None (the system's default family), the name of one of
        ``system.initial_conditions``, or an array ``(n_traj, n_fields, *space)``.
    method: time-stepping method, one of ``system.methods`` (default: the first).
    batch_size: trajectories stepped together (default: cache-sized batches).
    progress: optional callback ``progress(steps_done, steps_total)``.
    sink: where saved frames go (default: memory, returned in ``Run.fields``).
    first_trajectory: global index of the first trajectory, so that a shard of a larger
        ensemble draws the same random numbers as it would in one big run.

    Raises
    ------
    SimulationDiverged: a trajectory became non-finite or exceeded the blow-up threshold.
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
    batch = require_int("batch_size", batch_size or default_batch_size(system), ge=1)

    first_trajectory = require_int("first_trajectory", first_trajectory, ge=0)
    u0, initial_name = _initial_fields(system, initial, n_traj, seed, first_trajectory)
    t = t_warmup + save_every * np.arange(n_saved)
    stepper = system.make_stepper(dt, method)
    sink = MemorySink() if sink is None else sink
    sink.open(system, n_traj, t)
    started = time.perf_counter()
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
            )
    except BaseException:
        sink.abort()
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
            "method": method or system.methods[0],
        },
    )
    sink.close(run)
    return run


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
) -> None:
    """Step each batch of trajectories, checking frames and handing them to ``sink``."""
    n_traj = u0.shape[0]
    total = n_steps * n_traj
    done = 0
    for start in range(0, n_traj, batch):
        stop = min(start + batch, n_traj)
        state = stepper.to_state(u0[start:stop])
        frame = np.empty((stop - start, *u0.shape[1:]))
        for step in range(n_steps + 1):
            if step:
                stepper.step(state, (step - 1) * dt)
                finite = stepper.finite(state)
                if not finite.all():
                    bad = start + int(np.argmin(finite))
                    raise SimulationDiverged(bad, step * dt, "non-finite state")
            if step >= warmup_steps and (step - warmup_steps) % steps_per_save == 0:
                stepper.to_fields(state, frame)
                _check_frame(system, frame, start, step * dt)
                sink.write(start, (step - warmup_steps) // steps_per_save, frame)
                if progress is not None:
                    progress(done + step, total)
        done += n_steps * (stop - start)


def _check_frame(system: System, frame: np.ndarray, first: int, t: float) -> None:
    """Raise for the first trajectory of a saved frame that the system finds unusable."""
    for i, problem in enumerate(system.frame_problems(frame)):
        if problem is not None:
            raise SimulationDiverged(first + i, t, problem)
