"""Time per ETDRK4 step of pdesim's Kuramoto-Sivashinsky solvers, against a limit model.

What is measured, per case (system, grid size N, batch B, FFT backend):

* **ms/step**: wall time of one ``SpectralStepper.step`` advancing all ``B``
  trajectories by one ETDRK4 step (best round of several; ``time.process_time`` of
  that round is kept in the JSON).
* **numpy reference**: the same scheme written the straightforward way with
  ``numpy.fft`` and temporaries (as in Kassam & Trefethen's ``kursiv.m``), timed on
  the same case in the same run. Both steps are first checked to agree to 1e-8.
* **limit model**: ``t_limit = t_fft + t_mem`` with ``t_fft`` = (real FFTs per step
  / 2) x the measured time of one rfftn + irfftn pair of the same batched shape and
  backend, and ``t_mem`` = full-array element-wise passes per step (counted from the
  pdesim code) x the measured time of one ``np.multiply(a, b, out=c)`` pass over an
  array of that shape. ``% of limit = 100 t_limit / t_measured``.
* **batched vs loop** (KS1D, N = 64, B = 1024): time per trajectory-step of the
  batched step against stepping 64 separate single-trajectory states one after
  another (scaled per trajectory-step).

Run ``python benchmarks/bench_spectral.py`` (``make bench``). Prints a table and a
targets section; writes ``benchmarks/results/bench_spectral.json``. FFT threads are 1
unless ``PDESIM_FFT_THREADS`` says otherwise. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyfftw
import scipy
import scipy.fft

import pdesim
from pdesim.integrators import ETDRK4

RESULTS = Path(__file__).resolve().parent / "results" / "bench_spectral.json"
BACKENDS = ("pyfftw", "scipy")
NONLINEAR_EVALS = 4  # ETDRK4 evaluates N(.) four times per step


@dataclass(frozen=True)
class Case:
    system: str
    L: float
    N: int
    dt: float
    batches: tuple[int, ...]


CASES = (
    Case("ks1d", 22.0, 64, 0.25, (1, 4, 16, 64, 256, 1024)),
    Case("ks1d", 22.0, 128, 0.25, (1, 4, 16, 64, 256, 1024)),
    Case("ks2d", 32 * np.pi, 128, 0.1, (1, 4)),
    Case("ks2d", 64 * np.pi, 256, 0.1, (1, 4)),
)
QUICK_CASES = (
    Case("ks1d", 22.0, 64, 0.25, (1, 1024)),
    Case("ks2d", 32 * np.pi, 128, 0.1, (1,)),
)
LOOP_CASE = ("ks1d", 64, 1024)  # (system, N, B) of the batched-vs-loop comparison
LOOP_STATES = 64


# --------------------------------------------------------------------------- timing


def timed_loop(fn: Callable[[], object]) -> Callable[[int], tuple[float, float]]:
    """``run(reps)`` calling ``fn`` ``reps`` times; returns (wall, cpu) seconds."""

    def run(reps: int) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        return time.perf_counter() - w0, time.process_time() - c0

    return run


def measure(
    run: Callable[[int], tuple[float, float]], target: float, rounds: int
) -> tuple[float, float]:
    """Best (minimum) wall seconds per repetition over ``rounds`` rounds of about
    ``target`` seconds each, and the process time per repetition of that round.

    The calibration rounds double as warm-up.
    """
    reps, wall = 1, 0.0
    while True:
        wall, _ = run(reps)
        if wall >= target / 4 or reps >= 1 << 22:
            break
        grow = 8 if wall <= 0 else min(8.0, max(2.0, target / 3 / wall))
        reps = int(math.ceil(reps * grow))
    reps = max(1, round(reps * target / max(wall, 1e-9)))
    best_wall, best_cpu = math.inf, math.inf
    for _ in range(rounds):
        wall, cpu = run(reps)
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    return best_wall / reps, best_cpu / reps


# --------------------------------------------------------------------------- systems


@contextmanager
def fft_backend(name: str):
    """Set ``PDESIM_FFT`` while a system's transform is created."""
    old = os.environ.get("PDESIM_FFT")
    os.environ["PDESIM_FFT"] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ["PDESIM_FFT"]
        else:
            os.environ["PDESIM_FFT"] = old


def make_system(case: Case, backend: str):
    with fft_backend(backend):
        system = pdesim.make_system(case.system, L=case.L, N=case.N)
        actual = system.transform.backend.name  # the cached_property is created here
    if actual != backend:
        raise RuntimeError(f"asked for FFT backend {backend!r}, got {actual!r}")
    return system


