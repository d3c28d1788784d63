"""Recipes -> shards -> datasets: parallel, resumable, deterministic generation with dask.

One shard is one task is one file: a batch of trajectories with one parameter
setting. Shards run as futures on a ``dask.distributed`` cluster -- a
``LocalCluster`` of single-threaded worker processes by default, or any running
cluster given its scheduler address -- and each writes its own file under a
temporary name, renamed when complete (:class:`pdesim.io.WellWriter`). A file that
exists and carries the recipe's hash is complete and is skipped on a re-run; stale
files (another recipe hash) and leftovers of killed runs are redone.

A run owns its output directory while it writes: it takes a lock file there
(:data:`LOCK_NAME`, created with ``O_CREAT | O_EXCL``, naming the process) before
planning and removes it on the way out, an error or ``KeyboardInterrupt`` included. A
second run is refused (:class:`OutputDirectoryError`); the lock of a process that no
longer runs on this host is taken over. The run removes or replaces only files it can
identify as its own (their provenance names this dataset and the place they were
written at) and refuses to start beside any other HDF5 file in a split folder.

Determinism: trajectory ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``, a
shard's computation does not depend on which worker runs it, and shards use FFTW's
``estimate`` planner without wisdom (a timed ``measure`` plan can differ between
processes and change the last bits). So the data are bit-identical whatever the
number of workers and after an interrupted, resumed run.

A diverging trajectory never reaches a file: the shard is re-run trajectory by
trajectory, each diverging one retried at ``dt/2, dt/4, ...`` as the recipe allows
(``run.dt_halvings``) and otherwise excluded and listed in the summary. A split left
with fewer trajectories than the recipe asks (an empty one included) is a failure of
the run, reported in the summary's ``failures``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pdesim.common import VERSION, SimulationDiverged
from pdesim.fft_backends import REPRODUCIBLE_ENVIRONMENT
from pdesim.file_checks import split_contents, split_problems, verify_content
from pdesim.files import no_space_named, temporary_path
from pdesim.io import (
    DT_PER_TRAJECTORY_ATTR,
    EXCLUDED_ATTR,
    FFT_ATTR,
    RECIPE_ATTR,
    RECIPE_HASH_ATTR,
    SHARD_ATTR,
    SIZE_ATTR,
    SPAWN_KEYS_ATTR,
    SPLIT_ATTR,
    SPLITS,
    VERSIONS_ATTR,
    WellWriter,
)
from pdesim.recipes import Recipe, Shard, Summary, planned_trajectories
from pdesim.simulate import Run, simulate
from pdesim.stats import write_stats
from pdesim.systems import make_system
from pdesim.validation import require_int

ShardProgress = Callable[[dict[str, Any]], None]
"""Called with each finished shard's report."""

#: Environment every shard runs under (see the module docstring).
SHARD_ENVIRONMENT = REPRODUCIBLE_ENVIRONMENT

#: The lock file a run holds in its output directory while it writes.
LOCK_NAME = ".pdesim-data.lock"

log = logging.getLogger(__name__)


class OutputDirectoryError(FileExistsError):
    """The output directory is not this run's to write: another run holds its lock, or a
    split folder holds an HDF5 file this recipe did not write there."""


def _versions() -> dict[str, str]:
    import h5py
    import scipy

    versions = {
        "pdesim": VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
    }
    try:
        import pyfftw

        versions["pyfftw"] = pyfftw.__version__
        versions["fftw"] = str(pyfftw.fftw_version)
    except ImportError:
        pass
    return versions


class SharedFilesystemError(OSError):
    """A shard's file is not where the client expects it: a worker cannot see the output
    folder, or wrote where the client cannot see (no filesystem shared at the same
    absolute path)."""


#: What every message about a missing shared filesystem ends with.
SHARED_FS_HINT = (
    "pdesim data needs the output directory on a filesystem every worker shares with the "
    "client, at the same absolute path (docs/running_on_a_cluster.md)"
)


def _this_worker() -> str:
    """This process as a message names it: ``worker ADDRESS (host H, pid P)`` in a dask
    worker, ``process (host H, pid P)`` elsewhere."""
    try:
        from distributed import get_worker

        name = f"worker {get_worker().address}"
    except (ImportError, ValueError):  # not running in a dask worker
        name = "process"
    return f"{name} (host {platform.node()!r}, pid {os.getpid()})"


