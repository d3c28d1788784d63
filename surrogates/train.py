"""Train a surrogate on windows of one or several datasets; validate, checkpoint, resume.

One step: the :class:`surrogates.data.BatchPlan` picks a dataset and a global batch
of its windows (each rank reads its own shard); the model predicts the normalised
change at every time position of the window and the loss is the L1 distance to
the true normalised changes ``(u_{t+1} - u_t) / d`` (positions with at least two
frames of context). With ``rollout_steps = K > 1`` the model is then rolled out
``K - 1`` more steps and each prediction's change is scored the same way; with
``pushforward`` the gradient does not flow through the earlier predictions. Options
aimed at long rollouts:

- ``rollout_curriculum = N``: the rollout length grows linearly from 1 to ``K`` over
  the first ``N`` steps (``k_s = 1 + floor((K - 1) min(1, s / N))``);
- ``input_noise = sigma``: Gaussian noise of ``sigma`` times each sample's field RMS
  over the window is added to the input frames, and the targets are the changes from
  the *noisy* frames to the clean next ones, so the model learns to pull a perturbed
  state back (Sanchez-Gonzalez et al. 2020);
- ``teacher_forcing = alpha``: each rollout-loss input is ``(1 - alpha) u_model +
  alpha u_data`` (generalized teacher forcing, Hess et al. 2023, with a constant
  ``alpha``; 0 = free-running);
- ``spectral_head``: a Walrus model whose output is scaled per Fourier mode by
  statistics of the train split (:mod:`surrogates.models.spectral_head`, fitted on
  :data:`HEAD_FIT_WINDOWS` windows before the first step), and ``whitened_loss =
  beta`` adds ``beta`` times the mean modulus of the error's whitened coefficients on
  the resolved band to every step's loss, so every mode is trained at its own scale;
  ``scale_input`` gives the Walrus model each field's log RMS as an input channel;
- ``ema = beta``: an exponential moving average of the weights
  (:class:`surrogates.ema.WeightEMA`) is what validation scores and what the run keeps.

AdamW; learning rate warmed up linearly from ``0.1 lr`` over ``warmup`` steps, then
cosine-decayed to ``min_lr_ratio * lr``; gradients clipped to norm ``grad_clip``.
Validation reports the one-step VRMSE (The Well's ``sqrt(mean_x (p - y)^2) /
(std_x y + 1e-7)`` per field, on the data's own units, averaged over samples and
fields) and that of persistence (predicting the last input frame), and, with
``val_horizon = H > 0``, the valid-prediction time of closed-loop rollouts:
``val_starts`` windows spread evenly over the valid split are rolled out ``H`` frames
and each rollout's VPT is its first step with field-mean VRMSE >= 0.5 (H if none).
The run keeps the weights with the best median VPT (ties: the lower mean of
``log VRMSE`` over the horizon) in ``best.pt``: one-step error and long-horizon skill
are only weakly related, so the selection measures the latter.

Data parallel: launched by ``torchrun``, each rank reads its shard of every global
batch and gradients are averaged with ``all_reduce`` (gloo on CPU, NCCL on GPU)
after every backward pass, so the ranks' weights stay identical and match
one-process training on the same global batch.

The run directory holds ``config.json``, ``metrics.jsonl`` (one JSON object per
step and per validation), ``checkpoint.pt`` (the last checkpoint, to resume from),
``best.pt`` (the selected weights: those of the best valid rollouts, or the final
weights without ``val_horizon``; the averaged ones with ``ema``; what ``surrogates
eval`` loads) and ``summary.json`` (with ``train_seconds``, the wall time of training
summed over resumed sessions).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from pdesim.files import atomic_write_text
from surrogates import metrics
from surrogates.checkpoints import BEST, CHECKPOINT, WEIGHT_KEYS, load_checkpoint, save_checkpoint
from surrogates.data import BatchPlan, MultiWindows, WellWindows, require_conserved_means
from surrogates.ema import WeightEMA
from surrogates.models import MODELS
from surrogates.models.walrus import DELTA_SCALES
from surrogates.protocol import (
    Surrogate,
    advance,
    batch_window,
    channels,
    slide,
    target,
    with_input_noise,
)
from surrogates.runs import CONFIG, build_model

VPT_EPSILON = 0.5
#: Train-split windows a spectral head's statistics are fitted on (drawn with the seed).
HEAD_FIT_WINDOWS = 4096


@dataclass
class TrainConfig:
    """Everything a run depends on; written to ``config.json`` in the run directory."""

    data: list[str]
    out: str
    model: str = "walrus"
    config: str = "tiny"
    steps: int = 1000
    batch_size: int = 8
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    n_steps_input: int = 4
    min_dt_stride: int = 1
    max_dt_stride: int = 1
    rollout_steps: int = 1
    pushforward: bool = True
    rollout_curriculum: int = 0
    input_noise: float = 0.0
    teacher_forcing: float = 0.0
    ema: float = 0.0
    jitter: bool = True
    delta_scale: str = "changes"
    conserve_mean: bool = False
    spectral_head: bool = False
    whitened_loss: float = 0.0
    scale_input: bool = False
    val_every: int = 200
    val_samples: int = 64
    val_horizon: int = 0
    val_starts: int = 32
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "cpu"
    workers: int = 0
    threads: int = 0
    resume: bool = False
    drop_prob: float = 0.0
    init_from: str = ""

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("data: give at least one dataset directory")
        if self.model not in MODELS:
            raise ValueError(f"model={self.model!r}; allowed: {', '.join(MODELS)}")
        positive = (
            "steps",
            "batch_size",
            "n_steps_input",
            "rollout_steps",
            "val_samples",
            "val_starts",
        )
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value!r}; allowed: an integer >= 1")
        counts = ("warmup", "val_every", "checkpoint_every", "workers", "threads")
        for key in (*counts, "rollout_curriculum", "val_horizon"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{key}={value!r}; allowed: an integer >= 0 (0: never/none)")
        for key in ("lr", "grad_clip"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key}={getattr(self, key)!r}; allowed: > 0")
        if not 0 <= self.drop_prob < 1 or (self.drop_prob and self.model == "walrus"):
            raise ValueError(f"drop_prob={self.drop_prob!r}; allowed: 0 <= p < 1, and 0 for walrus")
        if self.delta_scale not in DELTA_SCALES:
            raise ValueError(
                f"delta_scale={self.delta_scale!r}; allowed: {', '.join(DELTA_SCALES)}"
            )
        if self.delta_scale != "changes" and self.model != "walrus":
            raise ValueError(
                f"delta_scale applies to walrus only; model={self.model!r} takes the default"
            )
        if self.conserve_mean and self.model != "walrus":
            raise ValueError(f"conserve_mean applies to walrus only; model={self.model!r}")
        for flag in ("spectral_head", "scale_input"):
            if getattr(self, flag) and self.model != "walrus":
                raise ValueError(f"{flag} applies to walrus only; model={self.model!r}")
        if not self.whitened_loss >= 0 or (self.whitened_loss and not self.spectral_head):
            raise ValueError(
                f"whitened_loss={self.whitened_loss!r}; allowed: >= 0, and 0 without "
                "spectral_head (the whitening is the head's)"
            )
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio={self.min_lr_ratio!r}; allowed: 0..1")
        if not 0 <= self.input_noise < 1:
            raise ValueError(f"input_noise={self.input_noise!r}; allowed: 0 <= sigma < 1")
        if not 0 <= self.teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing={self.teacher_forcing!r}; allowed: 0..1")
        if not (self.ema == 0 or 0 < self.ema < 1):
            raise ValueError(f"ema={self.ema!r}; allowed: 0 (off) or 0 < decay < 1")
        if (self.input_noise or self.teacher_forcing) and self.model != "walrus":
            raise ValueError(
                "input_noise and teacher_forcing apply to walrus only; "
                f"model={self.model!r} trains without them"
            )


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up from ``0.1 lr`` then cosine decay to ``min_lr_ratio * lr``."""
    if step < cfg.warmup:
        return cfg.lr * (0.1 + 0.9 * step / cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    floor = cfg.min_lr_ratio * cfg.lr
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def vrmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per sample and field, for ``(B, C, *space)``: :func:`surrogates.metrics.vrmse` with
    the biased spatial variance (validation's definition, so predicting the mean scores 1)."""
    return metrics.vrmse(pred, true, unbiased=False)


def rollout_length(cfg: TrainConfig, step: int) -> int:
    """Frames scored at (0-based) ``step``: ``rollout_steps``, grown linearly from 1 over
    the first ``rollout_curriculum`` steps."""
    if not cfg.rollout_curriculum:
        return cfg.rollout_steps
    grown = (cfg.rollout_steps - 1) * min(1.0, step / cfg.rollout_curriculum)
    return 1 + int(grown)


#: Settings a resumed run may change: where and how it runs, and how far (``steps``,
#: to extend a run), not what each step computes.
RESUME_FREE = ("out", "resume", "device", "workers", "threads", "checkpoint_every", "steps")


def _require_same_recipe(path: Path, cfg: TrainConfig) -> None:
    """Refuse to resume the run of ``path`` (its ``config.json``) under other settings:
    ``--resume`` on a finished run would otherwise keep its old weights under a new
    recipe's name (e.g. ``make ablate-jitter`` after ``make train`` changed)."""
    if not path.exists():
        return
    before = json.loads(path.read_text())
    defaults = asdict(TrainConfig(data=cfg.data, out=cfg.out))  # options added since
    changed = [
        f"{key}: {before.get(key, defaults[key])!r} -> {value!r}"
        for key, value in asdict(cfg).items()
        if key not in RESUME_FREE and before.get(key, defaults[key]) != value
    ]
    if changed:
        raise ValueError(
            f"{str(path.parent)!r} was trained with other settings ({'; '.join(changed)}); "
            "resume it with its own settings, or train into another --out"
        )


def batch_loss(model: Surrogate, batch: dict, infos: list, cfg: TrainConfig, device, step: int = 0):
    """The L1 loss on normalised changes, one-step plus optional rollout steps (see the
    module docstring for the noise, curriculum and teacher-forcing options)."""
    info = infos[int(batch["dataset_index"][0])]
    in_fields, out_fields = channels(info)
    n_out = len(out_fields)
    bcs = batch["boundary_conditions"][0]
    window, targets = batch_window(batch, device)
    clean = window[:, :, :n_out]
    if cfg.input_noise:
        noisy = with_input_noise(clean, cfg.input_noise)
        window = torch.cat([noisy, window[:, :, n_out:]], 2)
    delta, d = model(window, bcs, in_fields, out_fields)
    following = torch.cat([clean[:, 1:], targets[:, :1]], 1)
    true = target(window[:, :, :n_out], following, d)
    first = 1 if window.shape[1] > 1 else 0
    rows = model.field_index(out_fields) if cfg.whitened_loss else []
    losses = [step_loss(model, delta[:, first:], true[:, first:], rows, cfg.whitened_loss)]
    for k in range(1, min(targets.shape[1], rollout_length(cfg, step))):
        nxt = advance(window, delta, d)
        if cfg.pushforward:
            nxt = nxt.detach()
        if cfg.teacher_forcing:
            nxt = (1 - cfg.teacher_forcing) * nxt + cfg.teacher_forcing * targets[:, k - 1]
        window = slide(window, nxt)
        delta, d = model(window, bcs, in_fields, out_fields)
        true = target(window[:, -1:, :n_out], targets[:, k : k + 1], d)
        losses.append(step_loss(model, delta[:, -1:], true, rows, cfg.whitened_loss))
    return torch.stack(losses).mean()


def step_loss(model, delta: torch.Tensor, true: torch.Tensor, rows, whitened: float):
    """The L1 distance of normalised changes ``(B, T, C, *space)``, plus ``whitened``
    times the mean modulus of the error's whitened coefficients (the model's spectral
    head, fields ``rows``) when ``whitened > 0``."""
    error = delta - true
    loss = error.abs().mean()
    if whitened:
        flat = error.reshape(-1, *error.shape[2:])
        loss = loss + whitened * model.head.whitened_l1(flat, torch.tensor(rows))
    return loss


def fit_head(model, train_sets: list[WellWindows], cfg: TrainConfig, device) -> None:
    """Fit a Walrus model's spectral head on :data:`HEAD_FIT_WINDOWS` train windows
    drawn with the run's seed, with its input noise (one dataset: the head needs one
    grid)."""
    ds = train_sets[0]
    rng = np.random.default_rng(cfg.seed)
    picks = np.sort(rng.choice(len(ds), min(HEAD_FIT_WINDOWS, len(ds)), replace=False))
    _, out_fields = channels(ds.info)

    def batches():
        for chunk in np.array_split(picks, max(1, len(picks) // 256)):
            batch = torch.utils.data.default_collate([ds[int(i)] for i in chunk])
            yield batch_window(batch, device)

    generator = torch.Generator().manual_seed(cfg.seed)
    model.fit_spectral_head(batches(), out_fields, cfg.input_noise, generator)


@torch.no_grad()
def validate(model: Surrogate, sets: list[WellWindows], n_samples: int, seed: int, device) -> dict:
    """One-step VRMSE of the model and of persistence on evenly spaced windows."""
    was_training = model.training
    model.eval()
    result: dict[str, float] = {}
    totals = {"vrmse": [], "persistence_vrmse": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for ds in sets:
            in_fields, out_fields = channels(ds.info)
            n_out = len(out_fields)
            picks = np.unique(np.linspace(0, len(ds) - 1, min(n_samples, len(ds))).astype(int))
            ours, persistence = [], []
            for chunk in np.array_split(picks, max(1, len(picks) // 16)):
                samples = [ds[int(i)] for i in chunk]
                batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
                window, targets = batch_window(batch, device)
                pred = model.rollout(
                    window, 1, batch["boundary_conditions"][0], in_fields, out_fields
                )
                ours.append(vrmse(pred[:, 0], targets[:, 0]))
                persistence.append(vrmse(window[:, -1, :n_out], targets[:, 0]))
            ours_t, pers_t = torch.cat(ours), torch.cat(persistence)
            result[f"{ds.info.name}/vrmse"] = float(ours_t.mean())
            result[f"{ds.info.name}/persistence_vrmse"] = float(pers_t.mean())
            totals["vrmse"].append(float(ours_t.mean()))
            totals["persistence_vrmse"].append(float(pers_t.mean()))
    model.train(was_training)
    result["vrmse"] = float(np.mean(totals["vrmse"]))
    result["persistence_vrmse"] = float(np.mean(totals["persistence_vrmse"]))
    return result


@torch.no_grad()
def validate_rollouts(
    model: torch.nn.Module, sets: list[WellWindows], n_starts: int, device
) -> dict[str, float]:
    """Closed-loop skill on windows of ``n_steps_input`` + H frames (H: the sets' output
    length): per dataset the median VPT(0.5) in frames over ``n_starts`` rollouts from
    evenly spaced windows, and the mean of ``log VRMSE`` over their steps."""
    was_training = model.training
    model.eval()
    result: dict[str, float] = {}
    vpts, logs = [], []
    for ds in sets:
        in_fields, out_fields = channels(ds.info)
        picks = np.unique(np.linspace(0, len(ds) - 1, min(n_starts, len(ds))).astype(int))
        samples = [ds[int(i)] for i in picks]
        batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
        window, targets = batch_window(batch, device)
        pred = model.rollout(
            window, targets.shape[1], batch["boundary_conditions"][0], in_fields, out_fields
        )
        b, h = targets.shape[:2]
        err = metrics.vrmse(pred.flatten(0, 1).double(), targets.flatten(0, 1).double())
        err = err.reshape(b, h, -1).mean(-1).cpu().numpy()
        vpt = metrics.first_crossing(err, VPT_EPSILON)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_err = np.log(np.where(np.isfinite(err), np.maximum(err, 1e-12), 1e6))
        result[f"{ds.info.name}/vpt_frames"] = float(np.median(vpt))
        result[f"{ds.info.name}/mean_log_vrmse"] = float(log_err.mean())
        vpts.append(float(np.median(vpt)))
        logs.append(float(log_err.mean()))
    model.train(was_training)
    result["vpt_frames"] = float(np.mean(vpts))
    result["mean_log_vrmse"] = float(np.mean(logs))
    return result


def _initialise(model: torch.nn.Module, path: Path) -> None:
    """Start from the weights of ``path`` (a ``best.pt`` or ``checkpoint.pt`` of a run of
    the same model and fields): a fine-tuning phase with its own optimiser and schedule."""
    if not path.exists():
        raise FileNotFoundError(f"init_from={str(path)!r} does not exist")
    state = load_checkpoint(path, WEIGHT_KEYS)
    _require_same_model(state, model, f"init_from={str(path)!r} holds")
    model.load_state_dict(state["model"])


def _require_same_model(state: dict, model: torch.nn.Module, what: str) -> None:
    """ValueError unless the checkpoint ``state`` is of ``model``'s fields and config (a
    config saved before an option existed has that option's default)."""
    defaults = {f.name: f.default for f in fields(model.cfg)}
    saved = {k: state["model_config"].get(k, default) for k, default in defaults.items()}
    if state["fields"] != model.fields or saved != model.cfg.to_dict():
        raise ValueError(
            f"{what} fields {state['fields']} and model {state['model_config']}, not "
            f"{model.fields} and {model.cfg.to_dict()}"
        )


def _distributed(device: str) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _average_gradients(params: list[torch.nn.Parameter], world: int) -> None:
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def train(cfg: TrainConfig, log: Callable[[str], None] | None = None, progress: bool = False):
    """Run (or resume) training as ``cfg`` says; returns the model and a summary dict.

    ``log`` receives one line per validation (rank 0 only); ``progress`` shows a
    tqdm bar with the loss and samples per second.
    """
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device!r}: CUDA is not available; use --device cpu")
    rank, world = _distributed(cfg.device)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} is not divisible by {world} ranks")
    device = torch.device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        device = torch.device("cuda", torch.cuda.current_device())
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)

    train_sets = [
        WellWindows(
            d, "train", cfg.n_steps_input, cfg.rollout_steps, cfg.min_dt_stride, cfg.max_dt_stride
        )
        for d in cfg.data
    ]
    infos = [ds.info for ds in train_sets]
    if cfg.conserve_mean:
        require_conserved_means(train_sets, "train without --conserve-mean")
    valid_sets, horizon_sets = [], []
    if cfg.val_every:
        valid_sets = [
            WellWindows(d, "valid", cfg.n_steps_input, 1, cfg.min_dt_stride, cfg.min_dt_stride)
            for d in cfg.data
        ]
    if cfg.val_every and cfg.val_horizon:
        horizon_sets = [
            WellWindows(
                d,
                "valid",
                cfg.n_steps_input,
                cfg.val_horizon,
                cfg.min_dt_stride,
                cfg.min_dt_stride,
            )
            for d in cfg.data
        ]
    model = build_model(asdict(cfg), infos).to(device)
    resuming = cfg.resume and (Path(cfg.out) / CHECKPOINT).exists()
    if cfg.spectral_head and not (resuming or cfg.init_from):
        fit_head(model, train_sets, cfg, device)  # else the loaded weights carry the head
    if cfg.init_from:
        _initialise(model, Path(cfg.init_from))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = WeightEMA(model, cfg.ema) if cfg.ema else None
    best: dict[str, Any] = {}

    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    start, earlier_seconds = 0, 0.0
    if ckpt_path.exists() and not cfg.resume:
        raise ValueError(
            f"{str(out)!r} already holds a checkpoint; pass --resume to continue it or "
            "choose another --out"
        )
    if cfg.resume and ckpt_path.exists():
        state = load_checkpoint(
            ckpt_path,
            remedy="remove it to start the run over, or train into another --out without --resume",
        )
        _require_same_recipe(out / CONFIG, cfg)
        _require_same_model(state, model, f"checkpoint {str(ckpt_path)!r} is for")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = int(state["step"])
        earlier_seconds = float(state.get("train_seconds", 0.0))
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        best = dict(state.get("best", {}))
    if world > 1:
        for p in model.state_dict().values():
            dist.broadcast(p, 0)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        record = {**asdict(cfg), "world_size": world, "model_config": model.cfg.to_dict()}
        record["fields"] = model.fields
        atomic_write_text(out / CONFIG, json.dumps(record, indent=2) + "\n")

    plan = BatchPlan(
        [len(ds) for ds in train_sets],
        cfg.batch_size,
        cfg.seed,
        rank,
        world,
        start,
        max(0, cfg.steps - start),
    )
    # The loader seeds its workers from its own generator, not the global one, so a
    # resumed run draws the same jitter offsets as an uninterrupted one.
    loader = DataLoader(
        MultiWindows(train_sets),
        batch_sampler=plan,
        num_workers=cfg.workers,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    metrics = open(out / "metrics.jsonl", "a") if rank == 0 else None
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress or rank != 0, unit="step")
    say = (tqdm.write if progress else log) if rank == 0 else None
    last: dict[str, Any] = {}
    val: dict[str, float] = {}

    def checkpoint(step: int) -> None:
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "fields": model.fields,
            "model_config": model.cfg.to_dict(),
            "best": best,
            "train_seconds": earlier_seconds + time.perf_counter() - began,
        }
        if ema is not None:
            state["ema"] = ema.state_dict()
        save_checkpoint(ckpt_path, state)

    def keep_best(step: int, score: dict[str, float]) -> None:
        """Write ``best.pt`` (the weights validation scored) if ``score`` beats the best."""
        key = (score.get("vpt_frames", 0.0), -score.get("mean_log_vrmse", 0.0))
        if best and key <= (best["vpt_frames"], -best["mean_log_vrmse"]):
            return
        best.clear()
        best.update({"step": step, "vpt_frames": key[0], "mean_log_vrmse": -key[1]})
        weights = ema.shadow if ema is not None else model.state_dict()
        record = {"step": step, "model": weights, "fields": model.fields, "score": dict(best)}
        save_checkpoint(out / BEST, {**record, "model_config": model.cfg.to_dict()})

    def validation(step: int) -> dict[str, float]:
        with ema.applied(model) if ema is not None else contextlib.nullcontext():
            result = validate(model, valid_sets, cfg.val_samples, cfg.seed, device)
            if horizon_sets:
                # the same jitter draws at every validation, independent of training's
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(cfg.seed)
                    result.update(validate_rollouts(model, horizon_sets, cfg.val_starts, device))
                keep_best(step, result)
        return result

    model.train()
    tick = began = time.perf_counter()
    step = start
    try:
        for step, batch in enumerate(loader, start + 1):
            lr = learning_rate(cfg, step - 1)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = batch_loss(model, batch, infos, cfg, device, step - 1)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss)} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:
                _average_gradients(params, world)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            if ema is not None:
                ema.update(model)
            now = time.perf_counter()
            rate = cfg.batch_size / max(now - tick, 1e-9)
            tick = now
            last = {"step": step, "loss": loss.item(), "lr": lr, "grad_norm": grad_norm.item()}
            last["samples_per_s"] = rate
            bar.update(1)
            bar.set_postfix(loss=f"{last['loss']:.4f}", samples_s=f"{rate:.1f}")
            if rank != 0:
                continue
            metrics.write(json.dumps(last) + "\n")
            if cfg.val_every and (step % cfg.val_every == 0 or step == cfg.steps):
                val = validation(step)
                metrics.write(json.dumps({"step": step, **{f"val/{k}": v for k, v in val.items()}}))
                metrics.write("\n")
                if say:
                    rollouts = (
                        f"; valid VPT(0.5) {val['vpt_frames']:g} of {cfg.val_horizon} frames "
                        f"(median of {cfg.val_starts} rollouts; best {best['vpt_frames']:g} "
                        f"at step {best['step']})"
                        if "vpt_frames" in val
                        else ""
                    )
                    say(
                        f"step {step}: valid one-step VRMSE {val['vrmse']:.4f} "
                        f"(persistence {val['persistence_vrmse']:.4f}){rollouts}"
                    )
            metrics.flush()
            if step == cfg.steps and not best:
                keep_best(step, {})
            if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == cfg.steps:
                checkpoint(step)
    finally:
        bar.close()
        if metrics is not None:
            metrics.close()
        for ds in train_sets + valid_sets + horizon_sets:
            ds.close()
    summary = {"steps": step, "world_size": world, "last": last, "validation": val}
    summary["selected"] = dict(best)
    summary["train_seconds"] = earlier_seconds + time.perf_counter() - began
    if rank == 0:
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return model, summary
