"""Long-horizon evaluation of a trained run against reference forecasters.

For a run directory (``config.json`` + ``best.pt``, the weights training selected)
and each of its datasets, the model and the reference forecasters of :func:`reference_forecasters`
(persistence, climatology, DMD, the solver's twin, the echo-state reservoir) are
rolled out freely from one common start: every test trajectory's first
``context_frames`` frames, the largest ``n_context`` any forecaster needs (the
model's ``n_steps_input``, the reservoir's washout; ``EvalConfig.context`` may raise
it), each forecaster reading the last ``n_context`` of them. All predict the same
frames, by default every test frame after the context, and are scored on the data's
own units (:mod:`surrogates.metrics`) against the true frames of the same steps,
per trajectory and field.

Scoring (curves, horizons, instability flags, long-run statistics, the noise floor
and the checks) is :mod:`surrogates.scoring`; the report entries and ``summary.md``
are :mod:`surrogates.report`; the pictures :mod:`surrogates.eval_plots`. This module
chooses what they are given:

- horizons (medians over trajectories; one equal to the rollout length is censored,
  shown as ``>=``) in steps, time units and the system's own time scale
  (:func:`time_scale`, in ``report.json``'s ``time_scale`` and the summary): Lyapunov
  times ``lambda_max * t`` (``lambda_max`` the leading exponent of the dataset's
  system, :func:`pdesim.diagnostics.lyapunov_spectrum`, cached in
  ``eval/<dataset>/lyapunov.json``) for systems with tangent dynamics
  (``System.has_tangent_dynamics``); otherwise rotation periods for systems with a
  rotating phase pair (``System.phase_fields``: spirals), measured on the test
  trajectories; otherwise time units. Without ``lambda_max`` the windows below fall
  back to fixed step counts;
- spectral-drift windows of ``DRIFT_LYAPUNOV`` = 20 Lyapunov times (``horizon // 5``
  steps without ``lambda_max``; not tested when the rollout is shorter than one
  window). Calibration on the KS1D test split (32 x 2397 frames) and train split
  (112 x 2400): with 20-Lyapunov-time windows no true window at any offset leaves a
  factor 2 (largest |log2| 0.92 and 0.86); with 10 of them 19 % of the test
  trajectories did, and with the ~1 Lyapunov time the former ``max(4, horizon // 8)``
  gave on 200-frame trajectories 42 % of all true windows did (the truth "drifted",
  and every forecaster read 0);
- the rollout's stop, :func:`rollout_bound`: 1e6, or the dataset system's
  ``blowup_threshold`` where lower;
- long-run statistics over the last half of the rollout (steps ``horizon // 2`` to
  ``horizon``), the POD of ``N_POD`` = 2 modes of the training frames, ACF lags up to
  2 Lyapunov times (50 steps without ``lambda_max``; at most half the span);
- speed: frames per second of each rollout and its ratio to the solver's (one
  :func:`pdesim.simulate` run of the same frames).

Everything goes to ``RUN_DIR/eval/<dataset>/``: ``report.json`` (medians and means
over trajectories; non-finite numbers are ``null``), ``summary.md``,
``error_vs_lead.png``, ``spectra.png``, ``spacetime.png`` and ``rollouts.hdf5``
(:func:`write_rollouts`), each written atomically.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from pdesim.diagnostics import lyapunov_spectrum, rotation_frequency
from pdesim.fft_backends import reproducible_plans
from pdesim.files import atomic_path, atomic_write_text
from surrogates import metrics as m
from surrogates.data import DatasetInfo, WellWindows, dataset_system, require_conserved_means
from surrogates.eval_plots import write_plots
from surrogates.forecasters import DMD, Climatology, Persistence, Twin
from surrogates.models.walrus import JitterMean, Walrus
from surrogates.report import forecaster_entry, json_ready, markdown
from surrogates.reservoir import select_reservoir
from surrogates.rollout import BOUND, Forecaster, ModelForecaster, rollout, trajectories
from surrogates.runs import load_model
from surrogates.scoring import (
    COLLAPSE,
    D_H_FACTOR,
    ENVELOPE,
    LONG_RUN_LYAPUNOV,
    SPECTRUM_TOL,
    flat,
    noise_floor,
    prepare,
    score,
)

#: ``progress(done, total, label)``: forecasters rolled out of those to roll out, and which.
Progress = Callable[[int, int, str], None]

DRIFT_LYAPUNOV = 20.0  # drift window, Lyapunov times
DRIFT_FRACTION = 5  # without lambda_max: windows of horizon // 5 steps
ACF_LYAPUNOV = 2.0  # largest ACF lag, Lyapunov times
ACF_STEPS = 50  # without lambda_max
RESERVOIR_LYAPUNOV = 8.0  # horizon of the reservoir's selection on the valid split
RESERVOIR_STEPS = 170  # without lambda_max
N_POD = 2
POD_SNAPSHOTS = 4000  # about this many training frames (evenly strided) make the POD basis
LYAPUNOV_T_AVERAGE = 100000.0  # averaging time of the leading Lyapunov exponent


@dataclass
class EvalConfig:
    """What :func:`evaluate` evaluates: the run directory ``run`` and how (see fields)."""

    run: str
    horizon: int | None = None  # default: every test frame after the context
    context: int | None = None  # default: the largest n_context of the forecasters
    batch_size: int = 16
    lyapunov: float | None = None  # default: computed (cached)
    seed: int = 0
    reservoir: bool = True  # select and evaluate the echo-state reservoir
    reservoir_grid: dict | None = None  # its search grid (default: surrogates.reservoir's)
    jitter_samples: int = 1  # a Walrus model's prediction: the mean of this many jitter draws
    conserve_mean: bool = False  # a Walrus model's changes lose their spatial mean


@dataclass
class Candidate:
    """A forecaster to evaluate: ``key`` (short, file-safe), display ``label`` and
    anything to store with it in the report (e.g. a hyperparameter search)."""

    key: str
    label: str
    forecaster: Forecaster
    details: dict = field(default_factory=dict)


def lyapunov_exponent(info: DatasetInfo, cache: Path) -> float | None:
    """Leading Lyapunov exponent of the system of the dataset split ``info`` (cached), or
    None for files not written by pdesim, parameter sweeps and systems without tangent
    dynamics (``System.has_tangent_dynamics``; the cache records why). The tangent run
    uses :func:`pdesim.fft_backends.reproducible_plans`, so one machine gives one value
    (with measured FFTW plans two evaluations minutes apart read 0.0485 and 0.0479)."""
    if cache.exists():
        cached = json.loads(cache.read_text())
        current = {"t_average": LYAPUNOV_T_AVERAGE, "fft_plans": "reproducible"}
        if cached["lambda_max"] is None or current.items() <= cached.items():
            return cached["lambda_max"]
    try:
        system = dataset_system(info)
    except ValueError as exc:
        atomic_write_text(cache, json.dumps({"lambda_max": None, "why": str(exc)}) + "\n")
        return None
    if not system.has_tangent_dynamics:
        why = f"{system.name} has no tangent dynamics, so no Lyapunov exponent"
        atomic_write_text(cache, json.dumps({"lambda_max": None, "why": why}) + "\n")
        return None
    with reproducible_plans():  # the same bits, so the same exponent, every evaluation
        spec = lyapunov_spectrum(system, 1, t_end=LYAPUNOV_T_AVERAGE, dt=info.provenance["dt"])
    value = float(spec.exponents[0])
    error = float(spec.standard_errors[0])
    record = {
        "lambda_max": value,
        "standard_error": error,
        "t_average": LYAPUNOV_T_AVERAGE,
        "fft_plans": "reproducible",
    }
    atomic_write_text(cache, json.dumps(record) + "\n")
    return value


def rollout_bound(info: DatasetInfo) -> float:
    """Where a rollout stops as diverged: :data:`surrogates.rollout.BOUND`, or the
    ``blowup_threshold`` of the dataset's system where that is lower (KS1D 1e4, the
    RD systems 10 or 100: 1e6 lets a diverging rollout run on far beyond any state the
    system reaches; KS2D declares 1e9, a solver safety net, and keeps 1e6)."""
    try:
        return min(BOUND, float(dataset_system(info).blowup_threshold))
    except ValueError:
        return BOUND


def time_scale(info: DatasetInfo, test: np.ndarray, dt: float, lam: float | None) -> dict:
    """The unit horizons are reported in: ``{"unit", "symbol", "length", "source"}``,
    ``length`` the unit's duration in the data's time units.

    A positive ``lam``: the Lyapunov time ``1 / lam``. Otherwise, for a system with a
    phase pair (``System.phase_fields``, spirals): the rotation period ``2 pi / omega``,
    ``omega`` the median over the test trajectories ``test (B, T, C, *space)`` (frames
    ``dt`` apart) of :func:`pdesim.diagnostics.rotation_frequency` (also stored, with
    the median phase-fit residual). Otherwise the data's time unit."""
    if _chaotic(lam):
        source = f"1 / lambda_max, lambda_max = {lam:.6g}"
        return {"unit": "Lyapunov time", "symbol": "Λt", "length": 1 / lam, "source": source}
    why = "no positive Lyapunov exponent"
    try:
        system = dataset_system(info)
    except ValueError as exc:
        system, why = None, f"{why}; {exc}"
    pair = system.phase_fields if system is not None else None
    if pair is not None and set(pair) <= set(info.field_names) and test.shape[1] >= 3:
        u, v = (info.field_names.index(f) for f in pair)
        t = dt * np.arange(test.shape[1])
        rotations = [rotation_frequency(traj[:, u], traj[:, v], t) for traj in test]
        omega = float(np.median([abs(r.omega) for r in rotations]))
        if omega > 0 and math.isfinite(omega):
            return {
                "unit": "rotation period",
                "symbol": "T_rot",
                "length": 2 * np.pi / omega,
                "source": (
                    f"2 pi / omega, omega = {omega:.6g}: the median over {len(test)} test "
                    f"trajectories of the rotation rate of the phase arg({pair[0]} + i "
                    f"{pair[1]}) at grid point {rotations[0].probe} "
                    "(pdesim.diagnostics.rotation_frequency)"
                ),
                "omega": omega,
                "phase_residual": float(np.median([r.residual for r in rotations])),
            }
        why = f"{why}; the phase of {system.name} does not rotate"
    elif system is not None:
        why = f"{why}; {system.name} has no rotating phase pair"
    return {"unit": "time unit", "symbol": "t", "length": 1.0, "source": why}