def _require_output_folder_here(path: str) -> None:
    """Raise :class:`SharedFilesystemError`, naming this worker and the folder, unless
    ``path``'s folder exists here and takes a new file (an empty hidden temporary file
    beside ``path``, created and removed at once; ``plan`` cleans up any left behind).

    The client makes the split folders before any shard runs, so a worker that does not
    find one does not share the client's filesystem; it must not make the folder (the
    file would land on the worker's own disk, where the client never sees it)."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise SharedFilesystemError(
            f"{_this_worker()} cannot see the output folder {str(folder)!r}: it does not "
            f"exist there; {SHARED_FS_HINT}"
        )
    probe = temporary_path(path)
    try:
        with open(probe, "x"):
            pass
    except OSError as exc:
        raise SharedFilesystemError(
            f"{_this_worker()} cannot write to the output folder {str(folder)!r} "
            f"({exc.strerror or exc}); {SHARED_FS_HINT}"
        ) from None
    probe.unlink(missing_ok=True)


def run_shard(recipe: Recipe, shard: Shard, path: str) -> dict[str, Any]:
    """Generate one shard into ``path`` (atomically); returns its report.

    Runs in a dask worker; everything it needs is in its arguments. ``path`` is
    absolute, and its folder must exist and take new files here (it is on a filesystem
    the client shares), else :class:`SharedFilesystemError` names the worker and path.
    """
    _require_output_folder_here(path)
    os.environ.update(SHARD_ENVIRONMENT)
    started = time.perf_counter()
    system = make_system(recipe.system, preset=recipe.preset, **shard.params)
    run_spec = recipe.run
    dt = float(run_spec["dt"])
    t_warmup = float(run_spec["t_warmup"])
    t_end = t_warmup + float(run_spec["t_duration"])
    attrs = {
        RECIPE_ATTR: json.dumps(recipe.raw, sort_keys=True),
        RECIPE_HASH_ATTR: recipe.hash,
        SIZE_ATTR: recipe.size,
        SHARD_ATTR: shard.relative_path,
        SPLIT_ATTR: shard.split,
        SPAWN_KEYS_ATTR: json.dumps([[i] for i in _indices(shard)]),
        VERSIONS_ATTR: json.dumps(_versions()),
        FFT_ATTR: json.dumps(SHARD_ENVIRONMENT),
    }
    common = {
        "t_end": t_end,
        "save_every": float(run_spec["save_every"]),
        "seed": recipe.seed,
        "t_warmup": t_warmup,
        "initial": run_spec.get("initial"),
        "method": run_spec.get("method"),
    }
    excluded: list[dict[str, Any]] = []
    writer = WellWriter(path, dataset_name=recipe.name, attrs=attrs)
    try:
        run = simulate(
            system,
            dt=dt,
            n_traj=shard.n_traj,
            first_trajectory=shard.first_trajectory,
            sink=writer,
            **common,
        )
        kept = shard.n_traj
        steps = run.info["n_steps"] * kept
    except SimulationDiverged:
        kept, steps, excluded = _run_one_by_one(recipe, shard, system, path, attrs, common)
    return {
        "path": path,
        "trajectories": kept,
        "trajectory_steps": steps,
        "excluded": excluded,
        "wall_time": time.perf_counter() - started,
        "write_time": writer.write_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_pid": os.getpid(),
        "worker": _this_worker(),
        "bytes": os.path.getsize(path) if os.path.exists(path) else 0,
    }


def _indices(shard: Shard) -> range:
    return range(shard.first_trajectory, shard.first_trajectory + shard.n_traj)


def _run_one_by_one(
    recipe: Recipe,
    shard: Shard,
    system: Any,
    path: str,
    attrs: dict[str, Any],
    common: dict[str, Any],
) -> tuple[int, int, list[dict[str, Any]]]:
    """Re-run a shard trajectory by trajectory, halving dt for diverging ones."""
    kept: list[tuple[int, Run]] = []
    excluded: list[dict[str, Any]] = []
    steps = 0
    attempts = int(recipe.run["dt_halvings"]) + 1
    for index in _indices(shard):
        dt = float(recipe.run["dt"])
        failure: tuple[float, SimulationDiverged] | None = None
        for _ in range(attempts):
            try:
                run = simulate(system, dt=dt, n_traj=1, first_trajectory=index, **common)
            except SimulationDiverged as exc:
                failure = (dt, exc)
                dt /= 2
                continue
            failure = None
            steps += run.info["n_steps"]
            kept.append((index, run))
            break
        if failure is not None:
            last_dt, exc = failure
            excluded.append(
                {
                    "trajectory": index,
                    "spawn_key": [index],
                    "seed": recipe.seed,
                    "params": shard.params,
                    "attempts": attempts,
                    "last_dt": last_dt,
                    "time": exc.time,
                    "reason": exc.reason,
                }
            )
    if not kept:
        return 0, steps, excluded
    attrs = {
        **attrs,
        SPAWN_KEYS_ATTR: json.dumps([[i] for i, _ in kept]),
        DT_PER_TRAJECTORY_ATTR: json.dumps([run.dt for _, run in kept]),
        EXCLUDED_ATTR: json.dumps(excluded),
    }
    writer = WellWriter(path, dataset_name=recipe.name, attrs=attrs)
    first_run = kept[0][1]
    writer.open(system, len(kept), first_run.t)
    try:
        for position, (_, run) in enumerate(kept):
            frames = np.stack([run.fields[name] for name in system.field_names], axis=2)
            for t_index in range(len(run.t)):
                writer.write(position, t_index, frames[:, t_index])
        writer.close(first_run)
    except BaseException:
        writer.abort()
        raise
    return len(kept), steps, excluded


def _create_lock(path: Path, record: dict[str, Any]) -> bool:
    """Create ``path`` holding ``record`` (JSON) if it does not exist; False if it does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        with no_space_named(path), os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:  # a full disk: no empty lock may be left to refuse the next run
        path.unlink(missing_ok=True)
        raise
    return True


