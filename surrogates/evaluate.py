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

Curves per lead step: VRMSE, NRMSE, Pearson correlation, binned spectral NMSE.

Horizons (first crossings, median over trajectories; a stopped rollout counts as
crossed; a horizon equal to the rollout length is censored, shown as ``>=``), in
steps, time units and the system's own time scale (:func:`time_scale`, in
``report.json``'s ``time_scale`` and the summary): Lyapunov times ``lambda_max * t``
(``lambda_max`` the leading exponent of the dataset's system,
:func:`pdesim.diagnostics.lyapunov_spectrum`, cached in
``eval/<dataset>/lyapunov.json``) for systems with tangent dynamics
(``System.has_tangent_dynamics``); otherwise rotation periods for systems with a
rotating phase pair (``System.phase_fields``: spirals), measured on the test
trajectories; otherwise time units. Without ``lambda_max`` the windows below fall
back to fixed step counts:

- VPT(eps): first step with mean-over-fields VRMSE >= eps, eps in 0.3, 0.5, 1.0;
- correlation time: first step with mean-over-fields Pearson correlation < 0.8;
- spectral drift: :func:`surrogates.metrics.drift_times` with windows of
  ``DRIFT_LYAPUNOV`` = 20 Lyapunov times (``horizon // 5`` steps without
  ``lambda_max``; not tested when the rollout is shorter than one window) against
  the time-mean spectrum of the true frames of the whole rollout span pooled over
  trajectories, at the resolved wavenumbers (energy > 1e-3 x peak) up to the 2/3
  cut-off ``k_c``, tolerance a factor 2. Calibration on the KS1D test split (32 x
  2397 frames) and train split (112 x 2400): with 20-Lyapunov-time windows no true
  window at any offset leaves a factor 2 (largest |log2| 0.92 and 0.86); with 10 of
  them 19 % of the test trajectories did, and with the ~1 Lyapunov time the former
  ``max(4, horizon // 8)`` gave on 200-frame trajectories 42 % of all true windows
  did (the truth "drifted", and every forecaster read 0).
- stable time: min(first non-finite step, envelope exit, drift step).

Instability, counted per forecaster (the counts sit beside every long-run number):

- non-finite: the rollout stopped (a non-finite value or ``|u|`` beyond
  :func:`rollout_bound`: 1e6, or the dataset system's ``blowup_threshold`` where
  lower, :func:`surrogates.rollout.rollout`);
- envelope exit: a finite frame whose RMS of some field exceeds ``ENVELOPE`` = 5 x
  that field's largest training RMS (:func:`surrogates.metrics.envelope_exit`);
- collapse: a finite rollout whose temporal standard deviation over the last half,
  averaged over space, is below ``COLLAPSE`` = 0.5 x the truth's (same steps, same
  trajectory) for some field (:func:`surrogates.metrics.collapsed`);
- unstable: the union of the three.

Long-run statistics, over the last half of the rollout (steps ``horizon // 2`` to
``horizon``) against the true frames of the same steps and trajectories, pooled over
trajectories (``inf``, null in the JSON, when any trajectory is non-finite there):