def initial_fields(system, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([system.initial_condition("random", rng) for _ in range(batch)])


# --------------------------------------------------------------------------- numpy reference


class NumpyReference:
    """ETDRK4 for KS written the straightforward way (``kursiv.m`` style) with numpy.fft.

    Kassam-Trefethen coefficients by the contour mean (vectorised over the ``M``
    points of the upper half circle, real part kept), 2/3 dealiasing of the product's
    input and output, temporaries everywhere. The state is the rfft(n) coefficient
    array ``(B, 1, *spectral)``, as in pdesim.
    """

    def __init__(self, case: Case, contour_points: int = 32) -> None:
        n, length, h = case.N, case.L, case.dt
        self.n = n
        self.ndim = 1 if case.system == "ks1d" else 2
        m_last = np.arange(n // 2 + 1)
        k_last = 2 * np.pi / length * m_last
        if self.ndim == 1:
            k2 = k_last**2
            mask = np.abs(m_last) < n / 3
            self.g = -0.5j * k_last * mask
        else:
            m_first = np.fft.fftfreq(n, 1.0 / n)[:, None]
            k_first = 2 * np.pi / length * m_first
            k2 = k_first**2 + k_last[None, :] ** 2
            mask = (np.abs(m_first) < n / 3) & (np.abs(m_last)[None, :] < n / 3)
            self.ikx = 1j * k_first * mask
            self.iky = 1j * k_last[None, :] * mask
            self.g = -0.5 * mask
        self.mask = mask
        lin = k2 - k2**2
        self.E = np.exp(h * lin)
        self.E2 = np.exp(h * lin / 2)
        r = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
        lr = h * lin[..., None] + r
        self.Q = h * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=-1))
        self.f1 = h * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, -1))
        self.f2 = h * np.real(np.mean((2 + lr + np.exp(lr) * (lr - 2)) / lr**3, axis=-1))
        self.f3 = h * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, -1))

    def nonlinear(self, v: np.ndarray) -> np.ndarray:
        if self.ndim == 1:
            return self.g * np.fft.rfft(np.fft.irfft(self.mask * v, n=self.n) ** 2)
        s = (self.n, self.n)
        ux = np.fft.irfft2(self.ikx * v, s=s)
        uy = np.fft.irfft2(self.iky * v, s=s)
        return self.g * np.fft.rfft2(ux**2 + uy**2)

    def step(self, v: np.ndarray) -> np.ndarray:
        E, E2, Q, f1, f2, f3 = self.E, self.E2, self.Q, self.f1, self.f2, self.f3
        Nv = self.nonlinear(v)
        a = E2 * v + Q * Nv
        Na = self.nonlinear(a)
        b = E2 * v + Q * Na
        Nb = self.nonlinear(b)
        c = E2 * a + Q * (2 * Nb - Nv)
        Nc = self.nonlinear(c)
        return E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3


def check_agreement(case: Case, backend: str, batch: int, steps: int = 5) -> float:
    """Max relative difference of pdesim's and the reference's state after ``steps``."""
    system = make_system(case, backend)
    stepper = system.make_stepper(case.dt)
    u0 = initial_fields(system, batch, seed=1)
    state = stepper.to_state(u0.copy())
    ref = NumpyReference(case)
    v = np.fft.rfftn(u0, axes=tuple(range(-ref.ndim, 0)))
    for n in range(steps):
        stepper.step(state, n * case.dt)
        v = ref.step(v)
    diff = float(np.abs(state - v).max() / np.abs(v).max())
    assert diff < 1e-8, f"{case.system} N={case.N} {backend}: reference differs by {diff:.2e}"
    return diff


# --------------------------------------------------------------------------- limit model