def _read_lock(path: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The lock file's text and its record (None, None if it is gone; a record of None
    if it cannot be read as one, e.g. while its holder is still writing it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    try:
        record = json.loads(text)
    except ValueError:
        return text, None
    return text, record if isinstance(record, dict) else None


def _holder_alive(record: dict[str, Any]) -> bool | None:
    """Whether the lock's process runs; None when that cannot be told from this host."""
    pid = record.get("pid")
    if record.get("host") != platform.node() or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _describe(record: dict[str, Any] | None) -> str:
    if record is None:
        return "an unreadable holder"
    return (
        f"pid {record.get('pid')} on host {record.get('host')!r} since {record.get('started')} "
        f"(recipe {record.get('recipe')!r}, hash {record.get('recipe_hash')})"
    )


def _take_over(lock: Path, record: dict[str, Any]) -> None:
    """Take ``lock`` if its holder no longer runs on this host, else refuse.

    Only the process that creates the breaker file ``<lock>.break`` (``O_EXCL``) may
    remove the stale lock, and only after reading it again unchanged, so two runs that
    find the same stale lock cannot both take the directory."""
    text, holder = _read_lock(lock)
    if text is None and _create_lock(lock, record):  # released meanwhile
        return
    if text is None:
        text, holder = _read_lock(lock)
    alive = None if holder is None else _holder_alive(holder)
    if alive is not False:
        unknown = (
            "pdesim cannot tell from here whether it still runs; "
            if alive is None
            else "it is still running; "
        )
        raise OutputDirectoryError(
            f"{lock.parent} is being written by another pdesim data run: the lock file "
            f"{lock} names {_describe(holder)}; {unknown}wait for it to finish, or, if no "
            f"run writes there any more, remove the lock file (rm '{lock}') and run again"
        )
    breaker = lock.with_name(lock.name + ".break")
    if not _create_lock(breaker, record):
        raise OutputDirectoryError(
            f"another run is taking over the stale lock file {lock} (it holds {breaker}); "
            f"if no run is active, remove both files (rm '{breaker}' '{lock}') and run again"
        )
    try:
        if _read_lock(lock)[0] == text:
            lock.unlink()
        if not _create_lock(lock, record):
            raise OutputDirectoryError(
                f"{lock.parent} is being written by another pdesim data run: the lock file "
                f"{lock} names {_describe(_read_lock(lock)[1])}"
            )
    finally:
        breaker.unlink(missing_ok=True)
    log.warning("took over the lock file %s of %s, which no longer runs", lock, _describe(holder))


@contextmanager
def output_lock(out_dir: Path, recipe: Recipe) -> Iterator[Path]:
    """Hold the lock file of ``out_dir`` (created if needed) for the block; yields its path.

    The lock names this process (pid, host, start time, recipe); it is removed on leaving
    the block, by an exception or ``KeyboardInterrupt`` too. Raises
    :class:`OutputDirectoryError` naming the lock file and its holder when another run
    holds it; the lock of a process that no longer runs on this host is taken over.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / LOCK_NAME
    record = {
        "pid": os.getpid(),
        "host": platform.node(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipe": recipe.name,
        "recipe_hash": recipe.hash,
    }
    if not _create_lock(lock, record):
        _take_over(lock, record)
    try:
        yield lock
    finally:
        if _read_lock(lock)[1] == record:
            lock.unlink()


def _made_here(path: Path, out_dir: Path, name: str) -> tuple[str | None, str]:
    """(recipe hash, "") if ``path`` is a file ``pdesim data`` wrote for dataset ``name`` at
    this place, else (None, why it is not)."""
    import h5py

    relative = path.relative_to(out_dir).as_posix()
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
    except OSError:
        return None, "cannot be read as HDF5"
    recipe_hash, shard = attrs.get(RECIPE_HASH_ATTR), attrs.get(SHARD_ATTR)
    if not isinstance(recipe_hash, str) or not isinstance(shard, str):
        return None, "carries no pdesim data provenance"
    if attrs.get("dataset_name") != name:
        return None, f"belongs to dataset {attrs.get('dataset_name')!r}"
    if shard != relative:
        return None, f"is a copy or a renamed file: it was written as {shard}"
    return recipe_hash, ""


def plan(
    recipe: Recipe, out_dir: Path, damaged: list[dict[str, Any]] | None = None
) -> tuple[list[Shard], list[Shard]]:
    """Split the recipe's shards into (to run, already complete); tidy stale files.

    Only files this recipe's dataset made here are removed (those it no longer wants)
    or replaced (those of another recipe hash), with leftover temporary files of killed
    runs. A file of this recipe whose content fails
    :func:`pdesim.file_checks.verify_content` (a chunk that fails its checksum, values
    changed after writing; every chunk is read) is damaged, not complete: it is removed
    and its shard runs again, and ``{"path", "problems"}`` is appended to ``damaged``.
    Raises :class:`OutputDirectoryError`, before removing anything, if a split folder
    holds an HDF5 file pdesim cannot identify as its own (every file of a split is read
    as data). Call it holding :func:`output_lock`.
    """
    shards = recipe.shards()
    wanted = {out_dir / s.relative_path for s in shards}
    hashes: dict[Path, str] = {}
    foreign: list[str] = []
    for split in SPLITS:
        folder = out_dir / "data" / split
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.glob("*.h*5")):
            recipe_hash, why = _made_here(path, out_dir, recipe.name)
            if recipe_hash is None:
                foreign.append(f"{path} {why}")
            else:
                hashes[path] = recipe_hash
    if foreign:
        raise OutputDirectoryError(
            "pdesim data removes or replaces only files it wrote, and every file of a split "
            "folder is read as data; move these out of the split folders (or delete them) "
            "and run again: " + "; ".join(foreign)
        )
    for split in SPLITS:
        for leftover in (out_dir / "data" / split).glob(f".{recipe.name}*.tmp"):
            leftover.unlink()
    for path in hashes:
        if path not in wanted:
            path.unlink()
    todo, done = [], []
    for shard in shards:
        path = out_dir / shard.relative_path
        current = hashes.get(path) == recipe.hash
        if current and (problems := verify_content(path)):
            log.warning("%s is damaged and is generated again: %s", path, "; ".join(problems))
            if damaged is not None:
                damaged.append({"path": shard.relative_path, "problems": problems})
            path.unlink()
            current = False
        (done if current else todo).append(shard)
    return todo, done


#: The longest wait, in seconds, for a ``scheduler`` given by address to answer (dask's
#: own connect timeout, ``distributed.comm.timeouts.connect``, when that is shorter).
SCHEDULER_TIMEOUT = 10.0


class SchedulerUnreachable(ConnectionError):
    """The dask scheduler given by address did not answer."""


def _client(workers: int | None, scheduler: str | None):
    import dask
    from dask.distributed import Client, LocalCluster
    from dask.utils import parse_timedelta

    if scheduler:
        configured = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
        timeout = min(SCHEDULER_TIMEOUT, configured or SCHEDULER_TIMEOUT)
        try:
            return Client(scheduler, timeout=timeout), None
        except ValueError as exc:
            raise ValueError(
                f"parameter 'scheduler' must be a dask scheduler address such as "
                f"tcp://host:8786, got {scheduler!r} ({exc})"
            ) from None
        except OSError as exc:  # TimeoutError included
            raise SchedulerUnreachable(
                f"the dask scheduler at {scheduler} did not answer within {timeout:g} s "
                f"({exc}); is it running, and is the address (host and port) right?"
            ) from None
    # Workers log a failed shard's traceback as an error ("Compute Failed"); the
    # failure reaches the client anyway and is reported once, in the summary.
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    return Client(cluster), cluster


def generate(
    recipe: Recipe,
    out_base: str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ShardProgress | None = None,
) -> Summary:
    """Generate (or complete) the dataset of ``recipe`` under ``out_base``.

    Parameters
    ----------
    recipe: a recipe from :func:`pdesim.recipes.load_recipe`.
    out_base: folder that receives ``<name>/`` (``<name>_<size>/`` for sizes other
        than ``small``).
    workers: worker processes of the local cluster (default: one per core), an
        integer >= 1; not together with ``scheduler``.
    scheduler: address of a running dask scheduler to use instead (``tcp://host:8786``).
        Its workers write the files themselves: the output directory must be on a
        filesystem they share with this process, at the same absolute path.
    progress: called with each finished shard's report.

    The summary's ``failures`` list the shards that raised, those whose file is not
    where this process expects it afterwards (a worker that does not share the output
    filesystem; :class:`SharedFilesystemError` names the worker and the path), and each
    split left with fewer (or more) trajectories than the recipe asks. Raises
    ``ValueError``/``TypeError`` for a bad ``workers`` or ``scheduler`` before anything
    runs, :class:`SchedulerUnreachable` when ``scheduler`` does not answer within
    :data:`SCHEDULER_TIMEOUT`, and :class:`OutputDirectoryError` if another run holds
    the output directory or a split folder holds HDF5 files this recipe did not write
    there (see :func:`plan`).
    """
    started = time.perf_counter()
    if workers is not None:
        require_int("workers", workers, ge=1)
        if scheduler:
            raise ValueError(
                "parameter 'workers' sets the size of the local cluster; with 'scheduler' "
                "the cluster's own workers run the shards: give one of them"
            )
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        raise TypeError(
            f"parameter 'scheduler' must be a dask scheduler address (a str such as "
            f"tcp://host:8786) or None, got {scheduler!r}"
        )
    # Absolute: workers get the paths as they are, whatever their working directory.
    out_dir = recipe.output_dir(Path(out_base)).resolve()
    recipe.require_disk(out_dir)
    with output_lock(out_dir, recipe):
        summary = _generate(recipe, out_dir, workers, scheduler, progress, started)
    summary.wall_time = time.perf_counter() - started
    return summary


def _generate(
    recipe: Recipe,
    out_dir: Path,
    workers: int | None,
    scheduler: str | None,
    progress: ShardProgress | None,
    started: float,
) -> Summary:
    """:func:`generate` in the locked ``out_dir``."""
    from dask.distributed import as_completed

    # Here, not at the top: the card draws with matplotlib, which would cost every dask
    # worker that unpickles run_shard about a second to import.
    from pdesim.dataset_card import write_dataset_card

    damaged: list[dict[str, Any]] = []
    todo, done = plan(recipe, out_dir, damaged)
    summary = Summary(recipe.name, recipe.size, str(out_dir), files_skipped=len(done))
    summary.regenerated = damaged
    #: Diverged trajectories of shards that left no file (the others are in their file).
    unfiled = dict.fromkeys(SPLITS, 0)
    if todo:
        client, cluster = _client(workers, scheduler)
        try:
            futures = {
                client.submit(
                    run_shard,
                    recipe,
                    shard,
                    _shard_path(out_dir, shard),
                    key=f"{recipe.name}-{recipe.hash}-{shard.split}-{shard.filename}",
                    retries=2,
                    pure=False,
                ): shard
                for shard in todo
            }
            for future in as_completed(futures):
                shard = futures[future]
                try:
                    report = future.result()
                except Exception as exc:  # reported in the summary, the others go on
                    report = {"path": shard.relative_path, "error": f"{type(exc).__name__}: {exc}"}
                    summary.failures.append(report)
                else:
                    # Checked here, where the dataset is read: a worker without the
                    # shared filesystem may have written it where only it can see.
                    if problem := _not_where_expected(report, out_dir, recipe, shard):
                        report = _misplaced(report, shard, problem, client, future)
                        summary.failures.append(report)
                    else:
                        summary.files_written += report["trajectories"] > 0
                        summary.trajectories += report["trajectories"]
                        summary.trajectory_steps += report["trajectory_steps"]
                        summary.excluded.extend(report["excluded"])
                        if not report["trajectories"]:
                            unfiled[shard.split] += len(report["excluded"])
                if progress is not None:
                    progress(report)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    contents = split_contents(out_dir, recipe.hash)
    for split in SPLITS:
        contents[split]["excluded"] += unfiled[split]
    asked = planned_trajectories(recipe.raw, recipe.size)
    summary.failures += [
        {"split": split, "error": problem}
        for split, problem in split_problems(contents, asked).items()
    ]
    files = sorted((out_dir / "data").glob("*/*.hdf5"))
    summary.bytes = sum(f.stat().st_size for f in files)
    up_to_date = not todo and (out_dir / "stats.yaml").exists() and (out_dir / "README.md").exists()
    if not summary.failures and files and not up_to_date:
        write_stats(out_dir)
        summary.wall_time = time.perf_counter() - started
        write_dataset_card(recipe, out_dir, summary)
    return summary


def _shard_path(out_dir: Path, shard: Shard) -> str:
    """The absolute path a worker writes ``shard`` to (``out_dir`` is absolute)."""
    return str(out_dir / shard.relative_path)


def _not_where_expected(report: dict[str, Any], out_dir: Path, recipe: Recipe, shard: Shard) -> str:
    """Why the file of a shard a worker reports done is not, for this process, where it
    was sent and complete ("" if it is). A shard whose every trajectory diverged writes
    no file (the split check counts it)."""
    import h5py

    expected = _shard_path(out_dir, shard)
    if report.get("path") != expected:
        return f"reports the path {report.get('path')!r}, not {expected!r} as sent"
    if not report.get("trajectories"):
        return ""
    if not os.path.isfile(expected):
        return f"the client finds no file at {expected!r}"
    try:
        with h5py.File(expected, "r") as h5:
            found = h5.attrs.get(SHARD_ATTR), h5.attrs.get(RECIPE_HASH_ATTR)
    except OSError as exc:
        return f"the client cannot read {expected!r} as HDF5 ({exc})"
    if found != (shard.relative_path, recipe.hash):
        return (
            f"the file at {expected!r} carries shard {found[0]!r} of recipe hash "
            f"{found[1]!r}, not shard {shard.relative_path!r} of {recipe.hash!r}"
        )
    return ""


def _misplaced(
    report: dict[str, Any], shard: Shard, problem: str, client: Any, future: Any
) -> dict[str, Any]:
    """The failure record of a shard whose file is not where it was sent."""
    worker = report.get("worker") or f"worker {_holder(client, future)}"
    return {
        "path": shard.relative_path,
        "error": (
            f"{SharedFilesystemError.__name__}: {worker} ran shard {shard.relative_path}, "
            f"but {problem}; {SHARED_FS_HINT}"
        ),
    }


def _holder(client: Any, future: Any) -> str:
    """The address of the worker holding ``future``'s result ("unknown" if none is)."""
    try:
        addresses = client.who_has([future]).get(future.key, ())
    except Exception:  # a scheduler gone meanwhile: the message still names the path
        addresses = ()
    return ", ".join(addresses) or "unknown"


def summary_dict(summary: Summary) -> dict[str, Any]:
    return {**asdict(summary), "ok": summary.ok}