def _chaotic(lam: float | None) -> bool:
    return lam is not None and math.isfinite(lam) and lam > 0


def _key(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "model"


# -- the forecasters


def _select_reservoir(
    train, valid, horizon: int, seed: int, grid: dict | None = None
) -> tuple[Forecaster | None, dict]:
    """The reservoir selected on ``valid``, and its search; ``(None, {"skipped": why})``."""
    if valid is None:
        return None, {"skipped": "the dataset has no valid split to select it on"}
    try:
        model, search = select_reservoir(train, valid, horizon, grid=grid, seed=seed)
    except ValueError as exc:
        raise ValueError(
            f"reservoir selection on the valid split over {horizon} steps: {exc} "
            "(EvalConfig.reservoir=False, or --no-reservoir, skips the reservoir)"
        ) from exc
    return model, {**search, "model": model.describe()}


def reference_forecasters(
    train: np.ndarray,
    valid: np.ndarray | None,
    info: DatasetInfo,
    field_std: np.ndarray,
    select_horizon: int,
    seed: int = 0,
    reservoir: bool = True,
    reservoir_grid: dict | None = None,
) -> tuple[list[Candidate], dict[str, str]]:
    """Every reference forecaster, and ``{key: why}`` for those that cannot run.

    Persistence, climatology and DMD (of ``train (n_traj, T, C, *space)``), the
    solver's twin (of ``info``'s system: a split written by pdesim in one setting) and
    the echo-state reservoir, fitted on
    ``train`` with hyperparameters selected on ``valid`` over ``select_horizon`` steps
    from ``reservoir_grid`` (default: :data:`surrogates.reservoir.DEFAULT_GRID`; the
    search goes into the report)."""
    out = [
        Candidate("persistence", "persistence", Persistence()),
        Candidate("climatology", "climatology", Climatology(train)),
        Candidate("dmd", "dmd", DMD(train)),
    ]
    skipped = {}
    try:
        out.append(Candidate("twin", "twin", Twin(info, field_std, seed=seed)))
    except ValueError as exc:
        skipped["twin"] = str(exc)
    if reservoir:
        esn, search = _select_reservoir(train, valid, select_horizon, seed, reservoir_grid)
        if esn is None:
            skipped["reservoir"] = search["skipped"]
        else:
            out.append(Candidate("reservoir", "reservoir", esn, {"selection": search}))
    else:
        skipped["reservoir"] = "disabled (EvalConfig.reservoir=False)"
    return out, skipped


def _window(root, n_frames: int, needs: dict[str, int], context, horizon) -> tuple[int, int]:
    """The common context and the horizon; ValueError before any work if they do not fit."""
    need = max(needs.values())
    who = ", ".join(f"{k} {v}" for k, v in needs.items())
    where = f"the test trajectories of {str(root)!r} hold {n_frames} frames"
    if n_frames <= need:
        raise ValueError(
            f"test split too short: {where}, not more than the context of {need} frames "
            f"the forecasters need ({who}); allowed: a test split of at least {need + 1} "
            "frames per trajectory"
        )
    if context is None:
        context = need
    elif not isinstance(context, int) or not need <= context < n_frames:
        raise ValueError(
            f"context={context!r}; allowed: {need}..{n_frames - 1} (the forecasters need "
            f"{who}; {where})"
        )
    available = n_frames - context
    if horizon is None:
        horizon = available
    elif not isinstance(horizon, int) or not 1 <= horizon <= available:
        raise ValueError(
            f"horizon={horizon!r}; allowed: 1..{available} ({where}, {context} of them context)"
        )
    return context, horizon


# -- the evaluation


def evaluate(cfg: EvalConfig, progress: Progress | None = None) -> dict:
    """Evaluate the run ``cfg.run`` on each of its datasets; returns the reports.

    ``progress(done, total, label)``, if given, is called as each dataset's forecasters
    are rolled out (see :func:`evaluate_dataset`)."""
    run = Path(cfg.run)
    config, model, step = load_model(run)
    if (cfg.jitter_samples != 1 or cfg.conserve_mean) and not isinstance(model, Walrus):
        raise ValueError(
            f"jitter_samples={cfg.jitter_samples!r}, conserve_mean={cfg.conserve_mean!r}: "
            f"only a walrus model has these; the run {str(run)!r} holds a "
            f"{config['model']} model (use 1 and False)"
        )
    if cfg.conserve_mean:
        datasets = [WellWindows(root, "train", 1, 1) for root in config["data"]]
        try:
            require_conserved_means(datasets, "evaluate without --conserve-mean")
        finally:
            for ds in datasets:
                ds.close()
        model.cfg = replace(model.cfg, conserve_mean=True)
    if cfg.jitter_samples != 1:
        model = JitterMean(model, cfg.jitter_samples)
    torch.manual_seed(cfg.seed)
    reports = {}
    for root in config["data"]:
        reports[Path(root).name] = evaluate_dataset(
            cfg, run, config, model, step, root, progress=progress
        )
    return reports


def _split(root, split: str) -> np.ndarray | None:
    try:
        return trajectories(root, split).frames
    except FileNotFoundError:
        return None


def _model_label(name: str, step: int, cfg: EvalConfig) -> str:
    """The model's row name in the report: its kind, weights and inference options."""
    options = [f"step {step}"]
    if cfg.jitter_samples > 1:
        options.append(f"mean of {cfg.jitter_samples} jitter draws")
    if cfg.conserve_mean:
        options.append("mean conserved")
    return f"{name} ({', '.join(options)})"


def evaluate_dataset(
    cfg: EvalConfig,
    run: Path,
    config: dict,
    model,
    step: int,
    root: str | Path,
    progress: Progress | None = None,
) -> dict:
    """Evaluate ``model`` (of the run ``run``, config dict ``config``, weights of training
    step ``step``) and the reference forecasters on the test split of the dataset
    ``root``; writes ``run/eval/<dataset>/`` (see the module) and returns the report.

    ``progress(done, total, label)`` is called before each forecaster's rollout (``done``
    of ``total`` forecasters rolled out, ``label`` "<dataset>: <forecaster>") and once
    after the last (``done == total``)."""
    split = trajectories(root, "test")
    test, info = split.frames, split.info
    model.check(info)
    model_key = _key(config["model"])
    needs = {model_key: int(config["n_steps_input"])}
    # before any work: the model's context (and the requested one) must fit
    _window(root, test.shape[1], needs, cfg.context, cfg.horizon)
    dt = info.frame_interval
    out_dir = run / "eval" / Path(root).name
    lam = (
        cfg.lyapunov
        if cfg.lyapunov is not None
        else lyapunov_exponent(info, out_dir / "lyapunov.json")
    )
    chaotic = _chaotic(lam)
    scale = time_scale(info, test, dt, lam)
    bound = rollout_bound(info)
    train = trajectories(root, "train").frames
    valid = _split(root, "valid") if cfg.reservoir else None
    space = tuple(range(3, train.ndim))
    field_std = train.std(axis=(0, 1, *space))
    train_rms = np.sqrt((train**2).mean(space)).max((0, 1))
    basis = m.pod(flat(train)[:: max(1, len(flat(train)) // POD_SNAPSHOTS)], N_POD)
    select_horizon = round(RESERVOIR_LYAPUNOV / (lam * dt)) if chaotic else RESERVOIR_STEPS
    refs, skipped = reference_forecasters(
        train,
        valid,
        info,
        field_std,
        select_horizon,
        cfg.seed,
        cfg.reservoir,
        cfg.reservoir_grid,
    )
    label = _model_label(config["model"], step, cfg)
    model_f = ModelForecaster(model, info, needs.pop(model_key), name=label)
    if model_key in {c.key for c in refs} | {"truth"}:
        model_key += "_model"
    candidates = [Candidate(model_key, label, model_f), *refs]
    needs = {c.key: int(c.forecaster.n_context) for c in candidates}
    n_ctx, horizon = _window(root, test.shape[1], needs, cfg.context, cfg.horizon)
    context, truth = test[:, :n_ctx], test[:, n_ctx : n_ctx + horizon]

    late_steps = horizon - horizon // 2
    max_lag = round(ACF_LYAPUNOV / (lam * dt)) if chaotic else ACF_STEPS
    max_lag = int(max(0, min(max_lag, late_steps // 2)))
    wanted = round(DRIFT_LYAPUNOV / (lam * dt)) if chaotic else horizon // DRIFT_FRACTION
    drift_window = int(wanted) if 1 <= wanted <= horizon else None
    ref = prepare(truth, train_rms, basis, max_lag, drift_window)

    results, rollouts = {}, {}
    for i, c in enumerate(candidates):
        if progress is not None:
            progress(i, len(candidates), f"{info.name}: {c.label}")
        r = rollout(c.forecaster, context, horizon, cfg.batch_size, bound, split.constants)
        rollouts[c.key] = r
        results[c.key] = score(r, ref)
    if progress is not None:
        progress(len(candidates), len(candidates), f"{info.name}: rolled out")
    solver_fps = None
    twin = next((c.forecaster for c in candidates if c.key == "twin"), None)
    if twin is not None:
        tick = time.perf_counter()
        twin.run(context[:, -1], horizon)
        solver_fps = len(context) * horizon / (time.perf_counter() - tick)

    to_lyap = dt * lam if chaotic else None
    span = {
        "start_step": horizon // 2,
        "end_step": horizon,
        "steps": late_steps,
        "time": late_steps * dt,
        "lyapunov": late_steps * to_lyap if chaotic else None,
        "scaled": late_steps * dt / scale["length"],
    }
    report = {
        "run": str(run),
        "dataset": str(root),
        "checkpoint_step": step,
        "horizon": horizon,
        "dt": dt,
        "n_trajectories": len(test),
        "context_frames": n_ctx,
        "lambda_max": lam,
        "lyapunov_time": 1 / lam if chaotic else None,
        "rollout_lyapunov": horizon * to_lyap if chaotic else None,
        "time_scale": scale,
        "rollout_scaled": horizon * dt / scale["length"],
        "long_run_span": span,
        "long_run_enough": horizon * to_lyap >= LONG_RUN_LYAPUNOV if chaotic else None,
        "settings": {
            "rollout_bound": bound,
            "envelope_factor": ENVELOPE,
            "collapse_ratio": COLLAPSE,
            "spectrum_tol_log2": SPECTRUM_TOL,
            "k_cutoff": ref.k_cut,
            "d_h_floor_factor": D_H_FACTOR,
            "drift_window_steps": drift_window,
            "drift_window_wanted": int(wanted),
            "drift_window_lyapunov": wanted * to_lyap if chaotic else None,
            "acf_max_lag_steps": max_lag,
            "reservoir_selection_horizon": select_horizon if cfg.reservoir else None,
            "n_pod": N_POD,
            "jitter_samples": cfg.jitter_samples,
            "conserve_mean": cfg.conserve_mean or bool(config.get("conserve_mean")),
        },
        "solver_frames_per_second": solver_fps,
        "noise_floor": noise_floor(ref),
        "not_evaluated": skipped,
        "forecasters": {},
    }
    for c in candidates:
        report["forecasters"][c.key] = forecaster_entry(
            c.label,
            c.forecaster.n_context,
            results[c.key],
            rollouts[c.key].frames_per_second,
            solver_fps,
            horizon,
            dt,
            to_lyap,
            scale["length"],
            report["noise_floor"],
            c.details,
        )
    report = json_ready(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rollouts(
        out_dir / "rollouts.hdf5",
        {c.key: (c.label, rollouts[c.key].frames) for c in candidates},
        truth,
        info.field_names,
        n_ctx,
        dt,
        lam,
    )
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=1) + "\n")
    write_plots(out_dir, report, rollouts, results, ref, info.name, info=info)
    atomic_write_text(out_dir / "summary.md", markdown(report))
    return report


def write_rollouts(
    path: Path,
    rollouts: dict[str, tuple[str, np.ndarray]],
    truth: np.ndarray,
    field_names,
    context_frames: int,
    dt: float,
    lambda_max: float | None,
) -> None:
    """Write ``{key: (label, frames (B, H, C, *space))}`` and the truth to ``path``.

    Layout: ``/<key>/<field>`` float32 ``(n_traj, horizon, *space)``, the predicted
    frames from the first predicted frame on (NaN after a stop), each group with the
    attribute ``label``; ``/truth/<field>`` the true frames of the same steps; root
    attributes ``context_frames``, ``dt`` (time between frames) and ``lambda_max`` (NaN
    when unknown). Written under a temporary name beside ``path``, fsynced and renamed,
    so an interrupted write never leaves a complete-looking file."""
    path = Path(path)
    names = [str(n) for n in field_names]
    if truth.shape[2] != len(names):
        raise ValueError(f"{len(names)} field names {names} for {truth.shape[2]} channels")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["context_frames"] = int(context_frames)
        h5.attrs["dt"] = float(dt)
        h5.attrs["lambda_max"] = float("nan") if lambda_max is None else float(lambda_max)
        for key, (label, frames) in {"truth": ("truth", truth), **rollouts}.items():
            if frames.shape != truth.shape:
                raise ValueError(f"{key}: frames {frames.shape}, truth {truth.shape}")
            group = h5.create_group(key)
            group.attrs["label"] = str(label)
            for c, name in enumerate(names):
                group.create_dataset(name, data=frames[:, :, c].astype(np.float32))
