"""Checkpoint files of a training run: names, required keys, atomic save, checked load.

A run directory holds ``checkpoint.pt`` (:data:`CHECKPOINT`, the last state, to resume
from: :data:`RESUME_KEYS`) and ``best.pt`` (:data:`BEST`, the selected weights:
:data:`WEIGHT_KEYS`). Both are written by :func:`save_checkpoint` through
:func:`pdesim.files.atomic_path` (a temporary name in the same directory, fsynced,
renamed into place, the directory fsynced), so a crash leaves either the old file or
the complete new one.
"""

from __future__ import annotations

import os

import torch

from pdesim.files import atomic_path

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
WEIGHT_KEYS = frozenset({"step", "model", "fields", "model_config"})
RESUME_KEYS = WEIGHT_KEYS | {"optimizer", "rng"}


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (``torch.save``) to ``path`` atomically and durably
    (:func:`pdesim.files.atomic_path`)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(
    path: str | os.PathLike, required: frozenset[str] = RESUME_KEYS, remedy: str = ""
) -> dict:
    """A checkpoint's contents (``required``: the keys it must hold; ``WEIGHT_KEYS`` for
    ``best.pt``); ValueError naming the file if it is unreadable or incomplete, ending
    with ``remedy`` (what the caller's user can do about it) when given.

    The message says the file is damaged and names the kind of error only: torch's own
    text for a damaged file advises loading it with ``weights_only=False``, which would
    not repair it and would run whatever code a tampered file holds."""
    tail = f"; {remedy}" if remedy else ""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} is damaged (corrupt or unreadable: "
            f"{type(exc).__name__}): it is not a complete checkpoint written by surrogates "
            f"train{tail}"
        ) from exc
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(path)!r} is not a training checkpoint{tail}")
    missing = required - set(state)
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} is incomplete: missing {sorted(missing)}{tail}")
    return state
