"""NCDE surrogates: one-step and 10-step error against persistence, and throughput.

For each dataset and each variant (``ncde``, ``logncde``, ``slice``) the script trains
a ``tiny`` model with :func:`surrogates.train.train` for ``--steps`` steps (default
per variant, :data:`STEPS`; batch 16, lr 2e-3, 4 input frames, a pushforward rollout
loss over ``--rollout-steps`` steps, no validation during training), timing it, then
rolls it out on evenly spaced windows of the ``valid`` split and reports the VRMSE
(:func:`surrogates.train.vrmse`, averaged over windows and fields) of its first and
tenth predicted frames next to that of persistence (the last input frame) on the
same windows. ``samples_per_s`` = training samples / training wall time. Each row
is what ``surrogates train`` gives with the same options; the script prints that
command line under the table. With
``--drop-prob p`` the models train on windows with frames dropped (see
:mod:`surrogates.models.ncde.models`) and are evaluated on complete windows.

Run ``python benchmarks/bench_ncde.py`` (``make bench-ncde``); writes
``benchmarks/results/bench_ncde.json``. The machine may be shared: throughputs of
one run are comparable with each other only.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from surrogates.data import WellWindows
from surrogates.models.ncde import VARIANTS
from surrogates.protocol import batch_window
from surrogates.train import TrainConfig, train, vrmse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "bench_ncde.json"
HORIZON = 10
#: Default training steps per variant: each trains in about 2-5 minutes on one core.
STEPS = {"ncde": 1500, "logncde": 800, "slice": 1500}
#: The training settings of every row, as ``surrogates train`` options.
SETTINGS = {"batch_size": 16, "lr": 2e-3, "warmup": 20, "val_every": 0, "checkpoint_every": 0}


@torch.no_grad()
def evaluate(model, root: Path, n_windows: int, n_in: int) -> dict[str, float]:
    """Mean VRMSE of step 1 and step ``HORIZON`` of the model and of persistence."""
    ds = WellWindows(root, "valid", n_in, HORIZON)
    fields = list(ds.info.field_names)
    picks = np.unique(np.linspace(0, len(ds) - 1, min(n_windows, len(ds))).astype(int))
    samples = [ds[int(i)] for i in picks]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    ds.close()
    window, targets = batch_window(batch, torch.device("cpu"))
    model.eval()
    pred = model.rollout(window, HORIZON, batch["boundary_conditions"][0], fields, fields)
    last = window[:, -1, : len(fields)]
    out = {}
    for name, k in (("1", 0), (str(HORIZON), HORIZON - 1)):
        out[f"vrmse_{name}"] = float(vrmse(pred[:, k], targets[:, k]).mean())
        out[f"persistence_{name}"] = float(vrmse(last, targets[:, k]).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["chialvo", "ks1d"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps of every variant (default per variant: {STEPS})",
    )
    parser.add_argument("--rollout-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--drop-prob", type=float, default=0.0)
    parser.add_argument("--windows", type=int, default=128)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    header = (
        f"{'dataset':8} {'variant':8} {'steps':>5} {'train_s':>7} {'samples/s':>9} "
        f"{'1-step':>7} {'persist':>7} {'10-step':>7} {'persist':>7}"
    )
    print(header)
    for name in args.datasets:
        for variant in args.variants:
            steps = args.steps or STEPS[variant]
            with tempfile.TemporaryDirectory() as tmp:
                cfg = TrainConfig(
                    data=[str(ROOT / "datasets" / name)],
                    out=tmp,
                    model=variant,
                    steps=steps,
                    threads=args.threads,
                    drop_prob=args.drop_prob,
                    rollout_steps=args.rollout_steps,
                    **SETTINGS,
                )
                tick = time.perf_counter()
                model, _ = train(cfg)
                seconds = time.perf_counter() - tick
            row = {
                "dataset": name,
                "variant": variant,
                "steps": steps,
                "rollout_steps": args.rollout_steps,
                "drop_prob": args.drop_prob,
                "train_s": seconds,
                "samples_per_s": steps * cfg.batch_size / seconds,
                **evaluate(model, ROOT / "datasets" / name, args.windows, cfg.n_steps_input),
            }
            rows.append(row)
            print(
                f"{name:8} {variant:8} {steps:5d} {seconds:7.1f} "
                f"{row['samples_per_s']:9.1f} {row['vrmse_1']:7.4f} {row['persistence_1']:7.4f} "
                f"{row['vrmse_10']:7.4f} {row['persistence_10']:7.4f}",
                flush=True,
            )
    options = {**SETTINGS, "rollout_steps": args.rollout_steps, "threads": args.threads}
    if args.drop_prob:
        options["drop_prob"] = args.drop_prob
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
    print(
        f"each row: surrogates train --data datasets/DATASET --model VARIANT --steps STEPS {flags}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"machine": platform.platform(), "torch": torch.__version__, "rows": rows}
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
