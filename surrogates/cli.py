"""The ``surrogates`` command line: ``surrogates train --data DIR... --out RUN_DIR`` and
``surrogates eval RUN_DIR [--horizon N] [--context N]``.

Errors are one line, ``surrogates: error: ...``, with the exit status of ``pdesim``
(:data:`EXIT_STATUS`): 2 for a command line that cannot work as given (checked before
training starts: the run directory, the device), 1 for a failure while working.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import torch

from pdesim.cli import HelpFormatter, error_line, use_formatter
from pdesim.common import VERSION
from pdesim.validation import require_output_folder
from surrogates.models import CONFIGS, MODELS
from surrogates.train import TrainConfig, train

EXIT_STATUS = """exit status: 0 done; 1 failed while working (an I/O error such as a full
disk); 2 the command line cannot work as given (a bad option value, a missing input, a
--out that is a file or cannot be written, an unknown --device), found before any work
starts"""

QUIET = "no progress bar (the summary and the lines naming what was written are still printed)"

#: Options taken from TrainConfig (name, help); the rest are set explicitly below.
HELP = {
    "steps": "total optimiser steps (a resumed run continues up to this many)",
    "batch_size": "global batch size (split over torchrun ranks)",
    "lr": "peak learning rate",
    "weight_decay": "AdamW weight decay",
    "warmup": "linear warm-up steps",
    "min_lr_ratio": "final learning rate / peak after the cosine decay",
    "grad_clip": "gradient norm clip",
    "n_steps_input": "frames in each input window",
    "min_dt_stride": "smallest stride between frames (stored steps)",
    "max_dt_stride": "largest stride between frames (drawn per sample)",
    "rollout_steps": "steps of the (pushforward) rollout loss; 1 = one-step loss",
    "rollout_curriculum": "grow the rollout loss from 1 to --rollout-steps frames over "
    "this many steps (0: full length from the start)",
    "input_noise": "Gaussian noise added to input frames, as a fraction of each sample's "
    "field RMS; the model learns to undo it (0: off)",
    "teacher_forcing": "mix alpha of the true frame into each rollout-loss input "
    "(generalized teacher forcing; 0: free-running)",
    "ema": "decay of an exponential moving average of the weights, which validation "
    "scores and best.pt keeps (0: off)",
    "delta_scale": "walrus: scale of the predicted change, 'changes' (RMS of the "
    "window's frame changes, as in Walrus) or 'state' (RMS of the window: no steady "
    "state is absorbing)",
    "whitened_loss": "with --spectral-head: weight of the mean modulus of the error's "
    "whitened Fourier coefficients (k <= n/3) added to the L1 loss (0: off)",
    "val_every": "validate every N steps (0: never)",
    "val_samples": "validation windows per dataset",
    "val_horizon": "frames of the closed-loop valid rollouts whose median VPT(0.5) selects "
    "the kept weights (best.pt); 0: keep the final weights",
    "val_starts": "valid rollouts per validation (evenly spaced windows)",
    "checkpoint_every": "checkpoint every N steps (and at the end)",
    "seed": "random seed",
    "workers": "data-loader worker processes",
    "threads": "torch CPU threads per process (0: torch's default)",
    "init_from": "start from the weights of this best.pt/checkpoint.pt (same model and "
    "fields) with a fresh optimiser and schedule: a fine-tuning phase ('': from scratch)",
    "drop_prob": "NCDE models: drop each input frame (and half as often each field) "
    "with this probability during training",
}


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a surrogate on Well-layout datasets")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="dataset directories")
    p.add_argument(
        "--model",
        default="walrus",
        choices=sorted(MODELS),
        help="the surrogate: the Walrus-style transformer or a neural-CDE variant",
    )
    p.add_argument(
        "--config",
        default="tiny",
        choices=list(CONFIGS),
        help="the model's size (width, depth, heads) as one of the named configurations",
    )
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    p.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, cuda:N or auto (cuda where torch finds a GPU, else cpu); "
        "RUN_DIR/config.json records the device used",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from RUN_DIR's last checkpoint, if it has one",
    )
    p.add_argument("--no-jitter", dest="jitter", action="store_false", help="ablate jittering")
    p.add_argument(
        "--no-pushforward",
        dest="pushforward",
        action="store_false",
        help="backpropagate through the whole rollout loss",
    )
    p.add_argument(
        "--conserve-mean",
        action="store_true",
        help="walrus: predicted changes have zero spatial mean, so rollouts keep the "
        "context's mean (for data that conserves it; checked on the train split)",
    )
    p.add_argument(
        "--spectral-head",
        action="store_true",
        help="walrus: scale the output per Fourier mode by train-split statistics (a "
        "per-mode persistence plus a whitened network residual; periodic grids only)",
    )
    p.add_argument(
        "--scale-input",
        action="store_true",
        help="walrus: each field's log RMS over the window is an input channel (the "
        "amplitude the per-sample normalisation divides out)",
    )
    p.add_argument("--quiet", "--no-progress", dest="progress", action="store_false", help=QUIET)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for name, text in HELP.items():
        value = defaults[name]
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=type(value),
            default=value,
            help=text,
        )


def _eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="long-horizon rollouts of a trained run and the baselines; a report"
    )
    p.add_argument("run", metavar="RUN_DIR", help="run directory (config.json, checkpoint.pt)")
    p.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="rollout steps (default: every test frame after the context)",
    )
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help="context frames every forecaster starts after (default: the largest any needs)",
    )
    p.add_argument(
        "--no-reservoir",
        dest="reservoir",
        action="store_false",
        help="skip the echo-state reservoir (its selection on the valid split)",
    )
    p.add_argument("--batch-size", type=int, default=16, help="trajectories rolled out together")
    p.add_argument(
        "--lyapunov", type=float, default=None, help="leading Lyapunov exponent (default: computed)"
    )
    p.add_argument(
        "--jitter-samples",
        type=int,
        default=1,
        help="a walrus model predicts the mean of this many jitter draws per step "
        "(costs as many forward passes; default 1: one draw, as in training)",
    )
    p.add_argument(
        "--conserve-mean",
        action="store_true",
        help="a walrus model's predicted changes lose their spatial mean at inference, so "
        "rollouts keep the context's mean (refused for data whose mean moves; a model "
        "trained with --conserve-mean has it already)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's)")
    p.add_argument("--quiet", action="store_true", help=QUIET)


def resolve_device(text: str) -> str:
    """``auto`` as the device it stands for: ``cuda`` where torch finds a GPU, else
    ``cpu``; any other name unchanged."""
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return text


def _check_device(text: str) -> None:
    """Refuse a ``--device`` torch does not know, or a CUDA device this machine lacks."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(
            f"--device {text!r} is not a device; use cpu, cuda, cuda:N or auto"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {text!r}: training runs on cpu, cuda, cuda:N or auto")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.type == "cuda" and (device.index or 0) >= count:
        have = f"this machine has {count} CUDA device(s)" if count else "CUDA is not available"
        raise ValueError(f"--device {text!r}: {have}; use --device cpu")


