"""Dataset generation throughput: 1 vs 2 dask workers, HDF5 share, peak memory per worker.

The same recipe (2-D Kuramoto-Sivashinsky, 64^2, files of 4 trajectories as in
``datasets/ks2d.toml``, 8 files) is
generated from scratch on a warm ``LocalCluster`` of 1 and then 2 single-threaded
worker processes. Reported per run: trajectory-steps per second (from first
submission to last file), the share of the workers' time spent writing HDF5
(``WellWriter.write_seconds`` over the shards' wall time), and the peak resident
memory of each worker process. The speed-up of 2 workers over 1 is the ratio of
the two throughputs, measured in the same run; the machine's load average before
each run is printed, since a busy second core caps it.

Run: ``python benchmarks/bench_datagen.py`` (``make bench-datagen``); JSON goes to
``benchmarks/results/bench_datagen.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from dask.distributed import LocalCluster

from pdesim.data import generate
from pdesim.recipes import load_recipe

RECIPE = """
name = "bench"
system = "ks2d"
seed = 1

[parameters]
L = 62.83185307179586
N = 64

[run]
dt = 0.1
t_warmup = 10.0
t_duration = 30.0
save_every = 0.5

[sizes.small]
train = 24
valid = 4
test = 4
per_file = 4
"""

WARMUP = (
    RECIPE.replace("train = 24", "train = 2")
    .replace("valid = 4", "valid = 0")
    .replace("test = 4", "test = 0")
)


def run_once(workers: int, folder: Path) -> dict:
    recipe_path = folder / "bench.toml"
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        recipe_path.write_text(WARMUP)  # imports, FFT plans: not part of the measurement
        generate(load_recipe(recipe_path), folder / "warm", scheduler=cluster.scheduler_address)
        recipe_path.write_text(RECIPE)
        recipe = load_recipe(recipe_path)
        reports: list[dict] = []
        load = os.getloadavg()[0]
        started = time.perf_counter()
        summary = generate(
            recipe, folder / "out", scheduler=cluster.scheduler_address, progress=reports.append
        )
        elapsed = time.perf_counter() - started
    assert summary.ok, summary.failures
    busy = sum(r["wall_time"] for r in reports)
    peaks: dict[int, float] = {}
    for report in reports:
        peaks[report["worker_pid"]] = max(
            peaks.get(report["worker_pid"], 0.0), report["peak_rss_mib"]
        )
    return {
        "workers": workers,
        "load_average_before": load,
        "files": len(reports),
        "trajectory_steps": summary.trajectory_steps,
        "elapsed_s": elapsed,
        "throughput": summary.trajectory_steps / elapsed,
        "hdf5_share": sum(r["write_time"] for r in reports) / busy,
        "peak_rss_mib_per_worker": sorted(peaks.values()),
        "bytes": summary.bytes,
    }


def main() -> None:
    rows = []
    for workers in (1, 2):
        folder = Path(tempfile.mkdtemp(prefix="pdesim-bench-datagen-"))
        try:
            rows.append(run_once(workers, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    speedup = rows[1]["throughput"] / rows[0]["throughput"]
    print(
        f"{'workers':>7} {'load':>5} {'files':>5} {'traj-steps':>10} {'time s':>7} "
        f"{'traj-steps/s':>12} {'HDF5 %':>7} {'peak RSS MiB/worker':>20}"
    )
    for row in rows:
        peaks = ", ".join(f"{p:.0f}" for p in row["peak_rss_mib_per_worker"])
        print(
            f"{row['workers']:>7} {row['load_average_before']:>5.2f} {row['files']:>5} "
            f"{row['trajectory_steps']:>10} {row['elapsed_s']:>7.2f} {row['throughput']:>12.0f} "
            f"{100 * row['hdf5_share']:>6.2f}% {peaks:>20}"
        )
    print(f"\n2 workers / 1 worker throughput: {speedup:.2f}x (target >= 1.7x on an idle machine)")
    worst = max(row["hdf5_share"] for row in rows)
    print(f"largest HDF5 share: {100 * worst:.2f}% (target <= 5%)")
    out = Path(__file__).parent / "results" / "bench_datagen.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "speedup_2_over_1": speedup,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
