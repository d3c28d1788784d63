"""The Walrus paper's jitter ablation on KS1D: one recipe, patch jittering on and off.

``make ablate-jitter`` trains ``runs/ks1d-no-jitter`` with the recipe of ``make train``
plus ``--no-jitter`` (same steps, batch, seed and schedule) and then runs this script
on both runs. Each run is evaluated with ``surrogates eval`` unless its report is newer
than its ``best.pt``; the script prints the model's test-split horizons (median over
trajectories, Lyapunov times), its stability counts and long-run checks side by side,
and writes ``benchmarks/results/jitter_ablation.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surrogates.evaluate import EvalConfig, evaluate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "jitter_ablation.json"


def report_of(run: Path) -> dict:
    """The run's evaluation report of its (single) dataset, evaluating it if stale."""
    config = json.loads((run / "config.json").read_text())
    if len(config["data"]) != 1:
        raise ValueError(f"{run}: the ablation compares single-dataset runs")
    path = run / "eval" / Path(config["data"][0]).name / "report.json"
    if not path.exists() or path.stat().st_mtime < (run / "best.pt").stat().st_mtime:
        evaluate(EvalConfig(str(run)))
    return json.loads(path.read_text())


def row(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    report = report_of(run)
    model = report["forecasters"][config["model"]]
    horizons = {k: v["lyapunov_median"] for k, v in model["horizons"].items()}
    return {
        "run": str(run),
        "jitter": bool(config["jitter"]),
        "steps": summary["steps"],
        "train_minutes": summary.get("train_seconds", float("nan")) / 60,
        "selected_step": summary["selected"].get("step"),
        "n_trajectories": report["n_trajectories"],
        "rollout_lyapunov": report["rollout_lyapunov"],
        "horizons_lyapunov": horizons,
        "unstable": model["unstable"],
        "checks": {k: v["pass"] if isinstance(v, dict) else v for k, v in model["checks"].items()},
        "long_run": model["long_run"],
    }


def table(rows: list[dict]) -> str:
    head = (
        f"{'jitter':>6} {'steps':>5} {'train min':>9} {'VPT(0.3)':>8} {'VPT(0.5)':>8} "
        f"{'VPT(1.0)':>8} {'corr>0.8':>8} {'non-finite':>10} {'envelope':>8} "
        f"{'collapse':>8} {'spectrum':>8} {'D_H':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        h, u, lr = r["horizons_lyapunov"], r["unstable"], r["long_run"]
        n = r["n_trajectories"]

        def num(value, fmt=".3g"):
            return "inf" if value is None else format(value, fmt)

        lines.append(
            f"{'on' if r['jitter'] else 'off':>6} {r['steps']:>5} {r['train_minutes']:>9.1f} "
            + " ".join(f"{h[k]:>8.2f}" for k in ("vpt_0.3", "vpt_0.5", "vpt_1.0", "corr_time"))
            + f" {u['nonfinite']:>7}/{n:<2} {u['envelope']:>5}/{n:<2} {u['collapse']:>5}/{n:<2}"
            + f" {num(lr.get('spectrum_log2_error')):>8} {num(lr.get('d_h')):>8}"
        )
    lines.append(
        "horizons: median over test trajectories in Lyapunov times; spectrum: max |log2| "
        "error of the last-half mean spectrum up to the 2/3 cut-off (<= 1: within x2)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories to compare")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output")
    args = parser.parse_args(argv)
    for run in args.runs:
        if not (run / "best.pt").exists():
            print(f"jitter_ablation: {run} has no best.pt: train it first", file=sys.stderr)
            return 1
    rows = [row(run) for run in args.runs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
