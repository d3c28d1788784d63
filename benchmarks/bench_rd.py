"""rd-spiral's stable preset to t = 10: pdesim (ETDRK4, IF-DP5) against rd-spiral's method.

What is compared, on rd-spiral's ``stable_spiral`` preset (d1 = d2 = 0.1, beta = 1,
L = 20, N = 128, one-armed spiral, no dealiasing), output every 0.1 to t = 10:

* **rd-spiral's method**, reimplemented here as in ``rd_spiral/core/integration.py``:
  ``scipy.integrate.solve_ivp`` (``RK45``, ``rtol = 1e-6``, ``atol = 1e-9``,
  ``t_eval`` at the outputs) on the full complex ``fft2`` spectra of ``u`` and ``v``
  concatenated into one vector, then ``ifft2`` of every output (its arrays are
  indexed ``[y, x]``; transposed here so that all three compare field by field).
* **pdesim ETDRK4** at the largest step ``h`` of 0.1, 0.05, 0.025, 0.0125 that meets the
  accuracy target, and **pdesim IF-DP5** (``method = "ifdp5"``) at the largest
  ``rtol`` of 1e-3 ... 1e-6 (``atol = 1e-3 rtol``) that meets it.
* **Accuracy target** ("equal accuracy"): the spatial std of ``u`` at t = 10 within
  1e-5 of a fine reference (pdesim ETDRK4, ``h = 0.005``). Every row reports its
  error; the rd-spiral row must meet the target too.
* **wall s**: best of ``--repeats`` runs (default 3); **peak MiB**: ``tracemalloc`` peak
  of one separate run (numpy and pyfftw buffers are traced; the grid and FFT plans
  are built before, so the peak is the run's own working set and outputs);
  **speed-up**: rd-spiral's wall time / the row's.

Target: pdesim >= 20x faster than rd-spiral's method. Run ``python
benchmarks/bench_rd.py`` (``make bench-rd``); prints a table and writes
``benchmarks/results/bench_rd.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy
from scipy.fft import fft2, ifft2
from scipy.integrate import solve_ivp

import pdesim

RESULTS = Path(__file__).resolve().parent / "results" / "bench_rd.json"
T_END = 10.0
OUTPUT_DT = 0.1
TARGET = 1e-5
SPEEDUP_TARGET = 20.0


def rd_spiral_method(system, u0: np.ndarray, v0: np.ndarray) -> dict[str, np.ndarray]:
    """rd-spiral's integration: solve_ivp RK45 on the concatenated complex fft2 spectra."""
    p = system.params
    n, big_n = p.N, p.N * p.N
    k = (2 * np.pi / p.L) * np.concatenate([np.arange(0, n // 2), np.arange(-n // 2, 0)])
    kx, ky = np.meshgrid(k, k)
    k2 = (kx**2 + ky**2).ravel()
    d1, d2, beta = p.d1, p.d2, p.beta

    def rhs(t: float, uv_hat: np.ndarray) -> np.ndarray:
        u = np.real(ifft2(uv_hat[:big_n].reshape(n, n)))
        v = np.real(ifft2(uv_hat[big_n:].reshape(n, n)))
        u2, v2 = u * u, v * v
        u3, v3 = u2 * u, v2 * v
        f = u - u3 - u * v2 + beta * (u2 * v + v3)
        g = v - u2 * v - v3 - beta * (u3 + u * v2)
        dudt = -d1 * k2 * uv_hat[:big_n] + fft2(f).ravel()
        dvdt = -d2 * k2 * uv_hat[big_n:] + fft2(g).ravel()
        return np.concatenate([dudt, dvdt])

    t_eval = np.arange(0.0, T_END + OUTPUT_DT, OUTPUT_DT)
    y0 = np.concatenate([fft2(u0).ravel(), fft2(v0).ravel()])
    sol = solve_ivp(rhs, [t_eval[0], t_eval[-1]], y0, t_eval=t_eval, rtol=1e-6, atol=1e-9)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    u = np.zeros((n, n, len(t_eval)))
    v = np.zeros((n, n, len(t_eval)))
    for i in range(len(t_eval)):
        u[:, :, i] = np.real(ifft2(sol.y[:big_n, i].reshape(n, n)))
        v[:, :, i] = np.real(ifft2(sol.y[big_n:, i].reshape(n, n)))
    return {"u": u, "v": v, "nfev": sol.nfev}


def rd_spiral_initial(system) -> tuple[np.ndarray, np.ndarray]:
    """rd-spiral's ``create_initial_conditions`` on its ``[y, x]``-indexed grid."""
    p = system.params
    x = np.linspace(-p.L / 2, p.L / 2, p.N + 1)[:-1]
    xx, yy = np.meshgrid(x, x)
    r = np.sqrt(xx**2 + yy**2)
    theta = np.angle(xx + 1j * yy)
    return np.tanh(r) * np.cos(p.arms * theta - r), np.tanh(r) * np.sin(p.arms * theta - r)


def pdesim_run(method: str, setting: float) -> Callable[[], np.ndarray]:
    """A run of pdesim returning the final u field (``setting`` = h or rtol)."""
    if method == "etdrk4":
        system = pdesim.make_system("rd_spiral", preset="stable_spiral")
        dt = setting
    else:
        system = pdesim.make_system(
            "rd_spiral", preset="stable_spiral", rtol=setting, atol=1e-3 * setting
        )
        dt = OUTPUT_DT
    system.transform  # noqa: B018  -- build the FFT plans outside the measurement

    def run() -> np.ndarray:
        result = pdesim.simulate(system, t_end=T_END, dt=dt, save_every=OUTPUT_DT, method=method)
        return result.fields["u"][0, -1]

    return run


def wall(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (best kept)")
    args = parser.parse_args()

    system = pdesim.make_system("rd_spiral", preset="stable_spiral")
    reference_u = pdesim_run("etdrk4", 0.005)()
    sigma_ref = float(reference_u.std())

    rows = []
    u0, v0 = rd_spiral_initial(system)
    rd_run = lambda: rd_spiral_method(system, u0, v0)  # noqa: E731
    rd_wall, rd_out = wall(rd_run, args.repeats)
    rd_final = rd_out["u"][:, :, -1].T
    rows.append(
        {
            "method": "rd-spiral: solve_ivp RK45 (rtol 1e-6, atol 1e-9)",
            "setting": "rtol=1e-6",
            "sigma_error": abs(float(rd_final.std()) - sigma_ref),
            "max_field_error": float(np.abs(rd_final - reference_u).max()),
            "wall_s": rd_wall,
            "peak_mib": peak_mib(rd_run),
            "evaluations": int(rd_out["nfev"]),
        }
    )

    for method, settings, label in (
        ("etdrk4", (0.1, 0.05, 0.025, 0.0125), "h"),
        ("ifdp5", (1e-3, 1e-4, 1e-5, 1e-6), "rtol"),
    ):
        for setting in settings:
            run = pdesim_run(method, setting)
            final = run()
            error = abs(float(final.std()) - sigma_ref)
            if error < TARGET:
                break
        seconds, final = wall(run, args.repeats)
        rows.append(
            {
                "method": f"pdesim {method}",
                "setting": f"{label}={setting:g}",
                "sigma_error": error,
                "max_field_error": float(np.abs(final - reference_u).max()),
                "wall_s": seconds,
                "peak_mib": peak_mib(run),
                "evaluations": None,
            }
        )

    for row in rows:
        row["meets_target"] = row["sigma_error"] < TARGET
        row["speedup"] = rd_wall / row["wall_s"]

    header = (
        f"{'method':<52} {'setting':<11} {'|dσ_u|':>9} {'max|du|':>9} "
        f"{'wall s':>8} {'peak MiB':>9} {'speed-up':>9}"
    )
    print(f"rd-spiral stable_spiral preset, N = 128, t = 0..{T_END:g}, outputs every {OUTPUT_DT}")
    print(f"fine reference: pdesim ETDRK4 h = 0.005, σ_u(10) = {sigma_ref:.8f}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['method']:<52} {row['setting']:<11} {row['sigma_error']:9.1e} "
            f"{row['max_field_error']:9.1e} {row['wall_s']:8.2f} {row['peak_mib']:9.1f} "
            f"{row['speedup']:8.1f}x"
        )
    fastest = max(rows[1:], key=lambda r: r["speedup"])
    ok = all(r["meets_target"] for r in rows) and fastest["speedup"] >= SPEEDUP_TARGET
    print(
        f"target: all rows |dσ_u| < {TARGET:g} and pdesim >= {SPEEDUP_TARGET:g}x faster: "
        f"{'met' if ok else 'NOT met'} (best {fastest['method']}, {fastest['speedup']:.1f}x)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "bench_rd",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "pdesim": pdesim.__version__,
                "t_end": T_END,
                "output_dt": OUTPUT_DT,
                "accuracy_target": TARGET,
                "sigma_reference": sigma_ref,
                "rows": rows,
                "target_met": ok,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