def fft_pair_time(
    backend, physical: tuple[int, ...], ndim: int, target: float, rounds: int
) -> float:
    """Seconds of one forward + inverse real FFT of the batched ``physical`` shape."""
    axes = tuple(range(-ndim, 0))
    spectral = (*physical[:-1], physical[-1] // 2 + 1)
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(physical)
    if backend.name == "scipy":
        w = backend.threads
        return measure(
            timed_loop(lambda: scipy.fft.irfftn(scipy.fft.rfftn(x0, axes=axes, workers=w),
                                                s=physical[-ndim:], axes=axes, workers=w)),
            target,
            rounds,
        )[0]
    x = pyfftw.empty_aligned(physical, dtype=np.float64)
    xh = pyfftw.empty_aligned(spectral, dtype=np.complex128)
    flags = (backend.planner, "FFTW_DESTROY_INPUT")  # the flags pdesim plans with
    kw = {"axes": axes, "flags": flags, "threads": backend.threads}
    forward = pyfftw.FFTW(x, xh, **kw)
    inverse = pyfftw.FFTW(xh, x, direction="FFTW_BACKWARD", **kw)
    chunk = 16  # unnormalised round trips scale x by prod(N): refill (untimed) every 16

    def run(reps: int) -> tuple[float, float]:
        wall = cpu = 0.0
        done = 0
        while done < reps:
            np.copyto(x, x0)
            n = min(chunk, reps - done)
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                forward.execute()
                inverse.execute()
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            done += n
        return wall, cpu

    return measure(run, target, rounds)[0]


def pass_time(shape: tuple[int, ...], dtype: type, target: float, rounds: int) -> float:
    """Seconds of one ``np.multiply(a, b, out=c)`` over arrays of ``shape``."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    if np.iscomplexobj(a):
        a += 1j * rng.standard_normal(shape)
        b += 1j * rng.standard_normal(shape)
    c = np.empty_like(a)
    return measure(timed_loop(lambda: np.multiply(a, b, out=c)), target, rounds)[0]


def pass_counts(system: str, backend: str) -> dict[str, int]:
    """Full-array element-wise passes per step, counted from the pdesim code.

    Complex passes are over the state's shape ``(B, 1, *spectral)``, real passes over
    ``(B, 1, *physical)``. pyfftw normalises the inverse with one extra real pass per
    transformed array (``PyFFTWBackend.execute``); scipy does it inside the FFT.
    """
    normalise = backend == "pyfftw"
    if system == "ks1d":
        # _advection.py: input mask multiply, output multiplier | square (+ normalisation)
        complex_per_eval, real_per_eval, ffts = 2, 1 + normalise, 8
    else:
        # kuramoto_sivashinsky.py: 2 gradient multiplies, output multiplier |
        # 2 squares + 1 add (+ normalisation of the (2, B, 1, N, N) gradient array)
        complex_per_eval, real_per_eval, ffts = 3, 3 + 2 * normalise, 12
    return {
        "ffts_per_step": ffts,
        "complex_passes": ETDRK4.ELEMENTWISE_PASSES + NONLINEAR_EVALS * complex_per_eval,
        "real_passes": NONLINEAR_EVALS * real_per_eval,
    }


# --------------------------------------------------------------------------- driver


def machine_info() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pyfftw": pyfftw.__version__,
        "fftw": pyfftw.fftw_version,
        "pdesim": pdesim.__version__,
        "fft_threads": int(os.environ["PDESIM_FFT_THREADS"]),
        "fft_planner": os.environ.get("PDESIM_FFT_PLANNER", "measure"),
        "loadavg_start": list(os.getloadavg()),
    }


def bench_case(case: Case, target: float, rounds: int, rows: list[dict]) -> None:
    ndim = 1 if case.system == "ks1d" else 2
    ref = NumpyReference(case)
    systems = {name: make_system(case, name) for name in BACKENDS}
    steppers = {name: s.make_stepper(case.dt) for name, s in systems.items()}
    grid = systems[BACKENDS[0]].grid
    for batch in case.batches:
        u0 = initial_fields(systems[BACKENDS[0]], batch)
        axes = tuple(range(-ndim, 0))
        v = [np.fft.rfftn(u0, axes=axes)]

        def ref_step(v=v):
            v[0] = ref.step(v[0])

        for _ in range(3):
            ref_step()
        t_ref, _ = measure(timed_loop(ref_step), target, rounds)
        spectral = (batch, 1, *grid.spectral_shape)
        physical = (batch, 1, *grid.shape)
        t_cpass = pass_time(spectral, np.complex128, target / 3, rounds)
        t_rpass = pass_time(physical, np.float64, target / 3, rounds)
        for name in BACKENDS:
            stepper = steppers[name]
            state = stepper.to_state(u0.copy())
            clock = [0.0]

            def step(stepper=stepper, state=state, clock=clock):
                stepper.step(state, clock[0])
                clock[0] += case.dt

            for _ in range(3):  # buffers, FFT plans
                step()
            t_step, c_step = measure(timed_loop(step), target, rounds)
            if not np.isfinite(state).all():
                raise RuntimeError(f"{case.system} N={case.N} B={batch} {name}: diverged")
            backend = systems[name].transform.backend
            t_pair = fft_pair_time(backend, physical, ndim, target / 2, rounds)
            counts = pass_counts(case.system, name)
            t_fft = counts["ffts_per_step"] / 2 * t_pair
            t_mem = counts["complex_passes"] * t_cpass + counts["real_passes"] * t_rpass
            t_limit = t_fft + t_mem
            row = {
                "system": case.system,
                "L": case.L,
                "N": case.N,
                "grid_shape": list(grid.shape),
                "batch": batch,
                "backend": name,
                "dt": case.dt,
                "ms_per_step": 1e3 * t_step,
                "cpu_ms_per_step": 1e3 * c_step,
                "traj_steps_per_s": batch / t_step,
                "pct_of_limit": 100.0 * t_limit / t_step,
                "reference_ms_per_step": 1e3 * t_ref,
                "ratio_vs_numpy": t_ref / t_step,
                "limit": {
                    **counts,
                    "fft_pair_ms": 1e3 * t_pair,
                    "complex_pass_us": 1e6 * t_cpass,
                    "real_pass_us": 1e6 * t_rpass,
                    "complex_pass_GBps": 3 * 16 * math.prod(spectral) / t_cpass / 1e9,
                    "real_pass_GBps": 3 * 8 * math.prod(physical) / t_rpass / 1e9,
                    "t_fft_ms": 1e3 * t_fft,
                    "t_mem_ms": 1e3 * t_mem,
                    "t_limit_ms": 1e3 * t_limit,
                },
                "batched_vs_loop": None,
            }
            if (case.system, case.N, batch) == LOOP_CASE:
                row.update(batched_vs_loop(case, stepper, systems[name], row, target, rounds))
            rows.append(row)


def batched_vs_loop(case, stepper, system, row, target, rounds) -> dict:
    """Per trajectory-step time of ``LOOP_STATES`` single-trajectory states stepped in turn."""
    u0 = initial_fields(system, LOOP_STATES, seed=4)
    states = [stepper.to_state(u0[i : i + 1].copy()) for i in range(LOOP_STATES)]

    def sweep():
        for s in states:
            stepper.step(s, 0.0)

    sweep()
    t_loop = measure(timed_loop(sweep), target, rounds)[0] / LOOP_STATES
    t_batched = row["ms_per_step"] / 1e3 / row["batch"]
    return {
        "batched_vs_loop": t_loop / t_batched,
        "loop_us_per_traj_step": 1e6 * t_loop,
        "batched_us_per_traj_step": 1e6 * t_batched,
    }


def row_by(rows, system, n, batch, backend):
    for r in rows:
        if (r["system"], r["N"], r["batch"], r["backend"]) == (system, n, batch, backend):
            return r
    return None


def targets(rows: list[dict]) -> list[dict]:
    out = []
    r = row_by(rows, "ks2d", 256, 1, "pyfftw")
    if r is not None:
        out.append({
            "target": "KS2D 256^2 B=1 pyfftw: >= 70 % of limit",
            "value": f"{r['pct_of_limit']:.0f} %",
            "met": r["pct_of_limit"] >= 70.0,
        })
        out.append({
            "target": "KS2D 256^2 B=1 pyfftw: >= 1.5x faster than numpy reference",
            "value": f"{r['ratio_vs_numpy']:.2f}x",
            "met": r["ratio_vs_numpy"] >= 1.5,
        })
    r = row_by(rows, *LOOP_CASE, "pyfftw")
    if r is not None:
        out.append({
            "target": "KS1D N=64 B=1024 pyfftw: >= 20x faster per traj-step than a loop",
            "value": f"{r['batched_vs_loop']:.1f}x",
            "met": r["batched_vs_loop"] >= 20.0,
        })
    return out


def print_table(rows: list[dict], goals: list[dict]) -> None:
    head = (
        f"{'system':<6} {'N':>4} {'batch':>5} {'backend':<7} {'ms/step':>9} "
        f"{'traj-steps/s':>12} {'limit ms':>9} {'% limit':>7} {'vs numpy':>8} {'vs loop':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        loop = "" if r["batched_vs_loop"] is None else f"{r['batched_vs_loop']:.1f}x"
        print(
            f"{r['system']:<6} {r['N']:>4} {r['batch']:>5} {r['backend']:<7} "
            f"{r['ms_per_step']:>9.3f} {r['traj_steps_per_s']:>12.0f} "
            f"{r['limit']['t_limit_ms']:>9.3f} {r['pct_of_limit']:>6.0f}% "
            f"{r['ratio_vs_numpy']:>7.2f}x {loop:>7}"
        )
    print()
    print("targets")
    for g in goals:
        print(f"  [{'met' if g['met'] else 'NOT met':>7}] {g['target']}: {g['value']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, short rounds")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)

    os.environ.setdefault("PDESIM_FFT_THREADS", "1")
    cases = QUICK_CASES if args.quick else CASES
    target, rounds = (0.05, 2) if args.quick else (0.2, 5)
    info = machine_info()
    started = time.perf_counter()

    agreement = {}
    for case in (Case("ks1d", 22.0, 64, 0.25, (4,)), Case("ks2d", 32 * np.pi, 128, 0.1, (1,))):
        for name in BACKENDS:
            key = f"{case.system} N={case.N} B={case.batches[0]} {name}"
            agreement[key] = check_agreement(case, name, case.batches[0])

    rows: list[dict] = []
    for case in cases:
        bench_case(case, target, rounds, rows)
    goals = targets(rows)
    print_table(rows, goals)

    info["loadavg_end"] = list(os.getloadavg())
    result = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "settings": {"round_seconds": target, "rounds": rounds, "loop_states": LOOP_STATES},
        "reference_agreement_max_rel_diff": agreement,
        "runtime_s": time.perf_counter() - started,
        "rows": rows,
        "targets": goals,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
