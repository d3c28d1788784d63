"""Latents of the NCDE forecasters: frames to per-site control channels and back.

A latent cuts the domain into ``S`` sites. ``encode`` maps frames ``x (N, C, *space)``
(NaN where unobserved) to ``(N, S * control_dim)``, site-major (site ``i`` holds columns
``[i c, (i + 1) c)`` with ``c = control_dim``); ``decode`` maps per-site readout vectors
``(N, S * dim)``, site-major as well, to frames ``(N, C, *space)``. The forecaster runs
one CDE state per site, with weights shared across sites (sites go into the batch
dimension), so its cost grows linearly with ``S``.

* :class:`GraphLatent` (graphs; ``S = 1``): node values ``x`` and the degree-normalised
  neighbour mean ``D^-1 W x`` of the network's adjacency ``W`` (``DatasetInfo.adjacency``);
  decoded as node values.
* :class:`FourierLatent` (periodic 1-D grids; ``S = 1``): the first ``n_modes``
  orthonormal Fourier coefficients of each field (real parts, then imaginary parts);
  decoded by the inverse transform.
* :class:`PatchLatent` (2-D grids, periodic or walls; ``S = (H / p) (W / p)`` patches of
  side ``p``): a learned encoder
  ``e = Conv_p(silu(Conv_3(silu(Conv_3(x)))))`` gives ``e_i`` in ``R^d`` per patch, the
  3x3 convolutions padded circularly on periodic axes and by replication on the others,
  ``Conv_p`` with kernel and stride ``p``. Site ``i``'s channels are
  ``[e_i, sum_j A_ij e_j]`` with ``A = D^-1 M``, ``M_ij`` the number of the four grid
  neighbours (left, right, down, up; wrapped on periodic axes, only existing ones on
  walls) of patch ``i`` that are patch ``j`` and ``D`` its row sums. A learned decoder
  maps readouts ``r_i`` in ``R^d`` back:
  ``Conv_3(silu(ConvT_p(r)))`` (``ConvT_p`` the transposed convolution, kernel and
  stride ``p``, without bias; the last bias starts at zero, so a zero readout decodes to
  zero). A patch is unobserved (NaN) in a frame where any value its encoder reads is;
  the encoder itself reads zeros there, so no NaN reaches the gradients.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from surrogates.data import PERIODIC, DatasetInfo


class LatentConfig(Protocol):
    """The fields of :class:`~surrogates.models.ncde.models.NCDEConfig` a latent reads."""

    n_modes: int
    patch: int
    patch_dim: int


class GraphLatent(nn.Module):
    """Node values and their degree-normalised neighbour mean; one site."""

    def __init__(self, info: DatasetInfo, n_fields: int) -> None:
        super().__init__()
        self.shape, self.n_fields = info.spatial_shape, n_fields
        if info.adjacency is None:
            raise ValueError(
                f"graph dataset {info.name!r} carries no adjacency in its description "
                "(surrogates.data.scan reads it from the files' /graph/adjacency)"
            )
        w = np.asarray(info.adjacency, dtype=np.float32)
        deg = w.sum(1, keepdims=True)
        self.register_buffer("mix", torch.from_numpy(w / np.where(deg > 0, deg, 1.0)))
        self.sites = 1
        self.dim = n_fields * self.shape[0]
        self.control_dim = 2 * self.dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[x, x W^T D^-1]`` of frames ``(N, C, nodes)``, flattened: ``(N, 2 C nodes)``."""
        return torch.cat([x.flatten(1), (x @ self.mix.T).flatten(1)], 1)

    def decode(self, v: torch.Tensor) -> torch.Tensor:
        """Node values ``(N, C, nodes)`` of ``v (N, C nodes)``."""
        return v.reshape(-1, self.n_fields, *self.shape)


