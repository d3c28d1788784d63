"""Long-horizon evaluation of a trained run against baselines: JSON, PNGs, Markdown.

For a run directory (``config.json`` + ``checkpoint.pt``) and each of its datasets,
the model and the baselines (:mod:`surrogates.models.baselines`) are rolled out from
the first ``n_steps_input`` frames of every test trajectory for ``horizon`` steps and
scored on the data's own units (:mod:`surrogates.metrics`), per trajectory and field:

- curves per lead step: VRMSE, NRMSE, Pearson correlation, binned spectral NMSE;
- horizons (first crossing; a stopped, non-finite rollout counts as crossed):
  VPT(eps) = first step with mean-over-fields VRMSE >= eps for eps in 0.3, 0.5, 1.0,
  and the correlation time (mean correlation < 0.8); in steps, time units and
  Lyapunov times (``lambda_max * t``, the leading exponent of the dataset's system
  from :func:`pdesim.diagnostics.lyapunov_spectrum`, computed once and cached in
  ``eval/lyapunov.json``) -- a horizon equal to the rollout length is censored;
- stability: the step of the first non-finite value, of leaving the training
  envelope (RMS > 5 x the largest training RMS) and of spectral drift (the first
  window of ``max(4, horizon // 8)`` steps whose mean energy spectrum is off the true
  one by more than a factor 2 at some resolved wavenumber; square grids);
- long-run statistics over the second half of the rollout against the true frames
  of the same steps: D_stsp on the 2 leading standardised POD coefficients, D_H of
  those coefficients' series, the time-mean energy-spectrum log error, the histogram
  W1 and the largest mass drift; with the noise floor of two disjoint halves of the
  true test trajectories.

Everything goes to ``RUN_DIR/eval/<dataset>/``: ``report.json`` (medians and means
over trajectories), ``error_vs_lead.png``, ``spectra.png``, ``spacetime.png`` and
``summary.md`` (non-finite numbers are ``null`` in the JSON). Speed: frames per
second of each forecaster's rollout and its ratio to the solver's (one
:func:`pdesim.simulate` run producing the same frames on the same device).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from surrogates import metrics as m
from surrogates.data import scan
from surrogates.models import MODELS
from surrogates.models.baselines import DMD, Climatology, Persistence, Twin
from surrogates.rollout import ModelForecaster, Rollout, rollout, trajectories
from surrogates.train import CHECKPOINT, load_checkpoint

EPSILONS = (0.3, 0.5, 1.0)
CORR = 0.8


@dataclass
class EvalConfig:
    run: str
    horizon: int | None = None
    batch_size: int = 16
    lyapunov: float | None = None
    seed: int = 0


def load_model(run: Path):
    """The run's config dict and its model with the checkpoint's weights (eval mode)."""
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {str(run)!r} does not exist (train it first)")
    if not (run / "config.json").exists() or not (run / CHECKPOINT).exists():
        raise FileNotFoundError(
            f"{str(run)!r} is not a finished run: needs config.json and {CHECKPOINT}"
        )
    cfg = json.loads((run / "config.json").read_text())
    state = load_checkpoint(run / CHECKPOINT)
    infos = [scan(d, "test") for d in cfg["data"]]
    model = MODELS[cfg["model"]](cfg["config"], infos, jitter=cfg.get("jitter", True))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ValueError(
            f"model/dataset mismatch: the checkpoint of {str(run)!r} (fields "
            f"{state['fields']}) does not fit a model for the datasets {cfg['data']}: {exc}"
        ) from exc
    model.eval()
    return cfg, model, int(state["step"])


def lyapunov_exponent(h5_path: str, cache: Path) -> float | None:
    """Leading Lyapunov exponent of the dataset's pdesim system (cached), or None."""
    if cache.exists():
        return json.loads(cache.read_text())["lambda_max"]
    from pdesim import make_system
    from pdesim.diagnostics import lyapunov_spectrum
    from pdesim.systems.base import SpectralSystem

    with h5py.File(h5_path, "r") as h5:
        attrs = dict(h5.attrs)
    if "pdesim_system" not in attrs:
        return None
    system = make_system(str(attrs["pdesim_system"]), **json.loads(attrs["pdesim_params"]))
    if not isinstance(system, SpectralSystem) or not hasattr(system, "nonlinear_tangent"):
        return None
    spec = lyapunov_spectrum(system, 1, t_end=2000.0, dt=float(attrs["pdesim_dt"]))
    value = float(spec.exponents[0])
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"lambda_max": value, "t_average": 2000.0}) + "\n")
    return value


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, *a.shape[2:])


