"""Speed of the Chialvo ring-star map: batched parameter sweeps and the FFT ring Laplacian.

What is measured (all ratios against a baseline timed in the same run):

* **sweep, network**: the smallest ring-star (K4, pairwise + linear triadic coupling)
  iterated for 1024 values of ``k`` (and ``sigma``) as one ``(1024, 2, 4)`` array
  (``ChialvoRingStar.sweep_stepper``), against a Python loop over the values, each
  with its own single-trajectory stepper (timed on 64 values, scaled per value).
  Both are first checked to give the same states.
* **sweep, single map** (for information): ``pdesim.maps.bifurcation_diagram`` over
  1024 values of ``k`` against a plain scalar Python loop (``math.exp``) over the
  values (timed on 64, scaled).
* **ring Laplacian**: ``sum_{d<=R} (x_{i+d} + x_{i-d} - 2 x_i)`` on a ring of ``M``
  nodes (batch 8) by real FFTs, by ``R`` shifted sums ("roll") and by a dense
  ``M x M`` matrix product, checked equal to 1e-12 (relative).

Run ``python benchmarks/bench_chialvo.py`` (``make bench-chialvo``). Prints a table;
writes ``benchmarks/results/bench_chialvo.json``. The target (issue 5) is a network
sweep speed-up >= 50x.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import pdesim
from pdesim.graph import diffusion_matrix, ring_diffusion, ring_star_adjacency
from pdesim.maps import ChialvoMap, bifurcation_diagram

RESULTS = Path(__file__).resolve().parent / "results" / "bench_chialvo.json"
N_VALUES = 1024
N_LOOP = 64
N_ITER = 500
TARGET = 50.0


def best_of(fn: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def network_sweep() -> dict:
    system = pdesim.make_system("chialvo_ring_star", preset="smallest_ring_star")
    k = np.linspace(0.0, 0.06, N_VALUES)
    sigma = np.linspace(0.0, 0.05, N_VALUES)
    initial = np.random.default_rng(0).uniform(0, 1, (N_VALUES, 2, 4))

    def batched() -> np.ndarray:
        stepper = system.sweep_stepper({"k": k, "sigma": sigma})
        state = stepper.to_state(initial)
        for i in range(N_ITER):
            stepper.step(state, float(i))
        return state

    def looped() -> np.ndarray:
        out = []
        for i in range(N_LOOP):
            one = pdesim.make_system(
                "chialvo_ring_star", preset="smallest_ring_star", k=k[i], sigma=sigma[i]
            )
            stepper = one.make_stepper(1.0)
            state = stepper.to_state(initial[i : i + 1])
            for n in range(N_ITER):
                stepper.step(state, float(n))
            out.append(state[0])
        return np.array(out)

    max_diff = float(np.abs(batched()[:N_LOOP] - looped()).max())
    assert max_diff < 1e-9, max_diff
    t_batch = best_of(batched) / N_VALUES
    t_loop = best_of(looped, rounds=2) / N_LOOP
    return {
        "case": f"K4 network, {N_VALUES} values x {N_ITER} iterations",
        "us_per_value_batched": 1e6 * t_batch,
        "us_per_value_loop": 1e6 * t_loop,
        "speedup": t_loop / t_batch,
        "max_abs_difference": max_diff,
    }


def map_sweep() -> dict:
    base = ChialvoMap(b=0.18)
    k = np.linspace(-0.06, 0.13, N_VALUES)

    def batched() -> np.ndarray:
        return bifurcation_diagram(base, "k", k, n_transient=N_ITER, n_keep=1, n_lyapunov=1).x[:, 0]

    def looped() -> np.ndarray:
        out = []
        for value in k[:N_LOOP]:
            x, y = 0.1, 0.1
            for _ in range(N_ITER):
                x, y = x * x * math.exp(y - x) + value, base.a * y - base.b * x + base.c
            out.append(x)
        return np.array(out)

    max_diff = float(np.abs(batched()[:N_LOOP] - looped()).max())
    t_batch = best_of(batched) / N_VALUES
    t_loop = best_of(looped, rounds=2) / N_LOOP
    return {
        "case": f"single map, {N_VALUES} values x {N_ITER} iterations",
        "us_per_value_batched": 1e6 * t_batch,
        "us_per_value_loop": 1e6 * t_loop,
        "speedup": t_loop / t_batch,
        "max_abs_difference": max_diff,
    }


def ring_cases() -> list[dict]:
    rows = []
    rng = np.random.default_rng(1)
    for m, r in [(256, 8), (1000, 50), (1000, 250), (4000, 100), (4000, 1000), (16000, 4000)]:
        x = rng.standard_normal((8, m))
        fft = ring_diffusion(x, r, "fft")
        roll = ring_diffusion(x, r, "roll")
        row = {"M": m, "R": r}
        row["ms_fft"] = 1e3 * best_of(lambda x=x, r=r: ring_diffusion(x, r, "fft"), 5)
        row["ms_roll"] = 1e3 * best_of(lambda x=x, r=r: ring_diffusion(x, r, "roll"), 3)
        scale = np.abs(roll).max()
        error = np.abs(fft - roll).max()
        if m <= 4000:
            dense = diffusion_matrix(ring_star_adjacency(m + 1, r, 0.0, 1.0))[1:, 1:].T.copy()
            row["ms_dense"] = 1e3 * best_of(lambda x=x, d=dense: x @ d, 3)
            error = max(error, np.abs(fft - x @ dense).max())
        row["rel_error"] = float(error / scale)
        assert row["rel_error"] < 1e-12, row
        rows.append(row)
    return rows


def main() -> None:
    sweeps = [network_sweep(), map_sweep()]
    ring = ring_cases()
    print(f"{'sweep':<44} {'us/value batched':>17} {'us/value loop':>14} {'speed-up':>9}")
    for row in sweeps:
        print(
            f"{row['case']:<44} {row['us_per_value_batched']:>17.1f} "
            f"{row['us_per_value_loop']:>14.1f} {row['speedup']:>8.0f}x"
        )
    print()
    print(
        f"{'ring M':>7} {'R':>5} {'fft ms':>8} {'roll ms':>8} {'dense ms':>9} "
        f"{'roll/fft':>9} {'rel err':>9}"
    )
    for row in ring:
        dense = f"{row['ms_dense']:9.2f}" if "ms_dense" in row else f"{'-':>9}"
        print(
            f"{row['M']:>7} {row['R']:>5} {row['ms_fft']:>8.3f} {row['ms_roll']:>8.3f} {dense} "
            f"{row['ms_roll'] / row['ms_fft']:>8.1f}x {row['rel_error']:>9.1e}"
        )
    speedup = sweeps[0]["speedup"]
    verdict = "met" if speedup >= TARGET else "NOT met"
    print(f"\ntarget: network sweep >= {TARGET:g}x a Python loop: {verdict} ({speedup:.0f}x)")
    result = {
        "benchmark": "chialvo",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pdesim": pdesim.__version__,
        "sweeps": sweeps,
        "ring_laplacian": ring,
        "target_speedup": TARGET,
        "target_met": speedup >= TARGET,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