- spectrum: ``max_{1 <= k <= k_c} |log2(E_pred(k) / E_true(k))|`` of the time- and
  trajectory-mean energy spectra (square grids; ``k_c = N // 3``): <= 1 means within
  a factor 2 at every wavenumber up to the cut-off;
- D_stsp: binned KL divergence of the 2 leading standardised POD coefficients
  (POD of the training frames);
- D_H: power-spectrum Hellinger distance of those coefficients' series, spectra
  averaged over trajectories;
- W1: 1-Wasserstein distance of the pooled values over the true standard deviation;
- ACF: ``max_{c, tau <= L} |ACF_pred - ACF_true|`` of the autocorrelation of the field
  at each point, pooled over space and trajectories
  (:func:`surrogates.metrics.autocorrelation`), lags up to ``L`` = 2 Lyapunov times
  (50 steps without ``lambda_max``; at most half the span);
- the largest relative drift of a field's spatial mean (whole rollout).

Noise floor: the same statistics between two halves of the true test trajectories
over the same span, the median over ``FLOOR_SPLITS`` = 8 splits (and the truth's own
drift count). Checks per
forecaster: 0 non-finite, 0 envelope exits, 0 collapses, spectrum within a factor 2
up to ``k_c``, D_H <= 2 x its floor. Speed: frames per second of each rollout and
its ratio to the solver's (one :func:`pdesim.simulate` run of the same frames).

Everything goes to ``RUN_DIR/eval/<dataset>/``: ``report.json`` (medians and means
over trajectories; non-finite numbers are ``null``), ``summary.md``,
``error_vs_lead.png``, ``spectra.png``, ``spacetime.png`` and ``rollouts.hdf5``
(:func:`write_rollouts`), each written atomically.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from pdesim.diagnostics import lyapunov_spectrum, rotation_frequency
from pdesim.files import atomic_write_text
from surrogates import metrics as m
from surrogates.checkpoints import BEST, CHECKPOINT, WEIGHT_KEYS, load_checkpoint
from surrogates.data import DatasetInfo, dataset_system, scan
from surrogates.forecasters import DMD, Climatology, Persistence, Twin
from surrogates.models import MODELS
from surrogates.reservoir import select_reservoir
from surrogates.rollout import BOUND, Forecaster, ModelForecaster, Rollout, rollout, trajectories
from surrogates.train import model_options

EPSILONS = (0.3, 0.5, 1.0)
CORR = 0.8
ENVELOPE = 5.0  # x the largest training RMS of each field
COLLAPSE = 0.5  # temporal std below this fraction of the truth's
SPECTRUM_TOL = 1.0  # log2: a factor 2
D_H_FACTOR = 2.0  # D_H check: at most this many noise floors
DRIFT_LYAPUNOV = 20.0  # drift window, Lyapunov times
DRIFT_FRACTION = 5  # without lambda_max: windows of horizon // 5 steps
ACF_LYAPUNOV = 2.0  # largest ACF lag, Lyapunov times
ACF_STEPS = 50  # without lambda_max
LONG_RUN_LYAPUNOV = 100.0  # what a long-run test needs
RESERVOIR_LYAPUNOV = 8.0  # horizon of the reservoir's selection on the valid split
RESERVOIR_STEPS = 170  # without lambda_max
N_POD = 2
POD_SNAPSHOTS = 4000  # about this many training frames (evenly strided) make the POD basis
LYAPUNOV_T_AVERAGE = 2000.0  # averaging time of the leading Lyapunov exponent
FLOOR_SPLITS = 8  # splits of the true trajectories into halves for the noise floor


@dataclass
class EvalConfig:
    run: str
    horizon: int | None = None  # default: every test frame after the context
    context: int | None = None  # default: the largest n_context of the forecasters
    batch_size: int = 16
    lyapunov: float | None = None  # default: computed (cached)
    seed: int = 0
    reservoir: bool = True  # select and evaluate the echo-state reservoir
    reservoir_grid: dict | None = None  # its search grid (default: surrogates.reservoir's)


@dataclass
class Candidate:
    """A forecaster to evaluate: ``key`` (short, file-safe), display ``label`` and
    anything to store with it in the report (e.g. a hyperparameter search)."""

    key: str
    label: str
    forecaster: Forecaster
    details: dict = field(default_factory=dict)


def load_model(run: Path):
    """The run's config dict and its model with the selected weights (``best.pt``; the
    last ``checkpoint.pt`` for runs without one), in eval mode."""
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {str(run)!r} does not exist (train it first)")
    weights = run / BEST if (run / BEST).exists() else run / CHECKPOINT
    if not (run / "config.json").exists() or not weights.exists():
        raise FileNotFoundError(
            f"{str(run)!r} is not a finished run: needs config.json and {BEST} (or {CHECKPOINT})"
        )
    cfg = json.loads((run / "config.json").read_text())
    state = load_checkpoint(weights, WEIGHT_KEYS)
    infos = [scan(d, "test") for d in cfg["data"]]
    model = MODELS[cfg["model"]](cfg["config"], infos, **model_options(cfg))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ValueError(
            f"model/dataset mismatch: the checkpoint of {str(run)!r} (fields "
            f"{state['fields']}) does not fit a model for the datasets {cfg['data']}: {exc}"
        ) from exc
    model.eval()
    return cfg, model, int(state["step"])


def lyapunov_exponent(info: DatasetInfo, cache: Path) -> float | None:
    """Leading Lyapunov exponent of the system of the dataset split ``info`` (cached), or
    None for files not written by pdesim, parameter sweeps and systems without tangent
    dynamics (``System.has_tangent_dynamics``; the cache records why)."""
    if cache.exists():
        return json.loads(cache.read_text())["lambda_max"]
    try:
        system = dataset_system(info)
    except ValueError as exc:
        atomic_write_text(cache, json.dumps({"lambda_max": None, "why": str(exc)}) + "\n")
        return None
    if not system.has_tangent_dynamics:
        why = f"{system.name} has no tangent dynamics, so no Lyapunov exponent"
        atomic_write_text(cache, json.dumps({"lambda_max": None, "why": why}) + "\n")
        return None
    spec = lyapunov_spectrum(system, 1, t_end=LYAPUNOV_T_AVERAGE, dt=info.provenance["dt"])
    value = float(spec.exponents[0])
    record = {"lambda_max": value, "t_average": LYAPUNOV_T_AVERAGE}
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


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, *a.shape[2:])


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


