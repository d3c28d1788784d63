"""A small Walrus: encoder, space-time factorised processor, decoder, delta prediction.

Follows Walrus (PolymathicAI 2025, "A Cross-Domain Foundation Model for Continuum
Dynamics"), scaled down. For a window ``u`` of shape ``(B, T, C, *space)``:

1. per-sample, per-field RMS normalisation over the window (no mean subtraction):
   ``s = rms_{t,x}(u)``, and the delta scale ``d``: with ``delta_scale="changes"``
   (Walrus) ``d = rms_{t,x}(u_{t+1} - u_t)`` (``d = s`` for a one-frame window); with
   ``"state"`` ``d = s``. Under ``"changes"`` every steady state is absorbing in a
   rollout (a window that barely changes makes ``d``, and so every predicted change,
   vanish); ``"state"`` has no such fixed point;
2. patch jittering (:mod:`surrogates.models.jitter`), then an encoder of two strided
   convolutions (kernels 8 and 4, strides from the resolution) whose first weight
   has one input column per field name in the vocabulary plus three boundary flags
   (with ``scale_input``, one more per field: its ``log s`` as a constant channel,
   so the network knows the amplitude the normalisation divides out; the dynamics
   of KS, say, are not scale-free);
3. blocks of causal attention over time per token (learned relative-position bias)
   then full attention over the tokens of a frame (axial rotary embeddings on
   coordinates in [-1, 1], QK-norm, a parallel SwiGLU MLP); periodic token axes are
   rolled by a random offset before each block and rolled back after the last;
4. a transposed-conv decoder whose last weight has one output row per field name,
   then unjitter. The output is the normalised change, at every time position
   (causal): ``u_{t+1} = u_t + d * out_t``. With ``conserve_mean`` the spatial mean of
   ``out_t`` is subtracted, so every predicted frame keeps the spatial mean of the
   last input frame (for data that conserves it, as KS and Burgers do on a periodic
   domain: an error in the mean is never corrected by the dynamics and, through
   Galilean invariance, makes the whole pattern drift; docs/experiments_ks1d.md).
   With ``spectral_head`` the change is scaled per Fourier mode instead
   (:mod:`surrogates.models.spectral_head`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pdesim.validation import require_int
from surrogates.data import PERIODIC, DatasetInfo
from surrogates.models.autoregress import ClosedLoop
from surrogates.models.jitter import KERNELS, jitter, strides_for, unjitter
from surrogates.models.spectral_head import SpectralHead
from surrogates.protocol import with_input_noise

N_FLAGS = 3  # interior (bias), wall padding, open padding
DELTA_SCALES = ("changes", "state")


@dataclass(frozen=True)
class WalrusConfig:
    """Sizes of the model. ``tokens_per_axis``: target tokens per spatial axis."""

    dim: int = 64
    n_blocks: int = 2
    n_heads: int = 4
    intermediate_dim: int = 32
    groups: int = 4
    tokens_per_axis: int = 16
    max_distance: int = 32  # relative time distances beyond this share one bias
    jitter: bool = True
    eps: float = 1e-5
    delta_scale: str = "changes"  # or "state": see the module docstring
    conserve_mean: bool = False  # predicted changes have zero spatial mean
    spectral_head: bool = False  # per-mode output scale (surrogates.models.spectral_head)
    scale_input: bool = False  # each field's log RMS over the window is an input channel

    def __post_init__(self) -> None:
        for key in ("dim", "n_blocks", "n_heads", "intermediate_dim", "groups", "tokens_per_axis"):
            object.__setattr__(self, key, require_int(key, getattr(self, key), ge=1))
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 4:
            raise ValueError(f"dim={self.dim}: must be a multiple of 4 * n_heads={self.n_heads}")
        if self.delta_scale not in DELTA_SCALES:
            raise ValueError(
                f"delta_scale={self.delta_scale!r}; allowed: {', '.join(DELTA_SCALES)}"
            )
        if self.dim % self.groups or self.intermediate_dim % self.groups:
            raise ValueError(f"groups={self.groups} must divide dim and intermediate_dim")

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS = {
    "tiny": WalrusConfig(dim=64, n_blocks=2, n_heads=4, intermediate_dim=32, groups=4),
    "small": WalrusConfig(dim=128, n_blocks=4, n_heads=4, intermediate_dim=64, groups=8),
    "base": WalrusConfig(
        dim=256, n_blocks=6, n_heads=8, intermediate_dim=96, groups=8, tokens_per_axis=32
    ),
}


class RMSGroupNorm(nn.Module):
    """Group norm without centring: RMS over each group's channels and all positions."""

    def __init__(self, groups: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(N, C, *space)``."""
        n, c = x.shape[:2]
        g = x.reshape(n, self.groups, -1)
        g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + self.eps)
        shape = [1, c] + [1] * (x.ndim - 2)
        return g.reshape(x.shape) * self.weight.view(shape)


def _tokens_norm(norm: RMSGroupNorm, x: torch.Tensor) -> torch.Tensor:
    """RMSGroupNorm of tokens ``(N, L, D)`` per frame."""
    return norm(x.transpose(1, 2)).transpose(1, 2)


def _near_zero(layer: nn.Linear) -> nn.Linear:
    """Residual branches start close to the identity."""
    nn.init.normal_(layer.weight, std=1e-4)
    nn.init.zeros_(layer.bias)
    return layer


class TimeAttention(nn.Module):
    """Causal attention over time at each spatial token, with a learned bias per
    head and relative distance ``t - t'`` (clamped at ``max_distance``)."""

    def __init__(self, cfg: WalrusConfig) -> None:
        super().__init__()
        self.heads, self.max_distance = cfg.n_heads, cfg.max_distance
        hd = cfg.dim // cfg.n_heads
        self.norm = RMSGroupNorm(cfg.groups, cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.q_norm, self.k_norm = nn.LayerNorm(hd), nn.LayerNorm(hd)
        self.bias = nn.Parameter(torch.zeros(cfg.n_heads, cfg.max_distance + 1))
        self.out = _near_zero(nn.Linear(cfg.dim, cfg.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, T, L, D)``."""
        b, t, n, d = x.shape
        h = _tokens_norm(self.norm, x.reshape(b * t, n, d)).reshape(b, t, n, d)
        h = h.permute(0, 2, 1, 3).reshape(b * n, t, d)
        q, k, v = self.qkv(h).reshape(b * n, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        pos = torch.arange(t, device=x.device)
        rel = pos[:, None] - pos[None, :]
        mask = self.bias[:, rel.clamp(0, self.max_distance)]
        mask = mask.masked_fill(rel < 0, float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
        out = out.transpose(1, 2).reshape(b, n, t, d).permute(0, 2, 1, 3)
        return x + self.out(out)


def _axial_angles(grid: tuple[int, ...], pairs: int, device: torch.device) -> torch.Tensor:
    """Rotary angles ``(L, pairs * ndim)``: coordinates in [-1, 1] times pixel frequencies."""
    coords = torch.meshgrid(
        *[torch.linspace(-1.0, 1.0, n, device=device) for n in grid], indexing="ij"
    )
    angles = []
    for n, c in zip(grid, coords, strict=True):
        freqs = math.pi * torch.linspace(1.0, max(n / 2, 1.0), pairs, device=device)
        angles.append(c.reshape(-1, 1) * freqs)
    return torch.cat(angles, -1)


def _rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    r = angles.shape[-1]
    a, b, rest = x[..., :r], x[..., r : 2 * r], x[..., 2 * r :]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([a * cos - b * sin, a * sin + b * cos, rest], -1)


class SpaceAttention(nn.Module):
    """Full attention over the tokens of one frame plus a SwiGLU MLP, in parallel."""

    def __init__(self, cfg: WalrusConfig) -> None:
        super().__init__()
        self.heads, self.dim = cfg.n_heads, cfg.dim
        hd = cfg.dim // cfg.n_heads
        self.norm = RMSGroupNorm(cfg.groups, cfg.dim)
        self.fused = nn.Linear(cfg.dim, 7 * cfg.dim)  # 4d for the MLP, 3d for q, k, v
        self.q_norm, self.k_norm = nn.LayerNorm(hd), nn.LayerNorm(hd)
        self.attn_out = _near_zero(nn.Linear(cfg.dim, cfg.dim))
        self.ff_out = _near_zero(nn.Linear(2 * cfg.dim, cfg.dim))

    def forward(self, x: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
        """``x``: ``(N, L, D)`` with ``L = prod(grid)``."""
        n, length, d = x.shape
        h = self.fused(_tokens_norm(self.norm, x))
        ff, qkv = h.split([4 * d, 3 * d], -1)
        q, k, v = qkv.reshape(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        pairs = q.shape[-1] // (2 * len(grid))
        angles = _axial_angles(grid, pairs, x.device).to(q.dtype)
        q, k = _rotate(q, angles), _rotate(k, angles)
        attn = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, d)
        gate, value = ff.chunk(2, -1)
        return x + self.attn_out(attn) + self.ff_out(F.silu(gate) * value)


class Block(nn.Module):
    def __init__(self, cfg: WalrusConfig) -> None:
        super().__init__()
        self.time = TimeAttention(cfg)
        self.space = SpaceAttention(cfg)

    def forward(self, x: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
        """``x``: ``(B, T, L, D)``."""
        b, t, n, d = x.shape
        x = self.time(x)
        return self.space(x.reshape(b * t, n, d), grid).reshape(b, t, n, d)


class Codec(nn.Module):
    """Encoder and decoder for ``ndim``-dimensional data over a field vocabulary."""

    def __init__(self, cfg: WalrusConfig, ndim: int, vocab: int) -> None:
        super().__init__()
        self.ndim = ndim
        k1, k2 = (KERNELS[0],) * ndim, (KERNELS[1],) * ndim
        c_in = vocab * (2 if cfg.scale_input else 1) + N_FLAGS
        c_mid, c_out = cfg.intermediate_dim, cfg.dim
        self.enc1 = nn.Parameter(torch.empty(c_mid, c_in, *k1))
        self.enc2 = nn.Parameter(torch.empty(c_out, c_mid, *k2))
        self.dec1 = nn.Parameter(torch.empty(c_out, c_mid, *k2))
        self.dec2 = nn.Parameter(torch.empty(c_mid, vocab, *k1))
        self.dec2_bias = nn.Parameter(torch.zeros(vocab))
        for w in (self.enc1, self.enc2, self.dec1, self.dec2):
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        self.norms = nn.ModuleList(RMSGroupNorm(cfg.groups, c) for c in (c_mid, c_out, c_mid))
        self.conv = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
        self.conv_t = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[ndim - 1]

    def encode(
        self, x: torch.Tensor, columns: torch.Tensor, n_fields: int, strides
    ) -> torch.Tensor:
        weight = self.enc1[:, columns]
        vocab = self.dec2.shape[1]
        scale = torch.ones(len(columns), device=x.device)
        scale[:n_fields] = math.sqrt(vocab / n_fields)
        weight = weight * scale.view(1, -1, *[1] * self.ndim)
        s1 = tuple(s[0] for s in strides)
        s2 = tuple(s[1] for s in strides)
        h = F.silu(self.norms[0](self.conv(x, weight, stride=s1)))
        return F.silu(self.norms[1](self.conv(h, self.enc2, stride=s2)))

    def decode(self, h: torch.Tensor, rows: torch.Tensor, strides) -> torch.Tensor:
        s1 = tuple(s[0] for s in strides)
        s2 = tuple(s[1] for s in strides)
        h = F.silu(self.norms[2](self.conv_t(h, self.dec1, stride=s2)))
        return self.conv_t(h, self.dec2[:, rows], self.dec2_bias[rows], stride=s1)


class Walrus(ClosedLoop):
    """The model over a vocabulary of field names, for data of the given dimensions.

    ``fields``: every field name the model knows (each owns an input column of the
    first convolution and an output row of the last). ``ndims``: the numbers of
    spatial dimensions to build an encoder/decoder for (1, 2 and/or 3).
    ``spectral_shape``: the periodic grid of the :class:`SpectralHead` (with
    ``cfg.spectral_head``; its statistics are set by :meth:`fit_spectral_head`).
    """

    def __init__(
        self,
        cfg: WalrusConfig,
        fields: list[str],
        ndims: tuple[int, ...],
        spectral_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if not fields or len(set(fields)) != len(fields):
            raise ValueError(f"fields={fields!r}: need distinct field names")
        if not ndims or not set(ndims) <= {1, 2, 3}:
            raise ValueError(f"ndims={ndims!r}; allowed: a non-empty subset of (1, 2, 3)")
        self.cfg, self.fields, self.ndims = cfg, list(fields), tuple(sorted(set(ndims)))
        self.codecs = nn.ModuleDict({str(n): Codec(cfg, n, len(fields)) for n in self.ndims})
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_blocks))
        if cfg.spectral_head and spectral_shape is None:
            raise ValueError("spectral_head=True needs the grid's spectral_shape")
        self.head = SpectralHead(len(fields), spectral_shape) if cfg.spectral_head else None

    # -- checks that name the problem before any computation
    def field_index(self, names: list[str] | tuple[str, ...]) -> list[int]:
        unknown = [n for n in names if n not in self.fields]
        if unknown:
            raise ValueError(
                f"incompatible fields: {unknown} are not in the model's field vocabulary "
                f"{self.fields}"
            )
        return [self.fields.index(n) for n in names]

    def strides(self, shape: tuple[int, ...], axes: tuple[str, ...] | None = None):
        axes = axes or tuple(f"axis {i}" for i in range(len(shape)))
        return [
            strides_for(n, self.cfg.tokens_per_axis, a) for n, a in zip(shape, axes, strict=True)
        ]

    def check(self, info: DatasetInfo) -> None:
        """Raise ValueError if the model cannot take the dataset ``info``."""
        if info.grid_type not in ("cartesian",):
            raise ValueError(
                f"dataset {info.root!r} has grid_type {info.grid_type!r}; the Walrus model "
                "takes only cartesian grids (graph datasets are not supported)"
            )
        if info.n_spatial_dims not in self.ndims:
            raise ValueError(
                f"dataset {info.root!r} is {info.n_spatial_dims}-D; the model was built for "
                f"{self.ndims}-D data"
            )
        self.field_index(info.field_names + info.constant_field_names)
        self.strides(info.spatial_shape, info.spatial_dims)

    # -- normalisation
    def scales(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample and field: RMS ``s`` of the window and the delta scale ``d`` (RMS
        of its changes, or ``s``: ``cfg.delta_scale``), both shaped ``(B, 1, C, 1, ...)``."""
        dims = [1, *range(3, window.ndim)]
        s = window.pow(2).mean(dims, keepdim=True).sqrt().clamp_min(self.cfg.eps)
        if window.shape[1] < 2 or self.cfg.delta_scale == "state":
            return s, s
        diff = window.diff(dim=1)
        d = diff.pow(2).mean(dims, keepdim=True).sqrt().clamp_min(self.cfg.eps)
        return s, d

    def forward(
        self,
        window: torch.Tensor,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised changes at every time position and their scale.

        ``window``: ``(B, T, C_in, *space)`` with the channels named ``in_fields``, of
        which the first ``len(out_fields)`` are ``out_fields``; ``bcs``: ``(ndim, 2)``
        codes. Returns ``(delta (B, T, C_out, *space), d (B, 1, C_out, 1, ...))``:
        ``delta[:, t]`` predicts ``(u_{t+1} - u_t) / d``.
        """
        b, t, c = window.shape[:3]
        shape = tuple(window.shape[3:])
        if c != len(in_fields) or list(in_fields[: len(out_fields)]) != list(out_fields):
            raise ValueError(
                f"window has {c} channels for in_fields={list(in_fields)}; out_fields="
                f"{list(out_fields)} must be their first ones"
            )
        codec = self.codecs[str(len(shape))] if str(len(shape)) in self.codecs else None
        if codec is None:
            raise ValueError(f"{len(shape)}-D data; the model was built for {self.ndims}-D data")
        strides = self.strides(shape)
        s, d = self.scales(window)
        x = (window / s).reshape(b * t, c, *shape)
        fields = [i + N_FLAGS for i in self.field_index(in_fields)]
        if self.cfg.scale_input:
            level = s.log().expand(b, t, c, *[1] * len(shape)).reshape(b * t, c, *[1] * len(shape))
            x = torch.cat([x, level.expand_as(x)], 1)
            fields += [i + len(self.fields) for i in fields]
        x, record = jitter(x, bcs, strides, self.cfg.jitter)
        columns = torch.tensor(fields + list(range(N_FLAGS)), device=x.device)
        h = codec.encode(x, columns, c, strides)
        grid = tuple(h.shape[2:])
        tokens = h.flatten(2).transpose(1, 2).reshape(b, t, -1, h.shape[1])
        tokens = self._process(tokens, grid, record.periodic)
        h = tokens.reshape(b * t, -1, h.shape[1]).transpose(1, 2).reshape(b * t, -1, *grid)
        rows = torch.tensor(self.field_index(out_fields), device=x.device)
        out = unjitter(codec.decode(h, rows, strides), record)
        if self.cfg.conserve_mean:
            out = out - out.mean(tuple(range(2, out.ndim)), keepdim=True)
        n_out = len(out_fields)
        if self.head is not None:
            last = (window[:, :, :n_out] / d[:, :, :n_out]).reshape(b * t, n_out, *shape)
            out = self.head(out, last, rows)
        return out.reshape(b, t, n_out, *shape), d[:, :, :n_out]

    @torch.no_grad()
    def fit_spectral_head(
        self, batches, out_fields, noise: float = 0.0, generator: torch.Generator | None = None
    ) -> None:
        """Fit the head's persistence and gain on ``(window, targets)`` batches of
        :func:`surrogates.protocol.batch_window`: every frame of a window, clean and
        with the training's input noise (``noise`` times the window's RMS), and the
        clean frame after it, in units of the (noisy) window's ``d``."""
        if self.head is None:
            raise ValueError("fit_spectral_head: the model has no spectral head")
        n_out = len(out_fields)
        triples = []
        for window, targets in batches:
            clean = window[:, :, :n_out]
            noisy = with_input_noise(clean, noise, generator)
            _, d = self.scales(noisy)
            following = torch.cat([clean[:, 1:], targets[:, :1]], 1)
            shape = clean.shape[3:]
            triples.append(
                tuple(x.reshape(-1, n_out, *shape) for x in (clean / d, noisy / d, following / d))
            )
        self.head.fit(triples, torch.tensor(self.field_index(out_fields)))

    def _process(self, tokens: torch.Tensor, grid: tuple[int, ...], periodic) -> torch.Tensor:
        b, t, _, dim = tokens.shape
        axes = [i for i, p in enumerate(periodic) if p and self.cfg.jitter]
        total = [0] * len(axes)
        for block in self.blocks:
            if axes:
                shifts = [int(torch.randint(0, grid[a], ())) for a in axes]
                total = [x + y for x, y in zip(total, shifts, strict=True)]
                tokens = tokens.reshape(b, t, *grid, dim).roll(shifts, [2 + a for a in axes])
                tokens = tokens.reshape(b, t, -1, dim)
            tokens = block(tokens, grid)
        if axes:
            tokens = tokens.reshape(b, t, *grid, dim).roll(
                [-x for x in total], [2 + a for a in axes]
            )
            tokens = tokens.reshape(b, t, -1, dim)
        return tokens


class JitterMean(ClosedLoop):
    """A Walrus model whose prediction is the mean of ``samples`` forward passes, each
    with its own jitter draw (patch offsets and token rolls): an inference-time
    ensemble over the model's own randomness. The change ``delta`` is averaged; its
    scale ``d`` depends on the window only. Costs ``samples`` forward passes per step.

    Jitter moves the patch grid at random at every step, so a jittered model's
    one-step prediction is a random variable; its mean has a smaller error than one
    draw (measured on KS1D: VPT(0.5) on the valid split 1.55 -> 1.99 Lyapunov times
    with 4 draws, 1.94 with 8; see docs/experiments_ks1d.md).
    """

    def __init__(self, model: Walrus, samples: int) -> None:
        super().__init__()
        self.samples = require_int("jitter_samples", samples, ge=1)
        if not model.cfg.jitter:
            raise ValueError(
                "jitter_samples > 1 needs a model trained with jitter: this one has none, "
                "so every draw is the same prediction"
            )
        self.model, self.fields = model, model.fields

    def check(self, info: DatasetInfo) -> None:
        self.model.check(info)

    def forward(
        self,
        window: torch.Tensor,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`Walrus.forward` averaged over ``samples`` jitter draws."""
        total, d = self.model(window, bcs, in_fields, out_fields)
        for _ in range(self.samples - 1):
            total = total + self.model(window, bcs, in_fields, out_fields)[0]
        return total / self.samples, d


def build(
    config: str | WalrusConfig,
    infos: list[DatasetInfo],
    jitter: bool | None = None,
    delta_scale: str | None = None,
    conserve_mean: bool | None = None,
    spectral_head: bool | None = None,
    scale_input: bool | None = None,
) -> Walrus:
    """A model whose vocabulary covers the fields of ``infos``, checked against each;
    ``jitter``, ``delta_scale``, ``conserve_mean``, ``spectral_head`` and
    ``scale_input`` override the config's. A spectral head needs one grid, periodic
    on every axis."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"config={config!r}; allowed: {', '.join(CONFIGS)}")
        config = CONFIGS[config]
    overrides = {
        "jitter": jitter,
        "delta_scale": delta_scale,
        "conserve_mean": conserve_mean,
        "spectral_head": spectral_head,
        "scale_input": scale_input,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        config = WalrusConfig(**{**config.to_dict(), **overrides})
    fields: list[str] = []
    for info in infos:
        fields += [f for f in info.field_names + info.constant_field_names if f not in fields]
    spectral_shape = _periodic_grid(infos) if config.spectral_head else None
    model = Walrus(config, fields, tuple({info.n_spatial_dims for info in infos}), spectral_shape)
    for info in infos:
        model.check(info)
    return model


def _periodic_grid(infos: list[DatasetInfo]) -> tuple[int, ...]:
    """The one grid of ``infos``, periodic on every axis, that a spectral head needs."""
    shapes = {info.spatial_shape for info in infos}
    if len(shapes) != 1:
        raise ValueError(f"spectral_head=True needs one grid; the datasets have {sorted(shapes)}")
    for info in infos:
        if any(lo != PERIODIC or hi != PERIODIC for lo, hi in info.boundary_conditions):
            raise ValueError(
                f"spectral_head=True needs periodic boundaries on every axis; dataset "
                f"{info.root!r} has boundary codes {info.boundary_conditions}"
            )
    return shapes.pop()
