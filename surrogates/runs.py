"""A training run's directory as the evaluator and fine-tuning read it.

A run directory holds ``config.json`` (:data:`CONFIG`: the training configuration,
the model's name, options and configuration, the datasets) and the weights of
:mod:`surrogates.checkpoints`. This module turns them back into a model:
:func:`model_options` and :func:`build_model` are also how training builds its
model, so a run's model is built the same way when it is trained and when it is
loaded; :func:`load_model` adds the selected weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surrogates.checkpoints import BEST, CHECKPOINT, WEIGHT_KEYS, load_checkpoint
from surrogates.data import DatasetInfo, scan
from surrogates.models import MODELS

CONFIG = "config.json"


def model_options(config: dict) -> dict:
    """The keyword arguments of ``MODELS[model](...)`` a run's config dict sets (runs
    written before an option existed get its default)."""
    options: dict[str, Any] = {"jitter": config.get("jitter", True)}
    if config.get("drop_prob"):
        options["drop_prob"] = config["drop_prob"]
    if config.get("delta_scale", "changes") != "changes":
        options["delta_scale"] = config["delta_scale"]
    if config.get("conserve_mean"):
        options["conserve_mean"] = True
    for flag in ("spectral_head", "scale_input"):
        if config.get(flag):
            options[flag] = True
    return options


def build_model(config: dict, infos: Sequence[DatasetInfo]):
    """The untrained model a run's config dict (``model``, ``config`` and the options of
    :func:`model_options`) describes for the datasets ``infos``."""
    return MODELS[config["model"]](config["config"], list(infos), **model_options(config))


def weights_path(run: str | os.PathLike) -> Path:
    """The weights evaluation loads: ``best.pt`` (the selected ones), or the last
    ``checkpoint.pt`` for runs without one."""
    run = Path(run)
    return run / BEST if (run / BEST).exists() else run / CHECKPOINT


def load_model(run: str | os.PathLike):
    """The run's config dict, its model with the selected weights (:func:`weights_path`)
    in eval mode, and the training step of those weights. FileNotFoundError for a
    missing or unfinished run; ValueError when the weights do not fit the datasets."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {str(run)!r} does not exist (train it first)")
    weights = weights_path(run)
    if not (run / CONFIG).exists() or not weights.exists():
        raise FileNotFoundError(
            f"{str(run)!r} is not a finished run: needs {CONFIG} and {BEST} (or {CHECKPOINT})"
        )
    cfg = json.loads((run / CONFIG).read_text())
    state = load_checkpoint(weights, WEIGHT_KEYS)
    model = build_model(cfg, [scan(d, "test") for d in cfg["data"]])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ValueError(
            f"model/dataset mismatch: the checkpoint of {str(run)!r} (fields "
            f"{state['fields']}) does not fit a model for the datasets {cfg['data']}: {exc}"
        ) from exc
    model.eval()
    return cfg, model, int(state["step"])
