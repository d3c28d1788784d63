"""The closed loop every surrogate shares: predict a frame, slide the window, repeat."""

from __future__ import annotations

import torch


def autoregressive_frames(
    model: torch.nn.Module,
    window: torch.Tensor,
    n_steps: int,
    bcs: torch.Tensor | list,
    in_fields: list[str] | tuple[str, ...],
    out_fields: list[str] | tuple[str, ...],
) -> torch.Tensor:
    """``n_steps`` predicted frames ``(B, n_steps, C_out, *space)``.

    ``model(window, bcs, in_fields, out_fields)`` returns the normalised change and its
    scale; each new frame ``last + d * delta`` replaces the oldest of the window (the
    fields that are not predicted keep their last value), so statistics, jitter and
    controls are recomputed from the model's own output at every step.
    """
    frames = []
    n_out = len(out_fields)
    for _ in range(n_steps):
        delta, d = model(window, bcs, in_fields, out_fields)
        nxt = window[:, -1, :n_out] + d[:, 0] * delta[:, -1]
        frames.append(nxt)
        full = torch.cat([nxt, window[:, -1, n_out:]], 1)
        window = torch.cat([window[:, 1:], full[:, None]], 1)
    return torch.stack(frames, 1)
