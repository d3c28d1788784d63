"""Compute-adaptive strides and Walrus's patch jittering.

The encoder is two strided convolutions with kernels ``KERNELS = (8, 4)``; on an
axis with strides ``(s1, s2)`` one token sees ``8 + 3 s1`` cells and tokens are
``s1 s2`` cells apart. :func:`strides_for` picks the strides that turn ``n`` cells
into the number of tokens closest to a target.

:func:`jitter` moves the data relative to that patch grid before every forward
pass; :func:`unjitter` undoes it on the decoded output. Per axis with
``extra = (8 + 3 s1 - s1 s2) / 2``:

- non-periodic (WALL or OPEN): zero-pad ``P = extra + s1 s2 / 2`` cells per side
  and roll by ``r`` uniform in ``[-(P-1), P-1]`` (data never wraps onto itself);
- periodic: roll by ``r`` uniform in ``[-(n/2-1), n/2-1]``, then pad ``extra``
  cells circularly.

Three flag channels are appended for the encoder: 1 on interior cells (a bias
restricted to the data), 1 on padded cells of a WALL side, 1 on padded cells of an
OPEN side. With the switch off, ``r = 0`` (padding and flags stay, so the shapes are
the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from surrogates.data import OPEN, PERIODIC, WALL

KERNELS = (8, 4)
#: Stride pairs (s1, s2) the encoder may use; every one gives exact conv arithmetic.
STRIDES = ((2, 1), (2, 2), (4, 2), (6, 2), (4, 4), (6, 4), (8, 4))


def strides_for(n: int, tokens: int, axis: str = "axis") -> tuple[int, int]:
    """The stride pair giving the token count nearest ``tokens`` (within a factor 2)."""
    best = None
    for s1, s2 in STRIDES:
        if n % (s1 * s2):
            continue
        count = n // (s1 * s2)
        if not tokens / 2 <= count <= tokens * 2:
            continue
        score = abs(float(torch.log(torch.tensor(count / tokens))))
        if best is None or score < best[0]:
            best = (score, (s1, s2))
    if best is None:
        raise ValueError(
            f"resolution {n} on {axis}: no encoder stride pair in {list(STRIDES)} divides it "
            f"into {tokens // 2}..{tokens * 2} tokens (the model's tokens_per_axis={tokens}); "
            "use a resolution divisible by 4 or 8 near that range, or another config"
        )
    return best[1]


def geometry(strides: tuple[int, int]) -> tuple[int, int]:
    """``(extra, eff_stride)`` of an axis encoded with ``strides``."""
    s1, s2 = strides
    eff_stride = s1 * s2
    return (KERNELS[0] + s1 * (KERNELS[1] - 1) - eff_stride) // 2, eff_stride


@dataclass(frozen=True)
class Jitter:
    """What :func:`jitter` did per axis, for :func:`unjitter`."""

    shape: tuple[int, ...]
    periodic: tuple[bool, ...]
    pads: tuple[int, ...]  # zero padding (non-periodic) or circular padding (periodic)
    rolls: tuple[int, ...]


def _circular_pad(x: torch.Tensor, dim: int, width: int) -> torch.Tensor:
    if width == 0:
        return x
    n = x.shape[dim]
    return torch.cat([x.narrow(dim, n - width, width), x, x.narrow(dim, 0, width)], dim)


def jitter(
    x: torch.Tensor,
    bcs: list[tuple[int, int]] | torch.Tensor,
    strides: list[tuple[int, int]],
    enabled: bool = True,
) -> tuple[torch.Tensor, Jitter]:
    """Pad, add the three flag channels and roll ``x`` of shape ``(N, C, *space)``.

    ``bcs[i] = (low, high)`` are the boundary codes of spatial axis ``i``; an axis is
    periodic when both are PERIODIC. Returns ``(N, C + 3, *padded)`` and the record.
    """
    bcs = [(int(lo), int(hi)) for lo, hi in bcs]
    nd = x.ndim - 2
    if len(bcs) != nd or len(strides) != nd:
        raise ValueError(f"jitter: {nd} spatial axes but {len(bcs)} bcs, {len(strides)} strides")
    shape = tuple(x.shape[2:])
    periodic = tuple(lo == PERIODIC and hi == PERIODIC for lo, hi in bcs)
    pads, rolls = [], []
    ones = x.new_ones((1, 1, *shape))
    flags = [ones, torch.zeros_like(ones), torch.zeros_like(ones)]
    for i, (n, per, s) in enumerate(zip(shape, periodic, strides, strict=True)):
        extra, eff_stride = geometry(s)
        dim = 2 + i
        if per:
            pads.append(extra)
            bound = n // 2 - 1
        else:
            pad = extra + eff_stride // 2
            pads.append(pad)
            bound = pad - 1
            widths = [0, 0] * nd
            widths[2 * (nd - 1 - i) : 2 * (nd - i)] = [pad, pad]
            x = torch.nn.functional.pad(x, widths)
            flags = [torch.nn.functional.pad(f, widths) for f in flags]
            size = n + 2 * pad
            for side, code in zip((slice(0, pad), slice(size - pad, size)), bcs[i], strict=True):
                band = torch.zeros(size, dtype=x.dtype, device=x.device)
                band[side] = 1.0
                band = band.view([size if d == dim else 1 for d in range(nd + 2)])
                if code == WALL:
                    flags[1] = flags[1] + band
                elif code == OPEN:
                    flags[2] = flags[2] + band
        rolls.append(int(torch.randint(-bound, bound + 1, ())) if enabled and bound > 0 else 0)
    y = torch.cat([x, torch.cat(flags, 1).expand(x.shape[0], -1, *x.shape[2:])], 1)
    y = torch.roll(y, rolls, dims=tuple(range(2, 2 + nd)))
    for i, per in enumerate(periodic):
        if per:
            y = _circular_pad(y, 2 + i, pads[i])
    return y, Jitter(shape, periodic, tuple(pads), tuple(rolls))


def unjitter(y: torch.Tensor, record: Jitter) -> torch.Tensor:
    """Undo :func:`jitter` on ``y`` of shape ``(N, C, *padded)``: crop, roll back, crop."""
    nd = len(record.shape)
    for i, per in enumerate(record.periodic):
        if per:
            y = y.narrow(2 + i, record.pads[i], record.shape[i])
    y = torch.roll(y, [-r for r in record.rolls], dims=tuple(range(2, 2 + nd)))
    for i, per in enumerate(record.periodic):
        if not per:
            y = y.narrow(2 + i, record.pads[i], record.shape[i])
    return y
