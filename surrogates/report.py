"""The evaluation report: each forecaster's JSON entry and ``summary.md``.

:func:`forecaster_entry` turns one forecaster's scores (:func:`surrogates.scoring.score`)
into its ``report.json`` entry: medians and means over trajectories, horizons in steps,
time units, Lyapunov times and the system's own time scale, curves, checks.
:func:`json_ready` makes a report strict JSON (non-finite numbers ``null``);
:func:`markdown` renders a JSON-ready report as ``summary.md``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from surrogates.scoring import EPSILONS, LONG_RUN_LYAPUNOV, checks


def summarise(values: np.ndarray) -> dict:
    """``{"median", "mean", "per_trajectory"}`` of per-trajectory values."""
    v = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(v)), "mean": float(np.mean(v)), "per_trajectory": v.tolist()}


def forecaster_entry(
    label: str,
    n_context: int,
    res: dict,
    frames_per_second: float,
    solver_fps: float | None,
    horizon: int,
    dt: float,
    to_lyap: float | None,
    scale_length: float,
    floor: dict,
    details: dict,
) -> dict:
    """The report entry of one forecaster: its scores ``res`` over ``horizon`` steps
    ``dt`` apart (``to_lyap`` Lyapunov times per step, None without an exponent;
    ``scale_length`` the report's time unit), its rollout speed against the solver's,
    its checks against the noise ``floor``, and ``details`` (e.g. a search)."""
    entry = {
        "label": label,
        "n_context": int(n_context),
        "frames_per_second": frames_per_second,
        "speed_vs_solver": frames_per_second / solver_fps if solver_fps else None,
        "stopped_at": summarise(res["stopped_at"]),
        "envelope_exit": summarise(res["envelope_exit"]),
        "collapse_ratio": summarise(res["collapse_ratio"]),
        "unstable": {k: int(np.sum(f)) for k, f in res["flags"].items()},
        "unstable_trajectories": {k: np.flatnonzero(f).tolist() for k, f in res["flags"].items()},
        "long_run": res["long_run"],
        "horizons": {},
        "curves": {},
        **details,
    }
    keys = [f"vpt_{e}" for e in EPSILONS] + ["corr_time", "drift_time", "stable_time"]
    for key in keys:
        if key not in res:
            continue
        steps = summarise(res[key])
        steps["censored"] = int(np.sum(res[key] >= horizon))
        steps["time_median"] = steps["median"] * dt
        steps["lyapunov_median"] = steps["median"] * to_lyap if to_lyap is not None else None
        steps["scaled_median"] = steps["median"] * dt / scale_length
        entry["horizons"][key] = steps
    for key in ("vrmse", "nrmse", "pearson"):
        curve = np.where(np.isfinite(res[key]), res[key], np.inf).mean(-1)
        entry["curves"][key] = {
            "median": np.median(curve, 0).tolist(),
            "mean": np.mean(curve, 0).tolist(),
        }
    snmse = np.where(np.isfinite(res["spectral_nmse"]), res["spectral_nmse"], np.inf)
    entry["curves"]["spectral_nmse_bins"] = np.median(snmse.mean(2), 0).T.tolist()
    entry["checks"] = checks(entry, floor)
    return entry


def json_ready(value):
    """The report as strict JSON: every non-finite number None, numpy scalars and
    arrays as Python values."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
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
