"""pdesim against exponax (JAX) on the Kuramoto-Sivashinsky cases of issue 20.

Both solve the same problem in float64, checked before timing by stepping one
trajectory both ways from the same start and comparing:

* KS1D ``u_t = -u u_x - u_xx - u_xxxx`` on ``[0, L)``: exponax's
  ``KuramotoSivashinskyConservative`` (``u_t + 1/2 (u^2)_x + u_xx + u_xxxx = 0``, the
  same equation).
* KS2D ``u_t = -Δu - Δ²u - 1/2 |∇u|^2`` on ``[0, L)^2``: exponax's combustion-form
  ``KuramotoSivashinsky`` with its linear operator replaced by ``|k|^2 - |k|^4`` (its own
  fourth-order term is ``k_x^4 + k_y^4``, "without spatial mixing", not ``Δ²``). It
  also removes the mean of ``|∇u|^2`` (``zero_mode_fix``), so its mean does not drift;
  the mean feeds back into nothing, and ``u - <u>`` is compared.
* Both ETDRK4 with the Kassam-Trefethen contour mean over the same points (exponax's
  64 points on the full circle are pdesim's 32 on the upper half and their mirror
  images), and the same dealiasing: pdesim keeps ``|m| < N/3`` per axis, exponax
  ``|m| <= fraction N/2 - 1``, so ``fraction`` is set to keep the same modes.

Timing, per case: exponax ``jax.jit(exponax.repeat(stepper.step_fourier, n))`` (its
fastest path: spectral state, ``jax.vmap`` over the batch), in float64 and, for
reference, in float32 (JAX's default, which pdesim does not offer); pdesim
``stepper.advance(state, t, n)`` (many steps per call) and a Python loop of
``stepper.step`` (what ``pdesim.simulate`` does). One core each (XLA, numba, FFTW
and BLAS set to one thread by environment before any import, and the process pinned
to one core, since XLA keeps threads those settings do not stop; the JSON keeps each
measurement's CPU/wall ratio, at most about 1 on one core), jit compilation and FFTW
planning done before timing, rounds of all four interleaved,
the best round kept. Reported: microseconds per trajectory-step and the speed ratio
pdesim / exponax (``exponax time / pdesim time``: > 1 means pdesim is faster).

Run ``make bench-peers`` (installs exponax and jax[cpu] into ``.venv-peers``, never
into ``.venv``). Writes ``benchmarks/results/bench_peers.json``. See
``benchmarks/README.md``.
"""

from __future__ import annotations

import os