# -- scoring


@dataclass
class Reference:
    """The truth and everything derived from it that every forecaster is scored against."""

    truth: np.ndarray  # (B, H, C, *space)
    train_rms: np.ndarray  # (C,)
    basis: tuple
    late: slice
    max_lag: int
    drift_window: int | None
    k_cut: int | None = None
    spectra: np.ndarray | None = None  # (B, H, C, K)
    mean_spectrum: np.ndarray | None = None  # (C, K), whole span
    late_spectrum: np.ndarray | None = None  # (C, K), last half
    coeffs: np.ndarray | None = None  # (B, n_late, N_POD)
    acf: np.ndarray | None = None  # (C, max_lag + 1), last half


def _spectra(frames: np.ndarray) -> np.ndarray:
    _, e = m.energy_spectrum(_flat(frames))
    return e.reshape(*frames.shape[:2], *e.shape[1:])


def prepare(truth, train_rms, basis, max_lag: int, drift_window: int | None) -> Reference:
    """A :class:`Reference` of ``truth (B, H, C, *space)``."""
    h = truth.shape[1]
    ref = Reference(truth, train_rms, basis, slice(h // 2, h), max_lag, drift_window)
    late = truth[:, ref.late]
    ref.coeffs = m.project(_flat(late), basis).reshape(len(truth), late.shape[1], -1)
    ref.acf = m.autocorrelation(late, max_lag)
    if len(set(truth.shape[3:])) == 1:
        ref.k_cut = m.dealias_cutoff(truth.shape[3:])
        ref.spectra = _spectra(truth)
        ref.mean_spectrum = ref.spectra.mean((0, 1))
        ref.late_spectrum = ref.spectra[:, ref.late].mean((0, 1))
    return ref


def _long_run(pred_late, true_late, coeffs_pred, coeffs_true, spec_pred, spec_true, ref, acf):
    """Long-run statistics of one set of late frames against another (finite); ``acf``
    the autocorrelation of ``true_late``."""
    n_pod = coeffs_true.shape[-1]
    acf_pred = m.autocorrelation(pred_late, ref.max_lag)
    out = {
        "d_stsp": m.d_stsp(coeffs_true.reshape(-1, n_pod), coeffs_pred.reshape(-1, n_pod)),
        "d_h": m.power_spectrum_hellinger(coeffs_true, coeffs_pred),
        "w1": m.histogram_w1(pred_late, true_late),
        "acf": float(np.abs(acf_pred - acf).max()),
    }
    if spec_true is not None:
        out["spectrum_log2_error"] = float(
            m.spectrum_log2_error(spec_pred, spec_true, ref.k_cut).max()
        )
    return out


def score(r: Rollout, ref: Reference) -> dict:
    """Per-trajectory curves, horizons, instability flags and long-run statistics of
    one rollout (vectorised over trajectories and steps)."""
    truth, frames = ref.truth, r.frames
    b, h = truth.shape[:2]
    with np.errstate(invalid="ignore"):
        v = m.vrmse(_flat(frames), _flat(truth)).reshape(b, h, -1)
        corr = m.pearson(_flat(frames), _flat(truth)).reshape(b, h, -1)
        _, snmse = m.binned_spectral_error(_flat(frames), _flat(truth))
    stopped = np.asarray(r.stopped_at)
    out = {
        "vrmse": v,
        "nrmse": m.nrmse(_flat(frames), _flat(truth)).reshape(b, h, -1),
        "pearson": corr,
        "spectral_nmse": snmse.reshape(b, h, *snmse.shape[1:]),
        "stopped_at": stopped,
    }
    for eps in EPSILONS:
        out[f"vpt_{eps}"] = m.first_crossing(v.mean(-1), eps)
    out["corr_time"] = m.first_crossing(corr.mean(-1), CORR, below=True)
    space = tuple(range(3, frames.ndim))
    with np.errstate(invalid="ignore"):
        level = np.sqrt((frames**2).mean(space)) / (ENVELOPE * ref.train_rms)
    out["envelope_exit"] = m.first_crossing(np.where(np.isnan(level), np.inf, level).max(2), 1.0)
    stable = np.minimum(stopped, out["envelope_exit"])
    spectra = None
    if ref.spectra is not None:
        spectra = _spectra(frames)
        if ref.drift_window is not None:
            out["drift_time"] = m.drift_times(
                spectra, ref.mean_spectrum, ref.drift_window, SPECTRUM_TOL, k_max=ref.k_cut
            )
            stable = np.minimum(stable, out["drift_time"])
    out["stable_time"] = stable
    late = ref.late
    pred_late, true_late = frames[:, late], truth[:, late]
    ratio = m.collapse_ratio(pred_late, true_late)
    out["collapse_ratio"] = ratio.min(1)
    flags = {
        "nonfinite": stopped < h,
        "envelope": out["envelope_exit"] < stopped,
        "collapse": m.collapsed(pred_late, true_late, COLLAPSE),
    }
    flags["unstable"] = flags["nonfinite"] | flags["envelope"] | flags["collapse"]
    out["flags"] = flags
    if np.all(np.isfinite(pred_late)):
        coeffs = m.project(_flat(pred_late), ref.basis).reshape(b, pred_late.shape[1], -1)
        stats = _long_run(
            pred_late,
            true_late,
            coeffs,
            ref.coeffs,
            None if spectra is None else spectra[:, late].mean((0, 1)),
            ref.late_spectrum,
            ref,
            ref.acf,
        )
        means = frames.mean(space)  # (B, H, C)
        scale = np.abs(means[:, :1]) + np.sqrt((frames[:, :1] ** 2).mean(space)) + m.EPS
        stats["max_mass_drift"] = float(np.abs((means - means[:, :1]) / scale).max())
        if spectra is not None:
            out["late_spectrum"] = spectra[:, late].mean((0, 1))
    else:
        keys = ["d_stsp", "d_h", "w1", "acf", "max_mass_drift"]
        keys += ["spectrum_log2_error"] if spectra is not None else []
        stats = dict.fromkeys(keys, math.inf)
    out["long_run"] = stats
    return out


def noise_floor(ref: Reference, n_splits: int = FLOOR_SPLITS, seed: int = 0) -> dict:
    """Long-run statistics of one half of the true trajectories against the other (same
    span): the median over ``n_splits`` splits into halves (the first: trajectories
    ``[:B//2]`` vs ``[B//2:]``, then random ones), with their range in ``spread``; and
    the truth's own spectral drift. Halves hold B/2 trajectories each, the forecasters'
    comparisons B: the floor of a B-vs-B comparison is lower (about 1/sqrt(2) of it for
    D_H), so a check against it is, if anything, lenient."""
    b = len(ref.truth)
    half = b // 2
    out: dict = {}
    if ref.drift_window is not None and ref.spectra is not None:
        drift = m.drift_times(
            ref.spectra, ref.mean_spectrum, ref.drift_window, SPECTRUM_TOL, k_max=ref.k_cut
        )
        out["truth_drifts"] = int(np.sum(drift < ref.truth.shape[1]))
        out["truth_drift_time_median"] = float(np.median(drift))
    if half < 1:
        return out
    rng = np.random.default_rng(seed)
    orders = [np.arange(b)] + [rng.permutation(b) for _ in range(max(0, n_splits - 1))]
    late = ref.truth[:, ref.late]
    spec = None if ref.spectra is None else ref.spectra[:, ref.late]
    per_split = []
    for order in orders:
        a, c = order[:half], order[half : 2 * half]
        per_split.append(
            _long_run(
                late[c],
                late[a],
                ref.coeffs[c],
                ref.coeffs[a],
                None if spec is None else spec[c].mean((0, 1)),
                None if spec is None else spec[a].mean((0, 1)),
                ref,
                m.autocorrelation(late[a], ref.max_lag),
            )
        )
    for key in per_split[0]:
        values = [d[key] for d in per_split]
        out[key] = float(np.median(values))
        out.setdefault("spread", {})[key] = [float(min(values)), float(max(values))]
    out["n_splits"] = len(orders)
    return out


def checks(entry: dict, floor: dict) -> dict:
    """The pass/fail checks of one forecaster's report entry (see module)."""
    counts, lr = entry["unstable"], entry["long_run"]
    out: dict = {
        name: {"pass": bool(counts[name] == 0), "value": int(counts[name])}
        for name in ("nonfinite", "envelope", "collapse")
    }
    if "spectrum_log2_error" in lr:
        value = lr["spectrum_log2_error"]
        out["spectrum"] = {"pass": bool(value <= SPECTRUM_TOL), "value": value, "limit": 1.0}
    if "d_h" in floor:
        limit = D_H_FACTOR * floor["d_h"]
        out["d_h"] = {"pass": bool(lr["d_h"] <= limit), "value": lr["d_h"], "limit": limit}
    out["all"] = all(c["pass"] for c in out.values())
    return out


def _summary(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(v)), "mean": float(np.mean(v)), "per_trajectory": v.tolist()}


# -- the evaluation


def evaluate(cfg: EvalConfig) -> dict:
    """Evaluate the run ``cfg.run`` on each of its datasets; returns the reports."""
    run = Path(cfg.run)
    config, model, step = load_model(run)
    torch.manual_seed(cfg.seed)
    reports = {}
    for root in config["data"]:
        reports[Path(root).name] = evaluate_dataset(cfg, run, config, model, step, root)
    return reports


def _split(root, split: str) -> np.ndarray | None:
    try:
        return trajectories(root, split).frames
    except FileNotFoundError:
        return None


def evaluate_dataset(cfg: EvalConfig, run: Path, config: dict, model, step: int, root) -> dict:
    split = trajectories(root, "test")
    test, info = split.frames, split.info
    model.check(info)
    model_key = _key(config["model"])
    needs = {model_key: int(config["n_steps_input"])}
    # before any work: the model's context (and the requested one) must fit
    _window(root, test.shape[1], needs, cfg.context, cfg.horizon)
    dt = info.frame_interval
    out_dir = run / "eval" / info.name
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
    basis = m.pod(_flat(train)[:: max(1, len(_flat(train)) // POD_SNAPSHOTS)], N_POD)
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
    label = f"{config['model']} (step {step})"
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
    for c in candidates:
        r = rollout(c.forecaster, context, horizon, cfg.batch_size, bound, split.constants)
        rollouts[c.key] = r
        results[c.key] = score(r, ref)
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
        },
        "solver_frames_per_second": solver_fps,
        "noise_floor": noise_floor(ref),
        "not_evaluated": skipped,
        "forecasters": {},
    }
    for c in candidates:
        res = results[c.key]
        fps = rollouts[c.key].frames_per_second
        entry = {
            "label": c.label,
            "n_context": int(c.forecaster.n_context),
            "frames_per_second": fps,
            "speed_vs_solver": fps / solver_fps if solver_fps else None,
            "stopped_at": _summary(res["stopped_at"]),
            "envelope_exit": _summary(res["envelope_exit"]),
            "collapse_ratio": _summary(res["collapse_ratio"]),
            "unstable": {k: int(np.sum(f)) for k, f in res["flags"].items()},
            "unstable_trajectories": {
                k: np.flatnonzero(f).tolist() for k, f in res["flags"].items()
            },
            "long_run": res["long_run"],
            "horizons": {},
            "curves": {},
            **c.details,
        }
        keys = [f"vpt_{e}" for e in EPSILONS] + ["corr_time", "drift_time", "stable_time"]
        for key in keys:
            if key not in res:
                continue
            steps = _summary(res[key])
            steps["censored"] = int(np.sum(res[key] >= horizon))
            steps["time_median"] = steps["median"] * dt
            steps["lyapunov_median"] = steps["median"] * to_lyap if chaotic else None
            steps["scaled_median"] = steps["median"] * dt / scale["length"]
            entry["horizons"][key] = steps
        for key in ("vrmse", "nrmse", "pearson"):
            curve = np.where(np.isfinite(res[key]), res[key], np.inf).mean(-1)
            entry["curves"][key] = {
                "median": np.median(curve, 0).tolist(),
                "mean": np.mean(curve, 0).tolist(),
            }
        snmse = np.where(np.isfinite(res["spectral_nmse"]), res["spectral_nmse"], np.inf)
        entry["curves"]["spectral_nmse_bins"] = np.median(snmse.mean(2), 0).T.tolist()
        entry["checks"] = checks(entry, report["noise_floor"])
        report["forecasters"][c.key] = entry
    report = _finite(report)
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
    plots(out_dir, report, rollouts, results, ref, info.name)
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
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
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _finite(value):
    """The report as strict JSON: every non-finite number None, numpy scalars and
    arrays as Python values."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _num(value, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def markdown(report: dict) -> str:
    """``summary.md`` of a (JSON-ready) report."""
    lam, n, h = report["lambda_max"], report["n_trajectories"], report["horizon"]
    chaotic = report["lyapunov_time"] is not None
    scale = report["time_scale"]
    unit = scale["symbol"]
    s, span = report["settings"], report["long_run_span"]
    needs = ", ".join(f"{e['label']} {e['n_context']}" for e in report["forecasters"].values())
    if chaotic:
        length = (
            f"{report['rollout_lyapunov']:.3g} Λt; lambda_max {lam:.4f}, Lyapunov time "
            f"{report['lyapunov_time']:.1f}"
        )
    elif scale["unit"] == "rotation period":
        length = (
            f"{h * report['dt']:g} time units = {report['rollout_scaled']:.3g} {unit}; no "
            f"Lyapunov exponent: horizons in rotation periods {unit} = {scale['length']:.4g} "
            f"({scale['source']})"
        )
    else:
        length = (
            f"{h * report['dt']:g} time units; no Lyapunov exponent: horizons in time units "
            f"({scale['source']})"
        )
    if chaotic:
        spread = f"{span['lyapunov']:.3g} Λt"
        if report["long_run_enough"]:
            enough = f"long-run statistics over {spread} (the last half of the rollout)."
        else:
            enough = (
                f"long-run statistics over {spread}, below the {LONG_RUN_LYAPUNOV:g} Λt a "
                f"long-run test needs (the rollout is {report['rollout_lyapunov']:.3g} Λt)."
            )
    else:
        spread = "" if unit == "t" else f" = {span['scaled']:.3g} {unit}"
        enough = f"long-run statistics over {span['time']:g} time units{spread} (λ unknown)."
    window = f"{s['drift_window_wanted']} steps" + (
        f" ({s['drift_window_lyapunov']:.3g} Λt)" if s["drift_window_lyapunov"] else ""
    )
    if not s["k_cutoff"]:
        drift = "spectral drift: not tested (not a square grid)"
    elif not s["drift_window_steps"]:
        drift = f"spectral drift: not tested (the rollout is shorter than one window of {window})"
    else:
        drift = (
            f"spectral drift: first window of {window} whose mean spectrum leaves ×2 of the "
            f"true one at a resolved k ≤ {s['k_cutoff']}"
        )
    lines = [
        f"# {Path(report['dataset']).name}: {report['run']} (step {report['checkpoint_step']})",
        "",
        f"{n} test trajectories; every forecaster starts after the same "
        f"{report['context_frames']} context frames (needs: {needs}) and predicts {h} "
        f"frames x dt {report['dt']:g} = {length}.",
        f"Horizons: median over trajectories; '>=' when at least half reach the end; {drift}.",
        f"Unstable = non-finite (stopped) ∪ envelope exit (RMS > {s['envelope_factor']:g} x "
        f"the largest training RMS) ∪ collapse (temporal std over the last half < "
        f"{s['collapse_ratio']:g} x the truth's), counts out of {n}.",
        f"Steps {span['start_step']}..{span['end_step']}: {enough} Pooled over trajectories "
        "against the true frames of the same steps; '-': a rollout is non-finite there.",
        "",
        "| forecaster | VPT(0.3) | VPT(0.5) | VPT(1.0) | corr>0.8 | spectral drift "
        "| non-finite | envelope | collapse | unstable "
        f"| spectrum max abs log2 (k ≤ {s['k_cutoff']}) | D_H | D_stsp | W1 | ACF "
        "| frames/s | x solver |",
        "|---" * 17 + "|",
    ]
    long_keys = ("spectrum_log2_error", "d_h", "d_stsp", "w1", "acf")
    for e in report["forecasters"].values():
        cells = []
        for key in ("vpt_0.3", "vpt_0.5", "vpt_1.0", "corr_time", "drift_time"):
            if key not in e["horizons"]:
                cells.append("-")
                continue
            hz = e["horizons"][key]
            val = hz["scaled_median"]
            mark = ">=" if hz["median"] >= h else ""
            cells.append(f"{mark}{val:.2f} {unit}")
        u = e["unstable"]
        cells += [f"{u[k]}/{n}" for k in ("nonfinite", "envelope", "collapse", "unstable")]
        cells += [_num(e["long_run"].get(k)) for k in long_keys]
        cells += [_num(e["frames_per_second"]), _num(e["speed_vs_solver"])]
        lines.append(f"| {e['label']} | " + " | ".join(cells) + " |")
    floor = report["noise_floor"]
    if "d_h" in floor:
        cells = ["-"] * 9 + [_num(floor.get(k)) for k in long_keys] + ["-", "-"]
        lines.append("| noise floor (true vs true) | " + " | ".join(cells) + " |")
    lines += ["", "Checks (true/false, with the value):", ""]
    for e in report["forecasters"].values():
        c = e["checks"]
        parts = [
            f"{c['nonfinite']['value']} non-finite: {_bool(c['nonfinite'])}",
            f"{c['envelope']['value']} envelope exits: {_bool(c['envelope'])}",
            f"{c['collapse']['value']} collapses: {_bool(c['collapse'])}",
        ]
        if "spectrum" in c:
            parts.append(
                f"spectrum within ×2 up to k_c = {s['k_cutoff']}: {_bool(c['spectrum'])} "
                f"(max |log2| {_num(c['spectrum']['value'])})"
            )
        if "d_h" in c:
            parts.append(
                f"D_H ≤ 2× floor: {_bool(c['d_h'])} ({_num(c['d_h']['value'])} vs "
                f"{_num(c['d_h']['limit'])})"
            )
        verdict = "pass" if c["all"] else "FAIL"
        lines.append(f"- {e['label']}: " + "; ".join(parts) + f" → {verdict}")
    if "truth_drifts" in floor:
        drifted = floor["truth_drifts"]
        lines += [
            "",
            f"The true trajectories' own spectral drift: {drifted}/{n} drift within the "
            "rollout"
            + (
                " (the drift test is noise-dominated at this window)."
                if drifted
                else " (none: the drift test is not noise-dominated at this window)."
            ),
        ]
    if report["solver_frames_per_second"]:
        lines += [
            "",
            f"Solver (one pdesim.simulate run of the same frames, same device): "
            f"{report['solver_frames_per_second']:.3g} frames/s; 'x solver' is each "
            "forecaster's rollout speed over it (the twin's is lower: one solver call per step).",
        ]
    for key, why in report["not_evaluated"].items():
        lines.append(f"\nNot evaluated: {key} ({why}).")
    return "\n".join(lines) + "\n"


def _bool(check: dict) -> str:
    return "true" if check["pass"] else "false"


def plots(out_dir: Path, report: dict, rollouts: dict, results: dict, ref, name: str) -> None:
    scale = report["time_scale"]
    truth = ref.truth
    labels = {k: e["label"] for k, e in report["forecasters"].items()}
    lead = (np.arange(report["horizon"]) + 1) * report["dt"] / scale["length"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, e in report["forecasters"].items():
        curve = np.array(e["curves"]["vrmse"]["median"], dtype=np.float64)
        ax.semilogy(lead, np.clip(np.nan_to_num(curve, nan=1e3), 1e-8, 1e3), label=labels[key])
    for eps in EPSILONS:
        ax.axhline(eps, color="grey", lw=0.5, ls="--")
    ax.set_xlabel(f"lead time [{scale['unit']}s]")
    ax.set_ylabel("median VRMSE")
    ax.set_title(f"{name}: error vs lead time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "error_vs_lead.png", dpi=110)
    plt.close(fig)

    if ref.spectra is not None:
        h = truth.shape[1]
        leads = sorted({0, h // 4, h // 2, h - 1})
        k = np.arange(ref.spectra.shape[-1])
        fig, axes = plt.subplots(1, len(leads) + 1, figsize=(3.2 * (len(leads) + 1), 3))
        for ax, step in zip(axes[:-1], leads, strict=True):
            ax.loglog(k[1:], ref.spectra[:, step].mean((0, 1))[1:], "k", lw=2, label="true")
            for key, r in rollouts.items():
                frames = r.frames[:, step]
                if np.all(np.isfinite(frames)):
                    _, ep = m.energy_spectrum(frames)
                    ax.loglog(k[1:], ep.mean((0, 1))[1:], lw=1, label=labels[key])
            ax.set_title(f"step {step + 1}")
            ax.set_xlabel("k")
        ax = axes[-1]
        ax.loglog(k[1:], ref.late_spectrum.mean(0)[1:], "k", lw=2, label="true")
        for key, res in results.items():
            if "late_spectrum" in res:
                ax.loglog(k[1:], res["late_spectrum"].mean(0)[1:], lw=1, label=labels[key])
        ax.axvline(ref.k_cut, color="grey", lw=0.5, ls="--")
        ax.set_title("mean over the last half")
        ax.set_xlabel("k")
        axes[0].set_ylabel("E(k)")
        axes[0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out_dir / "spectra.png", dpi=110)
        plt.close(fig)

    panels = [("true", truth[0])] + [(labels[k], r.frames[0]) for k, r in rollouts.items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.5), sharey=True)
    vmax = float(np.abs(truth[0]).max())
    for ax, (label, frames) in zip(axes, panels, strict=True):
        img = frames[:, 0] if frames.ndim == 3 else frames[-1, 0]
        ax.imshow(img, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(label, fontsize=8)
    axes[0].set_ylabel("step" if truth.ndim == 4 else "y")
    fig.tight_layout()
    fig.savefig(out_dir / "spacetime.png", dpi=110)
    plt.close(fig)
