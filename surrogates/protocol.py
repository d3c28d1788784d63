"""The surrogate protocol: what training, rollouts and evaluation assume of a model.

A surrogate (:class:`Surrogate`: the Walrus model and the NCDE forecasters) reads a
*model window* ``(B, T, C_in, *space)``, channels first, whose channels are named
``in_fields = field_names + constant_field_names`` of the dataset
(:func:`channels`): the time-varying fields, then the constant fields repeated at
every time position (:func:`model_window`; :func:`batch_window` builds it from a
batch of :class:`surrogates.data.WellWindows` samples). It returns, at every time
position ``t``, the normalised change ``delta_t`` and its scale ``d``, and every
caller advances with the one rule (:func:`advance`, inverted by :func:`target`)

    u_{t+1} = u_t + d * delta_t

then slides the window (:func:`slide`: the new frame replaces the oldest, the
constant fields keep their values).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from surrogates.data import DatasetInfo


@runtime_checkable
class Surrogate(Protocol):
    """What :mod:`surrogates.train`, :mod:`surrogates.rollout` and
    :mod:`surrogates.evaluate` call on a model (a ``torch.nn.Module``)."""

    fields: list[str]

    def check(self, info: DatasetInfo) -> None:
        """Raise ValueError, naming the mismatch, if the model cannot take ``info``."""

    def __call__(
        self,
        window: torch.Tensor,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(delta (B, T, C_out, *space), d (B, 1, C_out, 1, ...))`` of a model window."""

    def rollout(
        self,
        window: torch.Tensor,
        n_steps: int,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> torch.Tensor:
        """``n_steps`` predicted frames ``(B, n_steps, C_out, *space)``, closed loop."""


def channels(info: DatasetInfo) -> tuple[list[str], list[str]]:
    """``(in_fields, out_fields)`` of the model windows of the dataset ``info``."""
    return list(info.field_names + info.constant_field_names), list(info.field_names)


def model_window(frames: torch.Tensor, constants: torch.Tensor) -> torch.Tensor:
    """The model window of ``frames (B, T, C, *space)`` and the trajectories' constant
    fields ``constants (B, C_const, *space)`` (``C_const`` may be 0), channels first:
    ``(B, T, C + C_const, *space)``."""
    if constants.shape[0] != frames.shape[0] or constants.shape[2:] != frames.shape[3:]:
        raise ValueError(
            f"constants of shape {tuple(constants.shape)} for frames of shape "
            f"{tuple(frames.shape)}; allowed: (B, C_const, *space) with B and space "
            "those of the frames"
        )
    if not constants.shape[1]:
        return frames
    repeated = constants[:, None].expand(-1, frames.shape[1], *constants.shape[1:])
    return torch.cat([frames, repeated.to(frames.dtype)], 2)


def batch_window(
    batch: dict[str, torch.Tensor], device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(window (B, T, C_in, *space), targets (B, K, C, *space))`` of a batch of
    :class:`surrogates.data.WellWindows` samples (The Well's channels-last layout)."""
    frames = batch["input_fields"].to(device).movedim(-1, 2)
    targets = batch["output_fields"].to(device).movedim(-1, 2)
    constants = batch["constant_fields"].to(device).movedim(-1, 1)
    return model_window(frames, constants), targets


def advance(window: torch.Tensor, delta: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The next frame ``u_T + d * delta_T`` ``(B, C_out, *space)`` after the last
    position of ``window`` from the model's output ``(delta, d)`` on it."""
    return window[:, -1, : delta.shape[2]] + d[:, 0] * delta[:, -1]


def target(current: torch.Tensor, following: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The normalised change ``(u_{t+1} - u_t) / d`` that :func:`advance` inverts, for
    frames ``current`` and ``following`` ``(B, T, C_out, *space)`` and ``d`` of the
    model's output."""
    return (following - current) / d


def with_input_noise(
    clean: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``clean (B, T, C, *space)`` plus Gaussian noise of ``sigma`` times each sample's
    and field's RMS over the window (the training's ``--input-noise``)."""
    dims = [1, *range(3, clean.ndim)]
    rms = clean.pow(2).mean(dims, keepdim=True).sqrt()
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
    return clean + sigma * rms * noise


def slide(window: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """``window`` without its oldest position and with ``frame (B, C_out, *space)``
    last; the channels after ``C_out`` (constant fields) keep their last values."""
    full = torch.cat([frame, window[:, -1, frame.shape[1] :]], 1)
    return torch.cat([window[:, 1:], full[:, None]], 1)
