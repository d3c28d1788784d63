"""Recipes -> shards -> datasets: parallel, resumable, deterministic generation with dask.

One shard is one task is one file: a batch of trajectories with one parameter
setting. Shards run as futures on a ``dask.distributed`` cluster -- a
``LocalCluster`` of single-threaded worker processes by default, or any running
cluster given its scheduler address -- and each writes its own file under a
temporary name, renamed when complete (:class:`pdesim.io.WellWriter`). A file that
exists and carries the recipe's hash is complete and is skipped on a re-run; stale
files (another recipe hash) and leftovers of killed runs are redone.

Determinism: trajectory ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``, a
shard's computation does not depend on which worker runs it, and shards use FFTW's
``estimate`` planner without wisdom (a timed ``measure`` plan can differ between
processes and change the last bits). So the data are bit-identical whatever the
number of workers and after an interrupted, resumed run.

A diverging trajectory never reaches a file: the shard is re-run trajectory by
trajectory, each diverging one retried at ``dt/2, dt/4, ...`` as the recipe allows
(``run.dt_halvings``) and otherwise excluded and listed in the summary.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from pdesim.common import VERSION, SimulationDiverged
from pdesim.io import (
    DT_PER_TRAJECTORY_ATTR,
    EXCLUDED_ATTR,
    FFT_ATTR,
    HOST_ATTR,
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
from pdesim.recipes import Recipe, Shard, Summary
from pdesim.simulate import Run, simulate
from pdesim.stats import write_stats
from pdesim.systems import make_system

ShardProgress = Callable[[dict[str, Any]], None]
"""Called with each finished shard's report."""

#: Environment every shard runs under (see the module docstring).
SHARD_ENVIRONMENT = {"PDESIM_FFT_PLANNER": "estimate", "PDESIM_FFT_WISDOM": "off"}


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


def run_shard(recipe: Recipe, shard: Shard, path: str) -> dict[str, Any]:
    """Generate one shard into ``path`` (atomically); returns its report.

    Runs in a dask worker; everything it needs is in its arguments.
    """
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
        HOST_ATTR: platform.node(),
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


def _is_current(path: Path, recipe_hash: str) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return h5.attrs.get(RECIPE_HASH_ATTR) == recipe_hash
    except OSError:
        return False


def plan(recipe: Recipe, out_dir: Path) -> tuple[list[Shard], list[Shard]]:
    """Split the recipe's shards into (to run, already complete); tidy stale files."""
    shards = recipe.shards()
    wanted = {out_dir / s.relative_path for s in shards}
    for split in SPLITS:
        folder = out_dir / "data" / split
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink()
        for old in folder.glob(f"{recipe.name}*.hdf5"):
            if old not in wanted:
                old.unlink()
    todo, done = [], []
    for shard in shards:
        path = out_dir / shard.relative_path
        (done if path.exists() and _is_current(path, recipe.hash) else todo).append(shard)
    return todo, done


def _client(workers: int | None, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
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
    workers: worker processes of the local cluster (default: one per core).
    scheduler: address of a running dask scheduler to use instead.
    progress: called with each finished shard's report.
    """
    from dask.distributed import as_completed

    # Here, not at the top: the card draws with matplotlib, which would cost every dask
    # worker that unpickles run_shard about a second to import.
    from pdesim.dataset_card import write_dataset_card

    started = time.perf_counter()
    out_dir = recipe.output_dir(Path(out_base))
    todo, done = plan(recipe, out_dir)
    summary = Summary(recipe.name, recipe.size, str(out_dir), files_skipped=len(done))
    if todo:
        client, cluster = _client(workers, scheduler)
        try:
            futures = {
                client.submit(
                    run_shard,
                    recipe,
                    shard,
                    str(out_dir / shard.relative_path),
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
                    summary.files_written += report["trajectories"] > 0
                    summary.trajectories += report["trajectories"]
                    summary.trajectory_steps += report["trajectory_steps"]
                    summary.excluded.extend(report["excluded"])
                if progress is not None:
                    progress(report)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    files = sorted((out_dir / "data").glob("*/*.hdf5"))
    summary.bytes = sum(f.stat().st_size for f in files)
    up_to_date = not todo and (out_dir / "stats.yaml").exists() and (out_dir / "README.md").exists()
    if not summary.failures and files and not up_to_date:
        write_stats(out_dir)
        summary.wall_time = time.perf_counter() - started
        write_dataset_card(recipe, out_dir, summary)
    summary.wall_time = time.perf_counter() - started
    return summary


def summary_dict(summary: Summary) -> dict[str, Any]:
    return {**asdict(summary), "ok": summary.ok}