def score(r: Rollout, truth: np.ndarray, train_rms: np.ndarray, basis) -> dict:
    """Per-trajectory curves, horizons and long-run statistics of one rollout."""
    b, h = truth.shape[:2]
    with np.errstate(invalid="ignore"):
        v = m.vrmse(_flat(r.frames), _flat(truth)).reshape(b, h, -1)
        corr = m.pearson(_flat(r.frames), _flat(truth)).reshape(b, h, -1)
        _, snmse = m.binned_spectral_error(_flat(r.frames), _flat(truth))
    out = {
        "vrmse": v,
        "nrmse": m.nrmse(_flat(r.frames), _flat(truth)).reshape(b, h, -1),
        "pearson": corr,
        "spectral_nmse": snmse.reshape(b, h, *snmse.shape[1:]),
        "stopped_at": r.stopped_at,
    }
    mean_v, mean_c = v.mean(-1), corr.mean(-1)
    for eps in EPSILONS:
        out[f"vpt_{eps}"] = np.array([m.first_crossing(c, eps) for c in mean_v])
    out["corr_time"] = np.array([m.first_crossing(c, CORR, below=True) for c in mean_c])
    out["envelope_exit"] = np.array([m.envelope_exit(f, train_rms) for f in r.frames])
    if len(set(truth.shape[3:])) == 1:
        _, ref = m.energy_spectrum(_flat(truth))
        out["drift_time"] = np.array(
            [m.drift_time(f, ref.reshape(b, h, *ref.shape[1:]).mean((0, 1))) for f in r.frames]
        )
    late = slice(h // 2, h)
    pred_late, true_late = r.frames[:, late], truth[:, late]
    finite = bool(np.all(np.isfinite(pred_late)))
    stats = {}
    if finite:
        pa, ta = m.project(_flat(pred_late), basis), m.project(_flat(true_late), basis)
        stats["d_stsp"] = m.d_stsp(ta, pa)
        n = pred_late.shape[1]
        stats["d_h"] = float(
            np.mean(
                [
                    m.power_spectrum_hellinger(ta[i * n : (i + 1) * n], pa[i * n : (i + 1) * n])
                    for i in range(b)
                ]
            )
        )
        stats["w1"] = m.histogram_w1(pred_late, true_late)
        if len(set(truth.shape[3:])) == 1:
            _, ep = m.energy_spectrum(_flat(pred_late))
            _, et = m.energy_spectrum(_flat(true_late))
            stats["spectrum_log_error"] = float(m.spectrum_log_error(ep.mean(0), et.mean(0)).max())
        stats["max_mass_drift"] = float(max(np.abs(m.mass_drift(f)).max() for f in r.frames))
    else:
        stats = dict.fromkeys(
            ("d_stsp", "d_h", "w1", "spectrum_log_error", "max_mass_drift"), math.inf
        )
    out["long_run"] = stats
    return out


def noise_floor(truth: np.ndarray, basis) -> dict:
    """Long-run statistics of one half of the true trajectories against the other."""
    h = truth.shape[1]
    half = len(truth) // 2
    if half < 1:
        return {}
    a, b = truth[:half, h // 2 :], truth[half : 2 * half, h // 2 :]
    pa, pb = m.project(_flat(a), basis), m.project(_flat(b), basis)
    n = a.shape[1]
    out = {
        "d_stsp": m.d_stsp(pa, pb),
        "d_h": float(
            np.mean(
                [
                    m.power_spectrum_hellinger(pa[i * n : (i + 1) * n], pb[i * n : (i + 1) * n])
                    for i in range(half)
                ]
            )
        ),
        "w1": m.histogram_w1(b, a),
    }
    if len(set(truth.shape[3:])) == 1:
        _, ref = m.energy_spectrum(_flat(truth))
        ref = ref.mean(0)
        out["drift_time_median"] = float(np.median([m.drift_time(f, ref) for f in truth]))
        _, ea = m.energy_spectrum(_flat(a))
        _, eb = m.energy_spectrum(_flat(b))
        out["spectrum_log_error"] = float(m.spectrum_log_error(eb.mean(0), ea.mean(0)).max())
    return out


def _summary(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(v)), "mean": float(np.mean(v)), "per_trajectory": v.tolist()}


def evaluate(cfg: EvalConfig) -> dict:
    """Evaluate the run ``cfg.run`` on each of its datasets; returns the reports."""
    run = Path(cfg.run)
    config, model, step = load_model(run)
    torch.manual_seed(cfg.seed)
    reports = {}
    for root in config["data"]:
        reports[Path(root).name] = evaluate_dataset(cfg, run, config, model, step, root)
    return reports


def evaluate_dataset(cfg: EvalConfig, run: Path, config: dict, model, step: int, root) -> dict:
    test, ds = trajectories(root, "test")
    info = ds.info
    if hasattr(model, "check"):
        model.check(info)
    train, _ = trajectories(root, "train")
    n_ctx = int(config["n_steps_input"])
    available = test.shape[1] - n_ctx
    horizon = available if cfg.horizon is None else cfg.horizon
    if not isinstance(horizon, int) or not 1 <= horizon <= available:
        raise ValueError(
            f"horizon={horizon!r}; allowed: 1..{available} (the test trajectories of "
            f"{str(root)!r} hold {test.shape[1]} frames, {n_ctx} of them context)"
        )
    with h5py.File(info.files[0].path, "r") as h5:
        t = np.asarray(h5["dimensions/time"][:2], dtype=np.float64)
    dt = float(t[1] - t[0])
    out_dir = run / "eval" / info.name
    lam = (
        cfg.lyapunov
        if cfg.lyapunov is not None
        else lyapunov_exponent(info.files[0].path, out_dir / "lyapunov.json")
    )
    context, truth = test[:, :n_ctx], test[:, n_ctx : n_ctx + horizon]
    space = tuple(range(3, train.ndim))
    field_std = train.std(axis=(0, 1, *space))
    train_rms = np.sqrt((train**2).mean(space)).max((0, 1))
    basis = m.pod(_flat(train)[:: max(1, len(_flat(train)) // 4000)], 2)
    forecasters = [
        ModelForecaster(model, info, n_ctx, name=f"{config['model']} (step {step})"),
        Persistence(),
        Climatology(train),
        DMD(train),
    ]
    try:
        forecasters.append(Twin(info.files[0].path, field_std, seed=cfg.seed))
    except ValueError:
        pass
    results, rollouts = {}, {}
    for f in forecasters:
        r = rollout(f, context, horizon, cfg.batch_size)
        rollouts[f.name] = r
        results[f.name] = score(r, truth, train_rms, basis)
        results[f.name]["frames_per_second"] = r.frames_per_second
    solver_fps = None
    if "twin" in rollouts:
        twin = forecasters[-1]
        tick = time.perf_counter()
        twin.run(context[:, -1], horizon)
        solver_fps = len(context) * horizon / (time.perf_counter() - tick)
    report = {
        "run": str(run),
        "dataset": str(root),
        "checkpoint_step": step,
        "horizon": horizon,
        "dt": dt,
        "n_trajectories": len(test),
        "n_context": n_ctx,
        "lambda_max": lam,
        "lyapunov_time": 1 / lam if lam else None,
        "solver_frames_per_second": solver_fps,
        "noise_floor": noise_floor(truth, basis),
        "forecasters": {},
    }
    for name, res in results.items():
        entry = {
            "frames_per_second": res["frames_per_second"],
            "speed_vs_solver": res["frames_per_second"] / solver_fps if solver_fps else None,
            "stopped_at": _summary(res["stopped_at"]),
            "envelope_exit": _summary(res["envelope_exit"]),
            "blew_up": int(np.sum(res["stopped_at"] < horizon)),
            "long_run": res["long_run"],
            "horizons": {},
            "curves": {},
        }
        for key in [f"vpt_{e}" for e in EPSILONS] + ["corr_time", "drift_time"]:
            if key not in res:
                continue
            steps = _summary(res[key])
            steps["censored"] = int(np.sum(res[key] >= horizon))
            steps["time_median"] = steps["median"] * dt
            steps["lyapunov_median"] = steps["median"] * dt * lam if lam else None
            entry["horizons"][key] = steps
        for key in ("vrmse", "nrmse", "pearson"):
            curve = np.where(np.isfinite(res[key]), res[key], np.inf).mean(-1)
            entry["curves"][key] = {
                "median": np.median(curve, 0).tolist(),
                "mean": np.mean(curve, 0).tolist(),
            }
        snmse = np.where(np.isfinite(res["spectral_nmse"]), res["spectral_nmse"], np.inf)
        entry["curves"]["spectral_nmse_bins"] = np.median(snmse.mean(2), 0).T.tolist()
        report["forecasters"][name] = entry
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(_finite(report), indent=1) + "\n")
    plots(out_dir, report, rollouts, truth, info.name)
    (out_dir / "summary.md").write_text(markdown(report))
    return report


def _finite(value):
    """The report with every non-finite number as None (strict JSON; None: blew up)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def markdown(report: dict) -> str:
    lam = report["lambda_max"]
    lines = [
        f"# {Path(report['dataset']).name}: {report['run']} (step {report['checkpoint_step']})",
        "",
        f"{report['n_trajectories']} test trajectories, {report['n_context']} context frames, "
        f"horizon {report['horizon']} steps x dt {report['dt']:g}"
        + (f"; lambda_max {lam:.4f} (Lyapunov time {1 / lam:.1f})." if lam else "."),
        "Horizons: median over trajectories; '>=' when at least half reach the horizon.",
        "",
        "| forecaster | VPT(0.3) | VPT(0.5) | VPT(1.0) | corr>0.8 | spectral drift | blew up "
        "| D_stsp | D_H "
        "| frames/s | x solver |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    unit = "Λt" if lam else "t"
    for name, e in report["forecasters"].items():
        cells = []
        for key in ("vpt_0.3", "vpt_0.5", "vpt_1.0", "corr_time", "drift_time"):
            if key not in e["horizons"]:
                cells.append("-")
                continue
            h = e["horizons"][key]
            val = h["lyapunov_median"] if lam else h["time_median"]
            mark = ">=" if h["median"] >= report["horizon"] else ""
            cells.append(f"{mark}{val:.2f} {unit}")
        lr = e["long_run"]
        speed = e["speed_vs_solver"]
        cells += [
            f"{e['blew_up']}/{report['n_trajectories']}",
            f"{lr['d_stsp']:.3g}",
            f"{lr['d_h']:.3g}",
            f"{e['frames_per_second']:.3g}",
            f"{speed:.3g}" if speed else "-",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if report["solver_frames_per_second"]:
        lines += [
            "",
            f"Solver (one pdesim.simulate run of the same frames, same device): "
            f"{report['solver_frames_per_second']:.3g} frames/s; 'x solver' is each "
            "forecaster's rollout speed over it (the twin's is lower: one solver call per step).",
        ]
    floor = report["noise_floor"]
    if floor:
        lines += [
            "",
            f"Noise floor (true vs true): D_stsp {floor['d_stsp']:.3g}, "
            f"D_H {floor['d_h']:.3g}, W1 {floor['w1']:.3g}"
            + (
                f"; the true trajectories' own median spectral-drift step "
                f"{floor['drift_time_median']:g} of {report['horizon']} (below the "
                "horizon: the drift test is noise-dominated at this length)."
                if "drift_time_median" in floor
                else "."
            ),
        ]
    return "\n".join(lines) + "\n"


def plots(out_dir: Path, report: dict, rollouts: dict, truth: np.ndarray, name: str) -> None:
    lam, dt = report["lambda_max"], report["dt"]
    lead = (np.arange(report["horizon"]) + 1) * dt * (lam if lam else 1.0)
    fig, ax = plt.subplots(figsize=(7, 4))
    for fname, e in report["forecasters"].items():
        ax.semilogy(lead, np.clip(e["curves"]["vrmse"]["median"], 1e-8, 1e3), label=fname)
    for eps in EPSILONS:
        ax.axhline(eps, color="grey", lw=0.5, ls="--")
    ax.set_xlabel("lead time [Lyapunov times]" if lam else "lead time")
    ax.set_ylabel("median VRMSE")
    ax.set_title(f"{name}: error vs lead time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "error_vs_lead.png", dpi=110)
    plt.close(fig)

    if len(set(truth.shape[3:])) == 1:
        h = truth.shape[1]
        leads = sorted({0, h // 4, h // 2, h - 1})
        fig, axes = plt.subplots(1, len(leads), figsize=(3.2 * len(leads), 3), sharey=True)
        for ax, k in zip(np.atleast_1d(axes), leads, strict=True):
            kk, et = m.energy_spectrum(truth[:, k])
            ax.loglog(kk[1:], et.mean((0, 1))[1:], "k", lw=2, label="true")
            for fname, r in rollouts.items():
                frames = r.frames[:, k]
                if np.all(np.isfinite(frames)):
                    _, ep = m.energy_spectrum(frames)
                    ax.loglog(kk[1:], ep.mean((0, 1))[1:], lw=1, label=fname)
            ax.set_title(f"step {k + 1}")
            ax.set_xlabel("k")
        np.atleast_1d(axes)[0].set_ylabel("E(k)")
        np.atleast_1d(axes)[0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out_dir / "spectra.png", dpi=110)
        plt.close(fig)

    panels = [("true", truth[0])] + [(n, r.frames[0]) for n, r in rollouts.items()]
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