def _check_eval(args: dict) -> None:
    """Refuse eval options out of range before anything is loaded."""
    if args["batch_size"] < 1:
        raise ValueError(f"--batch-size must be an integer >= 1, got {args['batch_size']}")
    if args["threads"] < 0:
        raise ValueError(f"--threads must be an integer >= 0 (0: default), got {args['threads']}")
    if args["jitter_samples"] < 1:
        raise ValueError(f"--jitter-samples must be an integer >= 1, got {args['jitter_samples']}")


def _eval(args: dict) -> int:
    from tqdm import tqdm

    from surrogates.evaluate import EvalConfig, evaluate

    _check_eval(args)
    threads = args.pop("threads")
    quiet = args.pop("quiet")
    if threads:
        torch.set_num_threads(threads)
    bars: list[tqdm] = []  # one per dataset, made at its first report

    def progress(done: int, total: int, label: str) -> None:
        if not bars or done < bars[-1].n or total != bars[-1].total:
            if bars:
                bars[-1].close()
            bars.append(
                tqdm(total=total, desc=label, unit="forecaster", disable=quiet, leave=False)
            )
        bars[-1].set_description_str(label, refresh=False)
        bars[-1].update(done - bars[-1].n)

    try:
        reports = evaluate(EvalConfig(**args), progress=progress)
    finally:
        for bar in bars:
            bar.close()
    for name in reports:
        out = Path(args["run"]) / "eval" / name
        print((out / "summary.md").read_text())
        print(f"report: {out}/report.json, summary.md, rollouts.hdf5, *.png")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surrogates",
        description="Train surrogates on pdesim (Well-format) datasets.",
        epilog=EXIT_STATUS,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {VERSION}",
        help="print the package version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    use_formatter(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    try:
        if args.pop("command") == "eval":
            return _eval(args)
        return _train(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"surrogates: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"surrogates: error: {error_line(exc)}", file=sys.stderr)
        return 1


def _train(args: dict) -> int:
    progress = args.pop("progress")
    args["device"] = resolve_device(args["device"])  # config.json records the device used
    cfg = TrainConfig(**args)
    _check_device(cfg.device)
    require_output_folder("--out", cfg.out)
    _, summary = train(cfg, log=print, progress=progress)
    if summary["world_size"] == 1 or summary.get("validation"):
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
