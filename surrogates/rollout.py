"""Autoregressive rollouts of any forecaster from test trajectories, in batches.

A *forecaster* maps a window of the last ``n_context`` frames ``(B, T, C, *space)``
to the next frame ``(B, C, *space)`` (numpy, the data's own units). :func:`rollout`
starts from a context window, feeds each prediction back, and stops a trajectory
cleanly at the first step whose prediction is non-finite or exceeds ``bound`` in
absolute value: that step and every later one are NaN in the returned frames and
the step is recorded in ``stopped_at`` (``n_steps`` for a trajectory that never
stopped), so nothing non-finite is ever fed back into a model. A forecaster with a
state of its own (a reservoir) starts it in ``begin`` and drops stopped trajectories
from it in ``keep``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from surrogates.data import WellWindows


class Forecaster:
    """Base of forecasters: ``n_context`` frames in, the next frame out."""

    name = "forecaster"
    n_context = 1

    def begin(self, context: np.ndarray) -> np.ndarray:
        """The window the rollout starts from (the context itself, by default)."""
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
    bound: float = 1e6,
) -> Rollout:
    """Roll ``forecaster`` out ``n_steps`` frames from ``context (B, T, C, *space)``."""
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
    frames = np.full((n, n_steps, *context.shape[2:]), np.nan, dtype=np.float64)
    stopped = np.full(n, n_steps, dtype=np.int64)
    elapsed = 0.0
    for lo in range(0, n, batch_size):
        idx = np.arange(lo, min(n, lo + batch_size))
        tick = time.perf_counter()
        window = forecaster.begin(context[idx, -forecaster.n_context :].astype(np.float64))
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


def trajectories(root: str | os.PathLike, split: str = "test") -> tuple[np.ndarray, WellWindows]:
    """Every trajectory of a split, channels first: ``(n_traj, T, C, *space)``, and the
    dataset (for its metadata; closed)."""
    ds = WellWindows(root, split, n_steps_input=1, full_trajectory=True)
    try:
        out = []
        for i in range(len(ds)):
            s = ds[i]
            full = torch.cat([s["input_fields"], s["output_fields"]], 0)
            out.append(full.movedim(-1, 1).numpy())
    finally:
        ds.close()
    return np.stack(out).astype(np.float64), ds


class ModelForecaster(Forecaster):
    """A trained surrogate called as in training: ``u_{t+1} = u_t + d * delta_t``."""

    def __init__(self, model, info, n_context: int, name: str = "model", device="cpu") -> None:
        self.model, self.info, self.n_context, self.name = model, info, n_context, name
        self.device = torch.device(device)
        self.in_fields = list(info.field_names + info.constant_field_names)
        self.out_fields = list(info.field_names)
        self.bcs = torch.tensor(info.boundary_conditions)
        self.constants: np.ndarray | None = None

    @torch.no_grad()
    def step(self, window: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(window, dtype=torch.float32, device=self.device)
        if self.constants is not None and self.constants.shape[0]:
            c = torch.as_tensor(self.constants, dtype=torch.float32, device=self.device)
            x = torch.cat([x, c[None, None].expand(x.shape[0], x.shape[1], *c.shape)], 2)
        delta, d = self.model(x, self.bcs, self.in_fields, self.out_fields)
        n_out = len(self.out_fields)
        nxt = x[:, -1, :n_out] + d[:, 0] * delta[:, -1]
        return nxt.double().cpu().numpy()
