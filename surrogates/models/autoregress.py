"""The closed loop every surrogate shares: predict a frame, slide the window, repeat."""

from __future__ import annotations

import torch

from surrogates.protocol import advance, slide


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
    scale; each new frame (:func:`surrogates.protocol.advance`) replaces the oldest of
    the window (:func:`surrogates.protocol.slide`: the fields that are not predicted
    keep their last value), so statistics, jitter and controls are recomputed from the
    model's own output at every step.
    """
    frames = []
    for _ in range(n_steps):
        delta, d = model(window, bcs, in_fields, out_fields)
        nxt = advance(window, delta, d)
        frames.append(nxt)
        window = slide(window, nxt)
    return torch.stack(frames, 1)


class ClosedLoop(torch.nn.Module):
    """A surrogate module whose :meth:`rollout` is :func:`autoregressive_frames` over its
    own ``forward``: what Walrus, its jitter mean and the NCDE family share."""

    @torch.no_grad()
    def rollout(
        self,
        window: torch.Tensor,
        n_steps: int,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> torch.Tensor:
        """``n_steps`` predicted frames ``(B, n_steps, C_out, *space)``, closed loop: each
        prediction slides into the window the next one reads (statistics, jitter and
        controls recomputed every step)."""
        return autoregressive_frames(self, window, n_steps, bcs, in_fields, out_fields)