class FourierLatent(nn.Module):
    """Truncated orthonormal Fourier coefficients of a periodic 1-D grid; one site."""

    def __init__(self, info: DatasetInfo, n_fields: int, n_modes: int) -> None:
        super().__init__()
        self.shape, self.n_fields = info.spatial_shape, n_fields
        self.n_modes = min(n_modes, self.shape[0] // 2 + 1)
        self.sites = 1
        self.dim = self.control_dim = 2 * n_fields * self.n_modes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[Re c_k, Im c_k]_{k < n_modes}`` per field of ``(N, C, n)``: ``(N, 2 C n_modes)``."""
        coef = torch.fft.rfft(x, norm="ortho")[..., : self.n_modes]
        return torch.cat([coef.real, coef.imag], -1).flatten(1)

    def decode(self, v: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, C, n)`` of coefficients ``(N, 2 C n_modes)``."""
        v = v.reshape(-1, self.n_fields, 2, self.n_modes)
        return torch.fft.irfft(torch.complex(v[:, :, 0], v[:, :, 1]), n=self.shape[0], norm="ortho")


def pad2d(x: torch.Tensor, periodic: tuple[bool, bool], n: int = 1) -> torch.Tensor:
    """``x (N, C, H, W)`` padded by ``n`` on each side of both axes: wrapped on periodic
    axes, the edge values repeated on the others."""
    for dim, wrap in ((-2, periodic[0]), (-1, periodic[1])):
        size = x.shape[dim]
        if wrap:
            lo, hi = x.narrow(dim, size - n, n), x.narrow(dim, 0, n)
        else:
            lo = x.narrow(dim, 0, 1).repeat_interleave(n, dim)
            hi = x.narrow(dim, size - 1, 1).repeat_interleave(n, dim)
        x = torch.cat([lo, x, hi], dim)
    return x


def patch_adjacency(grid: tuple[int, int], periodic: tuple[bool, bool]) -> torch.Tensor:
    """The degree-normalised adjacency ``D^-1 M`` ``(S, S)`` of the patch grid ``grid``
    (patch ``(a, b)`` is site ``a grid[1] + b``): ``M_ij`` counts the four neighbour slots
    of ``i`` that hold ``j``; a row without neighbours is zero."""
    gh, gw = grid
    m = torch.zeros(gh * gw, gh * gw, dtype=torch.float64)
    for a in range(gh):
        for b in range(gw):
            for da, db in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                na, nb = a + da, b + db
                if not (0 <= na < gh or periodic[0]) or not (0 <= nb < gw or periodic[1]):
                    continue
                m[a * gw + b, (na % gh) * gw + nb % gw] += 1
    return m / m.sum(1, keepdim=True).clamp_min(1)


class PatchLatent(nn.Module):
    """Learned per-patch latent of a 2-D grid with neighbour coupling; see the module
    docstring. ``S = (H / patch) (W / patch)`` sites, ``control_dim = 2 patch_dim``,
    ``dim = patch_dim``."""

    def __init__(self, info: DatasetInfo, n_fields: int, patch: int, patch_dim: int) -> None:
        super().__init__()
        self.shape, self.n_fields = info.spatial_shape, n_fields
        h, w = self.shape
        if h % patch or w % patch:
            raise ValueError(
                f"patch={patch} does not divide the grid shape {self.shape} of dataset "
                f"{info.name!r}; allowed: a common divisor of {h} and {w}"
            )
        self.patch = patch
        self.periodic = tuple(bc == (PERIODIC, PERIODIC) for bc in info.boundary_conditions)
        self.grid = (h // patch, w // patch)
        self.sites = self.grid[0] * self.grid[1]
        self.dim, self.control_dim = patch_dim, 2 * patch_dim
        width = 2 * patch_dim
        self.encoder = nn.ModuleList([nn.Conv2d(n_fields, width, 3), nn.Conv2d(width, width, 3)])
        self.to_patch = nn.Conv2d(width, patch_dim, patch, stride=patch)
        self.from_patch = nn.ConvTranspose2d(patch_dim, width, patch, stride=patch, bias=False)
        self.to_fields = nn.Conv2d(width, n_fields, 3)
        nn.init.zeros_(self.to_fields.bias)
        adjacency = patch_adjacency(self.grid, self.periodic)
        self.register_buffer("mix", adjacency.to(torch.get_default_dtype()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[e_i, sum_j A_ij e_j]`` per patch of frames ``(N, C, H, W)``:
        ``(N, S * 2 patch_dim)``, NaN for patches (and neighbour means) not observed."""
        missing = torch.isnan(x)
        e = torch.where(missing, torch.zeros_like(x), x)
        hole = missing.any(1, keepdim=True).to(x.dtype)
        for conv in self.encoder:
            e = F.silu(conv(pad2d(e, self.periodic)))
            hole = F.max_pool2d(pad2d(hole, self.periodic), 3, stride=1)
        e = self.to_patch(e).flatten(2).transpose(1, 2)  # (N, S, d)
        hole = F.max_pool2d(hole, self.patch).flatten(1)[..., None]  # (N, S, 1)
        mix = self.mix.to(x.dtype)
        nan = torch.full_like(e, float("nan"))
        own = torch.where(hole > 0, nan, e)
        near = torch.where(mix @ hole > 0, nan, mix @ e)
        return torch.cat([own, near], -1).flatten(1)

    def decode(self, v: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, C, H, W)`` of per-patch readouts ``(N, S * patch_dim)``."""
        v = v.reshape(-1, *self.grid, self.dim).permute(0, 3, 1, 2)
        y = F.silu(self.from_patch(v))
        return self.to_fields(pad2d(y, self.periodic))


Latent = GraphLatent | FourierLatent | PatchLatent


def make_latent(info: DatasetInfo, n_fields: int, cfg: LatentConfig) -> Latent:
    """The latent for ``info``'s grid: graphs, periodic 1-D grids or 2-D cartesian grids."""
    n_dims = len(info.spatial_shape)
    if info.grid_type == "graph":
        return GraphLatent(info, n_fields)
    if n_dims == 1 and info.boundary_conditions[0] == (PERIODIC, PERIODIC):
        return FourierLatent(info, n_fields, cfg.n_modes)
    if n_dims == 2 and info.grid_type == "cartesian":
        return PatchLatent(info, n_fields, cfg.patch, cfg.patch_dim)
    raise ValueError(
        f"dataset {info.name!r} ({info.grid_type}, {n_dims}-D, boundaries "
        f"{info.boundary_conditions}): NCDE latents exist for graphs, periodic 1-D grids "
        "and 2-D cartesian grids only"
    )
