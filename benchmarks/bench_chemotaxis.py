"""Chemotaxis steppers: cost per step, cost per simulated time, largest stable step vs eps.

Scenario (all parts): ``keller_segel_indirect`` on the 2-D square with walls, L = 4,
tau = 1, chi = 1, a centre bump of mass 12 pi (width 0.25, 10 % background) with
prepared signals -- the case the indirect model keeps bounded.

1. **Time per step** at 64^2 and 128^2 (eps = 1) for ``imex_sbdf2``, ``imex_euler``
   and ``etdrk4``: wall time of one ``stepper.step`` (batch 1, the best of 9 rounds of
   about 0.2 s, rounds of the methods interleaved). ``vs sbdf2`` is the ratio of a
   method's time to the SBDF2 time measured in the same run.
2. **Time per simulated time**: ms/step divided by the largest step of the ladder
   ``0.05 / 2^j`` whose density at t = 0.05 is within 1e-3 (relative max norm) of an
   ETDRK4 reference with dt = 2.5e-5. This is the cost of one unit of simulated time
   at that accuracy; ``vs sbdf2`` as above.
3. **Largest stable dt** at 64^2 as eps decreases (1, 0.1, 0.01, 1e-3, 1e-4, 0): the
   largest step of the ladder ``0.8 / 2^j`` (0.1 down to 2e-4; ">=" when the top,
   0.1, is stable: the limit lies beyond the ladder)
   for which a run to t = 0.8 finishes without ``SimulationDiverged`` (non-finite,
   blow-up, negative density or unresolved tail, checked at every step) -- searched
   from the largest step down. The error column is the relative max-norm distance of
   n at t = 0.8 to an SBDF2 run with dt = 0.8 / 2^14.

Run ``python benchmarks/bench_chemotaxis.py`` (``make bench-chemotaxis``); ``--quick``
runs part 1 at 64^2 and part 3 for eps = 1 and 0 only. Prints tables and writes
``benchmarks/results/bench_chemotaxis.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import pdesim

RESULTS = Path(__file__).resolve().parent / "results" / "bench_chemotaxis.json"
METHODS = ("imex_sbdf2", "imex_euler", "etdrk4")
BASE = {"dim": 2, "L": 4.0, "tau": 1.0, "chi": 1.0, "mass": 12 * np.pi, "width": 0.25}


def _ladder(t_end: float, first: int, smallest: float) -> list[float]:
    """Steps ``t_end / 2^j`` from ``t_end / 2^first`` down to ``smallest``, largest first."""
    return [t_end / 2**j for j in range(first, 40) if t_end / 2**j >= smallest]


def _system(n: int, eps: float) -> pdesim.systems.System:
    return pdesim.make_system("keller_segel_indirect", N=n, eps=eps, **BASE)


def _final(system, method: str, dt: float, t_end: float, save_every: float) -> np.ndarray:
    run = pdesim.simulate(
        system, t_end=t_end, dt=dt, save_every=save_every, initial="centre", method=method
    )
    return run.fields["n"][0, -1]


def _step_times(n: int, rounds: int = 9) -> dict[str, float]:
    """Best wall time of one step per method (interleaved rounds of ~0.2 s)."""
    system = _system(n, 1.0)
    fields = system.initial_condition("centre", np.random.default_rng(0))[None]
    steppers = {m: system.make_stepper(1e-4, m) for m in METHODS}
    states = {m: s.to_state(fields) for m, s in steppers.items()}
    counts = {}
    for m, stepper in steppers.items():  # warm up (plans, buffers) and calibrate
        start = time.perf_counter()
        k = 0
        while time.perf_counter() - start < 0.05:
            stepper.step(states[m], k * 1e-4)
            k += 1
        counts[m] = max(5, int(0.2 * k / (time.perf_counter() - start)))
    best = dict.fromkeys(METHODS, np.inf)
    for _ in range(rounds):
        for m, stepper in steppers.items():
            state = states[m] = steppers[m].to_state(fields)
            start = time.perf_counter()
            for k in range(counts[m]):
                stepper.step(state, k * 1e-4)
            best[m] = min(best[m], (time.perf_counter() - start) / counts[m])
    return best


def _accurate_dt(n: int, t_end: float = 0.05, tolerance: float = 1e-3) -> dict[str, float]:
    """Largest ladder step per method within ``tolerance`` of a fine ETDRK4 reference."""
    system = _system(n, 1.0)
    reference = _final(system, "etdrk4", 2.5e-5, t_end, t_end)
    scale = np.abs(reference).max()
    found = {}
    for m in METHODS:
        found[m] = float("nan")
        for dt in _ladder(t_end, 2, smallest=4e-5):
            try:
                error = np.abs(_final(system, m, dt, t_end, t_end) - reference).max() / scale
            except pdesim.SimulationDiverged:
                continue
            if error <= tolerance:
                found[m] = dt
                break
    return found


def _largest_stable(eps: float, n: int = 64, t_end: float = 0.8) -> list[dict]:
    system = _system(n, eps)
    reference = _final(system, "imex_sbdf2", t_end / 2**14, t_end, t_end)
    scale = np.abs(reference).max()
    rows = []
    for m in METHODS:
        row = {"eps": eps, "method": m, "dt_stable": None, "error": None}
        ladder = _ladder(t_end, 3, smallest=1e-4)
        row["top_of_ladder"] = ladder[0]
        for dt in ladder:
            try:
                final = _final(system, m, dt, t_end, dt)
            except pdesim.SimulationDiverged:
                continue
            row["dt_stable"] = dt
            row["error"] = float(np.abs(final - reference).max() / scale)
            break
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (smoke test)")
    args = parser.parse_args()
    sizes = (64,) if args.quick else (64, 128)
    epsilons = (1.0, 0.0) if args.quick else (1.0, 0.1, 0.01, 1e-3, 1e-4, 0.0)

    cost = []
    for n in sizes:
        times = _step_times(n)
        accurate = _accurate_dt(n)
        for m in METHODS:
            per_time = times[m] / accurate[m]
            cost.append(
                {
                    "N": n,
                    "method": m,
                    "ms_per_step": 1e3 * times[m],
                    "step_vs_sbdf2": times[m] / times["imex_sbdf2"],
                    "dt_for_1e-3": accurate[m],
                    "s_per_unit_time": per_time,
                    "unit_time_vs_sbdf2": per_time / (times["imex_sbdf2"] / accurate["imex_sbdf2"]),
                }
            )
    print("Cost per step and per simulated time (eps = 1, tau = 1, mass 12 pi, batch 1)")
    print(
        f"{'grid':>8} {'method':>11} {'ms/step':>9} {'vs sbdf2':>9} {'dt@1e-3':>9} "
        f"{'s/unit t':>9} {'vs sbdf2':>9}"
    )
    for r in cost:
        print(
            f"{r['N']:>5}^2 {r['method']:>12} {r['ms_per_step']:9.3f} {r['step_vs_sbdf2']:9.2f} "
            f"{r['dt_for_1e-3']:9.2g} {r['s_per_unit_time']:9.3g} {r['unit_time_vs_sbdf2']:9.2f}"
        )

    stability = [row for eps in epsilons for row in _largest_stable(eps)]
    print()
    print("Largest stable dt (64^2, run to t = 0.8, ladder 0.8 / 2^j) as eps decreases")
    print(f"{'eps':>8} {'method':>11} {'dt stable':>10} {'rel. error':>11}")
    for r in stability:
        dt = "none" if r["dt_stable"] is None else f"{r['dt_stable']:.3g}"
        if r["dt_stable"] == r["top_of_ladder"]:
            dt = ">=" + dt
        error = "-" if r["error"] is None else f"{r['error']:.2g}"
        print(f"{r['eps']:>8g} {r['method']:>11} {dt:>10} {error:>11}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "chemotaxis",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "cpu_count": os.cpu_count(),
                "fft_backend": _system(64, 1.0).transform.backend.name,
                "scenario": {k: float(v) for k, v in BASE.items()},
                "quick": args.quick,
                "cost": cost,
                "stability": stability,
            },
            indent=2,
        )
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