# One thread for everything, before numpy, numba, pyfftw or jax are imported.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ["PDESIM_FFT_THREADS"] = "1"
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["JAX_ENABLE_X64"] = "1"
os.environ["XLA_FLAGS"] = " ".join(
    [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_cpu_multi_thread_eigen=false",
        "intra_op_parallelism_threads=1",
        "--xla_force_host_platform_device_count=1",
    ]
).strip()
# One core for the whole process, threads started later included: the flags above
# leave XLA's worker threads running (exponax's CPU/wall ratio was 1.3-1.65 without
# this), and the comparison is one core each.
PINNED_CORE = max(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else None
if PINNED_CORE is not None:
    os.sched_setaffinity(0, {PINNED_CORE})

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import pdesim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bench_peers.json"
CONTOUR_POINTS = 32  # pdesim's default (upper half circle)
CHECK_STEPS = 20


@dataclass(frozen=True)
class Case:
    """One row of the table: system, domain, points per axis, step, batch, steps per call."""

    system: str
    L: float
    N: int
    dt: float
    batch: int
    steps: int

    @property
    def label(self) -> str:
        grid = f"N={self.N}" if self.system == "ks1d" else f"{self.N}²"
        return f"{self.system} L={self.L:.4g} {grid} dt={self.dt:g} B={self.batch}"


CASES = (
    Case("ks1d", 22.0, 64, 0.25, 1, 2000),
    Case("ks1d", 22.0, 64, 0.25, 1024, 20),
    Case("ks2d", 20 * math.pi, 128, 0.1, 1, 40),
    Case("ks2d", 20 * math.pi, 128, 0.1, 16, 4),
    Case("ks2d", 20 * math.pi, 256, 0.1, 1, 10),
)


def import_exponax() -> tuple[object, object]:
    """``(jax, exponax)``; exits with a message where they are not installed."""
    try:
        import exponax
        import jax
    except ImportError as exc:
        sys.exit(
            f"bench_peers: exponax and jax are not installed in this environment ({exc}); "
            "`make bench-peers` installs them into .venv-peers and runs this script there"
        )
    jax.config.update("jax_enable_x64", True)
    return jax, exponax


def dealiasing_fraction(system: pdesim.systems.base.SpectralSystem) -> float:
    """exponax's ``dealiasing_fraction`` keeping pdesim's modes: exponax keeps
    ``|m| <= fraction (N // 2) - 1``; pdesim's highest kept ``|m|`` is ``m_max``."""
    mask = system.grid.dealias_mask(system.params.dealias)
    m_max = int(np.abs(np.broadcast_to(system.grid.mode_indices[-1], mask.shape)[mask]).max())
    return (m_max + 1.5) / (system.grid.points[0] // 2)


def exponax_stepper(exponax: object, case: Case, fraction: float) -> object:
    """exponax's stepper for the same problem as pdesim's ``case.system``."""
    common = {
        "order": 4,
        "num_circle_points": 2 * CONTOUR_POINTS,
        "dealiasing_fraction": fraction,
    }
    if case.system == "ks1d":
        return exponax.stepper.KuramotoSivashinskyConservative(1, case.L, case.N, case.dt, **common)
    laplace = exponax.spectral.build_laplace_operator

    class IsotropicKS(exponax.stepper.KuramotoSivashinsky):
        """Combustion-form KS with ``L(k) = |k|^2 - |k|^4`` (pdesim's ``-Δ - Δ²``)."""

        def _build_linear_operator(self, derivative_operator):
            minus_k2 = laplace(derivative_operator, order=2)
            return -minus_k2 - minus_k2**2

    return IsotropicKS(2, case.L, case.N, case.dt, **common)


def initial_fields(system: pdesim.systems.base.SpectralSystem, batch: int) -> np.ndarray:
    """``batch`` random initial fields of ``system`` (seeded), ``(batch, 1, *space)``."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(20).spawn(batch)]
    return np.stack([system.initial_condition(system.initial_conditions[0], r) for r in rngs])


def agreement(jax: object, system: object, stepper: object, peer: object, u0: np.ndarray) -> float:
    """Max difference of one trajectory after :data:`CHECK_STEPS` steps of pdesim and of
    exponax (on physical states), relative to its max; ``u - <u>`` in 2-D."""
    state = stepper.to_state(u0[:1])
    stepper.advance(state, 0.0, CHECK_STEPS)
    ours = np.empty_like(u0[:1])
    stepper.to_fields(state, ours)
    theirs = jax.numpy.asarray(u0[0])
    for _ in range(CHECK_STEPS):
        theirs = peer(theirs)
    theirs = np.asarray(theirs)[None]
    if system.grid.ndim > 1:
        axes = tuple(range(-system.grid.ndim, 0))
        ours = ours - ours.mean(axis=axes, keepdims=True)
        theirs = theirs - theirs.mean(axis=axes, keepdims=True)
    return float(np.abs(ours - theirs).max() / np.abs(ours).max())


def timed(run: Callable[[], None], before: Callable[[], None] = lambda: None) -> Callable:
    """``run`` wrapped to return its (wall, CPU) seconds, after an untimed ``before``."""

    def one() -> tuple[float, float]:
        before()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        return time.perf_counter() - wall, time.process_time() - cpu

    return one


def exponax_rollout(jax: object, exponax: object, case: Case, peer: object, u0: np.ndarray):
    """``run()`` of exponax's jitted ``case.steps`` steps on spectral states of ``u0``
    (``jax.vmap`` over the batch; one trajectory in exponax's own layout) in the
    precision that ``jax_enable_x64`` has now."""
    axes = tuple(range(-(u0.ndim - 2), 0))
    spectral = jax.numpy.asarray(np.fft.rfftn(u0, axes=axes))
    if not jax.config.jax_enable_x64:
        spectral = spectral.astype(jax.numpy.complex64)
    rollout = exponax.repeat(peer.step_fourier, case.steps)
    if case.batch > 1:
        rollout = jax.vmap(rollout)
    else:
        spectral = spectral[0]
    rollout = jax.jit(rollout)
    return lambda: rollout(spectral).block_until_ready()


def bench_case(jax: object, exponax: object, case: Case, rounds: int) -> dict[str, object]:
    """Check agreement, then time the four ways of stepping ``case``, interleaved."""
    system = pdesim.make_system(case.system, L=case.L, N=case.N)
    stepper = system.make_stepper(case.dt)
    fraction = dealiasing_fraction(system)
    u0 = initial_fields(system, case.batch)
    peer = exponax_stepper(exponax, case, fraction)
    diff = agreement(jax, system, stepper, peer, u0)
    if not diff < 1e-8:
        raise RuntimeError(f"{case.label}: pdesim and exponax differ by {diff:.2e}")
    by_exponax = exponax_rollout(jax, exponax, case, peer, u0)
    jax.config.update("jax_enable_x64", False)  # JAX's default precision, for reference
    by_exponax_float32 = exponax_rollout(
        jax, exponax, case, exponax_stepper(exponax, case, fraction), u0
    )
    jax.config.update("jax_enable_x64", True)
    advanced = stepper.to_state(u0)
    looped = stepper.to_state(u0)

    def loop() -> None:
        for i in range(case.steps):
            stepper.step(looped, i * case.dt)

    def single() -> None:
        jax.config.update("jax_enable_x64", False)

    def double() -> None:
        jax.config.update("jax_enable_x64", True)

    runs = {
        "exponax": timed(by_exponax, double),
        "exponax_float32": timed(by_exponax_float32, single),
        "pdesim": timed(lambda: stepper.advance(advanced, 0.0, case.steps), double),
        "pdesim_step_loop": timed(loop),
    }
    for run in runs.values():  # jit compilation, numba cache, FFTW plans
        run()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(run())
    if not (np.isfinite(advanced).all() and np.isfinite(looped).all()):
        raise RuntimeError(f"{case.label}: pdesim diverged while timed")
    per_step = case.steps * case.batch
    row: dict[str, object] = {**asdict(case), "label": case.label, "agreement": diff}
    for name, values in samples.items():
        wall, cpu = min(values)
        row[name + "_us"] = 1e6 * wall / per_step
        row[name + "_cpu_over_wall"] = cpu / wall
    row["speed_ratio"] = row["exponax_us"] / row["pdesim_us"]
    row["speed_ratio_step_loop"] = row["exponax_us"] / row["pdesim_step_loop_us"]
    row["speed_ratio_float32"] = row["exponax_float32_us"] / row["pdesim_us"]
    row["stepper"] = type(stepper).__name__
    return row


def print_table(rows: list[dict[str, object]]) -> None:
    head = (
        f"{'case':<34} {'exponax':>9} {'(f32)':>9} {'pdesim':>9} {'(loop)':>9}"
        f" {'pdesim/exponax':>15} {'(loop)':>7} {'(f32)':>7}"
    )
    print("microseconds per trajectory-step (best round); speed ratio = exponax time / pdesim time")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['label']:<34} {r['exponax_us']:>9.3f} {r['exponax_float32_us']:>9.3f}"
            f" {r['pdesim_us']:>9.3f} {r['pdesim_step_loop_us']:>9.3f}"
            f" {r['speed_ratio']:>14.2f}x {r['speed_ratio_step_loop']:>6.2f}x"
            f" {r['speed_ratio_float32']:>6.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default: 9)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)
    jax, exponax = import_exponax()
    started = os.getloadavg()
    rows = [bench_case(jax, exponax, case, args.rounds) for case in CASES]
    print_table(rows)
    record = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "cpu_count": os.cpu_count(),
        "loadavg_start": list(started),
        "loadavg_end": list(os.getloadavg()),
        "versions": {
            "pdesim": pdesim.__version__,
            "exponax": exponax.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "float": "float64 (jax_enable_x64); exponax_float32: JAX's default precision",
        "fft_planner": os.environ.get("PDESIM_FFT_PLANNER", "measure"),
        "xla_flags": os.environ["XLA_FLAGS"],
        "pinned_core": PINNED_CORE,
        "rounds": args.rounds,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
