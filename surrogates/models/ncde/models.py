"""NCDE forecasters: latent encoder, continuous-time encoder, neural-ODE decoder.

For a window ``u`` of shape ``(B, T, C, *space)`` (NaN where unobserved):

1. per sample and field, ``s = rms_{t,x}(u)`` and ``d = rms_{t,x}(u_{t+1} - u_t)``
   over the observed entries, as the Walrus surrogate does;
2. a latent of ``u / s`` per frame on ``S`` sites (:mod:`.latents`), one CDE state per
   site with weights shared across sites (the sites go into the batch dimension):
   * graphs (``S = 1``): the node values concatenated with the degree-normalised
     neighbour mean ``D^-1 W u``, so the vector field sees the network's adjacency ``W``;
   * periodic 1-D grids (``S = 1``): the first ``n_modes`` orthonormal Fourier
     coefficients (real and imaginary parts) of each field;
   * 2-D grids (``S = (H / patch) (W / patch)`` patches): a learned convolutional encoder
     (boundary-aware padding, then a convolution with kernel and stride ``patch``) gives
     ``e_i`` in ``R^patch_dim`` per patch, and site ``i`` sees ``[e_i, mean of e_j over
     its 4 neighbour patches]`` (wrapped on periodic axes, existing ones on walls); a
     patch is unobserved in a frame where any value its encoder reads is (so a missing
     field hides the whole frame's patches);
3. the control path ``[t, forward-filled latent, observation counts / T]``
   (:mod:`.paths`), read by one of
   * ``ncde``: ``dz = f(z) dX`` on the Hermite cubic (backward differences) path,
     RK4 per interval, ``f = tanh(MLP)`` reshaped to ``(H, C)``;
   * ``logncde``: the path linearly projected to ``proj`` channels, log-ODE steps over
     windows of two intervals (:mod:`.logsig`);
   * ``slice``: a contractive diagonal, block-diagonal or Walsh-Hadamard SLiCE
     (:mod:`.slice`) on the path increments, then a residual MLP;
   giving a causal state ``z_t`` per site and knot;
4. a neural-ODE decoder per site: ``y(0) = W z_t``, ``dy/dtau = g(y)`` on ``[0, 1]``
   (two RK4 steps), mapped by a linear layer to the latent of the normalised change and
   back to the grid (the node values, the inverse Fourier transform, or the patch
   decoder: a transposed convolution with kernel and stride ``patch``, SiLU, and a
   boundary-padded 3x3 convolution, trained with the model). The output is
   ``delta_t ~ (u_{t+1} - u_t) / d`` at every position; rollouts feed predicted
   frames back as the control (closed loop).

With ``drop_prob = p > 0`` training windows lose each frame but the last with
probability ``p`` and each remaining field of a frame with probability ``p / 2``
(set to NaN), so the model learns from irregular, partial observations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from pdesim.validation import require_int
from surrogates.data import DatasetInfo
from surrogates.models.autoregress import ClosedLoop
from surrogates.models.ncde.latents import make_latent
from surrogates.models.ncde.logsig import logode_solve
from surrogates.models.ncde.paths import hermite, observation_channels
from surrogates.models.ncde.slice import KINDS as SLICE_KINDS
from surrogates.models.ncde.slice import SLiCE
from surrogates.models.ncde.solvers import cdeint

VARIANTS = ("ncde", "logncde", "slice")


@dataclass(frozen=True)
class NCDEConfig:
    """Sizes and choices of an NCDE forecaster (see the module docstring)."""

    variant: str = "ncde"
    hidden: int = 32
    width: int = 64
    n_modes: int = 16
    proj: int = 12
    patch: int = 8
    patch_dim: int = 8
    slice_kind: str = "diagonal"
    drop_prob: float = 0.0
    eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant={self.variant!r}; allowed: {', '.join(VARIANTS)}")
        if self.slice_kind not in SLICE_KINDS:
            raise ValueError(f"slice_kind={self.slice_kind!r}; allowed: {SLICE_KINDS}")
        for key in ("hidden", "width", "n_modes", "proj", "patch", "patch_dim"):
            object.__setattr__(self, key, require_int(key, getattr(self, key), ge=1))
        if not 0 <= self.drop_prob < 1:
            raise ValueError(f"drop_prob={self.drop_prob!r}; allowed: 0 <= p < 1")

    def to_dict(self) -> dict:
        return asdict(self)


SIZES = {"tiny": (32, 64), "small": (64, 128), "base": (128, 256)}


def _mlp(d_in: int, width: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, width), nn.SiLU(), nn.Linear(width, d_out))


class NCDEForecaster(ClosedLoop):
    """See the module docstring; ``forward`` and ``rollout`` follow the Walrus surrogate's
    interface (:class:`surrogates.models.walrus.Walrus`)."""

    def __init__(self, cfg: NCDEConfig, info: DatasetInfo) -> None:
        super().__init__()
        self.cfg, self.info = cfg, info
        self.fields = list(info.field_names + info.constant_field_names)
        self.out_fields = list(info.field_names)
        self.latent = make_latent(info, len(self.out_fields), cfg)
        c = 1 + 2 * self.latent.control_dim
        h, w = cfg.hidden, cfg.width
        self.init = nn.Linear(c, h)
        if cfg.variant == "logncde":
            self.project = nn.Linear(c, cfg.proj)
            c = cfg.proj
        if cfg.variant == "slice":
            self.slice = SLiCE(c, c, h, kind=cfg.slice_kind)
            self.post = _mlp(h, w, h)
        else:
            self.vector_field = _mlp(h, w, h * c)
        self.n_ctrl = c
        self.to_y = nn.Linear(h, h)
        self.ode = _mlp(h, w, h)
        self.readout = nn.Linear(h, self.latent.dim)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def check(self, info: DatasetInfo) -> None:
        """Raise ValueError if ``info`` is not laid out as the dataset the model was
        built for (grid, fields, constant fields, shape, boundaries)."""
        own = self.info
        for key in (
            "grid_type",
            "spatial_dims",
            "spatial_shape",
            "field_names",
            "constant_field_names",
            "boundary_conditions",
        ):
            if getattr(info, key) != getattr(own, key):
                raise ValueError(
                    f"dataset {info.root!r} has {key}={getattr(info, key)!r}; this NCDE "
                    f"model was built for {key}={getattr(own, key)!r} (dataset {own.root!r})"
                )

    def field(self, z: torch.Tensor) -> torch.Tensor:
        """The CDE vector field ``f(z)``: ``(B, H, C)``."""
        return torch.tanh(self.vector_field(z)).view(z.shape[0], self.cfg.hidden, self.n_ctrl)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        p = self.cfg.drop_prob
        b, t, c = x.shape[:3]
        frames = torch.rand(b, t, 1, device=x.device) < p
        frames[:, -1] = False
        parts = (torch.rand(b, t, c, device=x.device) < p / 2) & ~frames
        parts[:, -1] = False
        mask = (frames | parts).view(b, t, c, *([1] * (x.ndim - 3)))
        return x.masked_fill(mask, float("nan"))

    def _scales(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dims = [1, *range(3, x.ndim)]
        ok = ~torch.isnan(x)
        s = x.nan_to_num().pow(2).sum(dims, keepdim=True) / ok.sum(dims, keepdim=True).clamp_min(1)
        s = s.sqrt().clamp_min(self.cfg.eps)
        if x.shape[1] < 2:
            return s, s
        diff = x.diff(dim=1)
        okd = ~torch.isnan(diff)
        d = diff.nan_to_num().pow(2).sum(dims, keepdim=True) / okd.sum(dims, keepdim=True)
        d = torch.where(okd.sum(dims, keepdim=True) > 0, d.sqrt(), s).clamp_min(self.cfg.eps)
        return s, d

    def states(self, channels: torch.Tensor) -> torch.Tensor:
        """Causal states ``z_t (B, T, H)`` from the control channels ``(B, T, C)`` (``B``
        counts samples times sites)."""
        variant = self.cfg.variant
        z0 = self.init(channels[:, 0])
        if channels.shape[1] == 1:
            return z0[:, None]
        times = torch.arange(channels.shape[1], dtype=channels.dtype, device=channels.device)
        if variant == "ncde":
            return cdeint(z0, self.field, hermite(times, channels), "rk4")
        if variant == "logncde":
            return logode_solve(self.field, z0, self.project(channels), window=2)
        dx = torch.cat([torch.zeros_like(channels[:, :1]), channels.diff(dim=1)], 1)
        h = self.slice(channels, dx, z0)
        return h + self.post(h)

    def forward(
        self,
        window: torch.Tensor,
        bcs: torch.Tensor | list,
        in_fields: list[str] | tuple[str, ...],
        out_fields: list[str] | tuple[str, ...],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(delta (B, T, C_out, *space), d (B, 1, C_out, 1, ...))`` for ``window
        (B, T, C_in, *space)``; ``delta[:, t]`` predicts ``(u_{t+1} - u_t) / d``."""
        if list(out_fields) != self.out_fields or list(in_fields[: len(out_fields)]) != list(
            out_fields
        ):
            raise ValueError(
                f"out_fields={list(out_fields)}; this model was built for {self.out_fields}"
            )
        n_out = len(out_fields)
        x = window[:, :, :n_out]
        if self.training and self.cfg.drop_prob > 0:
            x = self._drop(x)
        b, t = x.shape[:2]
        sites = self.latent.sites
        s, d = self._scales(x)
        lat = self.latent.encode((x / s).flatten(0, 1)).view(b, t, sites, -1)
        lat = lat.transpose(1, 2).reshape(b * sites, t, -1)  # one CDE per site
        times = torch.arange(t, dtype=x.dtype, device=x.device)
        channels = observation_channels(times / max(t - 1, 1), lat)
        channels = torch.cat(
            [channels[..., : -lat.shape[-1]], channels[..., -lat.shape[-1] :] / t], -1
        )
        z = self.states(channels)
        y = self.to_y(z)
        for _ in range(2):
            k1 = self.ode(y)
            k2 = self.ode(y + 0.25 * k1)
            k3 = self.ode(y + 0.25 * k2)
            k4 = self.ode(y + 0.5 * k3)
            y = y + (k1 + 2 * k2 + 2 * k3 + k4) / 12
        r = self.readout(y).view(b, sites, t, -1).transpose(1, 2)
        delta = self.latent.decode(r.reshape(b * t, -1))
        return delta.view(b, t, n_out, *x.shape[3:]), d


def build(
    config: str | NCDEConfig,
    infos: list[DatasetInfo],
    jitter: bool | None = None,
    variant: str = "ncde",
    drop_prob: float = 0.0,
) -> NCDEForecaster:
    """An NCDE forecaster for one dataset; ``config`` a size name or an :class:`NCDEConfig`
    (``jitter`` is accepted for the training loop's interface and has no effect)."""
    if len(infos) != 1:
        raise ValueError(f"NCDE surrogates train on one dataset at a time; got {len(infos)}")
    if isinstance(config, str):
        if config not in SIZES:
            raise ValueError(f"config={config!r}; allowed: {', '.join(SIZES)}")
        hidden, width = SIZES[config]
        config = NCDEConfig(variant=variant, hidden=hidden, width=width, drop_prob=drop_prob)
    return NCDEForecaster(config, infos[0])
