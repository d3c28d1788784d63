"""Autoregressive rollouts of any forecaster from test trajectories, in batches.

A *forecaster* maps a window of the last ``n_context`` frames ``(B, T, C, *space)``
to the next frame ``(B, C, *space)`` (numpy, the data's own units). :func:`rollout`
starts from a context window, feeds each prediction back, and stops a trajectory
cleanly at the first step whose prediction is non-finite or exceeds ``bound`` in
absolute value (:data:`BOUND` by default; :func:`surrogates.evaluate.rollout_bound`
tightens it to the dataset system's ``blowup_threshold``): that step and every later
one are NaN in the returned frames and the step is recorded in ``stopped_at``
(``n_steps`` for a trajectory that never stopped), so nothing non-finite is ever fed
back into a model. Each trajectory's constant fields ``(C_const, *space)`` (The
Well's time-independent fields; none for most datasets) are handed to ``begin`` with
its context. A forecaster with a state of its own (a reservoir; a model's constant
fields) starts it in ``begin`` and drops stopped trajectories from it in ``keep``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from surrogates.data import DatasetInfo, WellWindows
from surrogates.protocol import Surrogate, advance, channels, model_window

#: The default stop: a rollout value beyond this in absolute value has diverged.
BOUND = 1e6


class Forecaster:
    """Base of forecasters: ``n_context`` frames in, the next frame out."""

    name = "forecaster"
    n_context = 1

    def begin(self, context: np.ndarray, constants: np.ndarray) -> np.ndarray:
        """The window the rollout starts from (the context itself, by default), for
        ``context (B, T, C, *space)`` and the trajectories' constant fields
        ``constants (B, C_const, *space)`` (ignored by default)."""
        return context

    def step(self, window: np.ndarray) -> np.ndarray:
        """The next frame ``(B, C, *space)`` after ``window (B, T, C, *space)``."""
        raise NotImplementedError

    def keep(self, mask: np.ndarray) -> None:
        """Drop the trajectories where ``mask (B,)`` is False from any internal state
        (called by :func:`rollout` when some trajectories stop; stateless: nothing)."""


@dataclass
class Rollout:
    """``frames (B, n_steps, C, *space)`` (NaN from ``stopped_at``), ``stopped_at (B,)``
    and the wall time of the forecaster's steps."""

    frames: np.ndarray
    stopped_at: np.ndarray
    wall_time: float

    @property
    def frames_per_second(self) -> float:
        done = float(self.stopped_at.sum())
        return done / self.wall_time if self.wall_time > 0 else float("inf")


def rollout(
    forecaster: Forecaster,
    context: np.ndarray,
    n_steps: int,
    batch_size: int = 16,
    bound: float = BOUND,
    constants: np.ndarray | None = None,
) -> Rollout:
    """Roll ``forecaster`` out ``n_steps`` frames from ``context (B, T, C, *space)``;
    ``constants (B, C_const, *space)``: the trajectories' constant fields (default none)."""
    context = np.asarray(context)
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps={n_steps!r}; allowed: an integer >= 1")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}; allowed: an integer >= 1")
    if context.ndim < 4 or context.shape[1] < forecaster.n_context:
        raise ValueError(
            f"context of shape {context.shape}; {forecaster.name} needs (B, T, C, *space) "
            f"with T >= {forecaster.n_context}"
        )
    n = len(context)
    if constants is None:
        constants = np.zeros((n, 0, *context.shape[3:]))
    constants = np.asarray(constants, dtype=np.float64)
    if constants.shape[:1] + constants.shape[2:] != (n, *context.shape[3:]):
        raise ValueError(
            f"constants of shape {constants.shape} for a context of shape {context.shape}; "
            "allowed: (B, C_const, *space) with the context's B and space"
        )
    frames = np.full((n, n_steps, *context.shape[2:]), np.nan, dtype=np.float64)
    stopped = np.full(n, n_steps, dtype=np.int64)
    elapsed = 0.0
    for lo in range(0, n, batch_size):
        idx = np.arange(lo, min(n, lo + batch_size))
        tick = time.perf_counter()
        window = forecaster.begin(
            context[idx, -forecaster.n_context :].astype(np.float64), constants[idx]
        )
        elapsed += time.perf_counter() - tick
        for k in range(n_steps):
            if not len(idx):
                break
            tick = time.perf_counter()
            nxt = np.asarray(forecaster.step(window), dtype=np.float64)
            elapsed += time.perf_counter() - tick
            flat = nxt.reshape(len(idx), -1)
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(flat).all(1) & (np.abs(flat).max(1) <= bound)
            stopped[idx[~ok]] = k
            if not ok.all():
                forecaster.keep(ok)
            idx, window, nxt = idx[ok], window[ok], nxt[ok]
            frames[idx, k] = nxt
            window = np.concatenate([window[:, 1:], nxt[:, None]], 1)
    return Rollout(frames, stopped, elapsed)


@dataclass
class Trajectories:
    """Every trajectory of a split: ``frames (n_traj, T, C, *space)`` and ``constants
    (n_traj, C_const, *space)``, channels first, and the split's description."""

    frames: np.ndarray
    constants: np.ndarray
    info: DatasetInfo


def trajectories(root: str | os.PathLike, split: str = "test") -> Trajectories:
    """Every trajectory of a split of the dataset directory ``root``, in float64."""
    ds = WellWindows(root, split, n_steps_input=1, full_trajectory=True)
    try:
        frames, constants = [], []
        for i in range(len(ds)):
            s = ds[i]
            full = torch.cat([s["input_fields"], s["output_fields"]], 0)
            frames.append(full.movedim(-1, 1).numpy())
            constants.append(s["constant_fields"].movedim(-1, 0).numpy())
    finally:
        ds.close()
    return Trajectories(
        np.stack(frames).astype(np.float64), np.stack(constants).astype(np.float64), ds.info
    )


class ModelForecaster(Forecaster):
    """A trained surrogate called as in training (:mod:`surrogates.protocol`): the
    window and the trajectories' constant fields make the model window, and
    ``u_{t+1} = u_t + d * delta_t``."""

    def __init__(
        self, model: Surrogate, info: DatasetInfo, n_context: int, name: str = "model", device="cpu"
    ) -> None:
        self.model, self.info, self.n_context, self.name = model, info, n_context, name
        self.device = torch.device(device)
        self.in_fields, self.out_fields = channels(info)
        self.bcs = torch.tensor(info.boundary_conditions)
        self.constants: torch.Tensor | None = None

    def begin(self, context: np.ndarray, constants: np.ndarray) -> np.ndarray:
        """Keep the batch's constant fields for its steps."""
        self.constants = torch.as_tensor(constants, dtype=torch.float32, device=self.device)
        return context

    def keep(self, mask: np.ndarray) -> None:
        if self.constants is not None:
            keep = torch.as_tensor(np.asarray(mask, dtype=bool), device=self.constants.device)
            self.constants = self.constants[keep]

    @torch.no_grad()
    def step(self, window: np.ndarray) -> np.ndarray:
        if self.constants is None or len(self.constants) != len(window):
            raise RuntimeError(f"{self.name}: step without a begin for this batch")
        frames = torch.as_tensor(window, dtype=torch.float32, device=self.device)
        x = model_window(frames, self.constants)
        delta, d = self.model(x, self.bcs, self.in_fields, self.out_fields)
        return advance(x, delta, d).double().cpu().numpy()
