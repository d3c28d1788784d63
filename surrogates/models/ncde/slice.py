"""Structured linear CDE layers (SLiCEs, Walker et al. 2025) and their scans.

A SLiCE layer runs the input-dependent linear recurrence
``h_k = A(x_k) h_{k-1} + B(x_k) dX_k`` over a sequence of inputs ``x_k`` (features of
the control path at knot ``k``) and increments ``dX_k``. ``A`` is structured:

* ``diagonal``: ``A = diag(lam)``, ``lam = rho * tanh(W x + w)``;
* ``block``: blocks ``M_j = rho * R_j / (1 + ||R_j||_F)`` with ``R_j = W_j x + W0_j``;
* ``hadamard``: ``A = diag(lam) H / sqrt(n)`` with ``H`` the Walsh-Hadamard matrix
  (``n`` a power of two), ``lam`` as for ``diagonal``.

Each has spectral norm ``<= rho < 1``, so ``|h_k| <= max |u| / (1 - rho)`` for inputs
``u_k = B dX_k``: long rollouts cannot grow without bound. The recurrence is solved
either sequentially or in ``ceil(log2 T)`` rounds of an associative (Hillis-Steele)
scan of the affine maps ``(A, u)``, composed as ``(A2, u2) o (A1, u1) =
(A2 A1, A2 u1 + u2)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

KINDS = ("diagonal", "block", "hadamard")


def _apply(a: torch.Tensor, h: torch.Tensor, kind: str) -> torch.Tensor:
    """``A h`` for ``a`` as stored: ``(..., n)`` diagonal, ``(..., nb, b, b)`` blocks or
    ``(..., n, n)`` dense; ``h (..., n)``."""
    if kind == "diagonal":
        return a * h
    if kind == "block":
        nb, bs = a.shape[-3], a.shape[-1]
        hb = h.reshape(*h.shape[:-1], nb, bs, 1)
        return (a @ hb).reshape(h.shape)
    return (a @ h[..., None])[..., 0]


def _compose(a2: torch.Tensor, a1: torch.Tensor, kind: str) -> torch.Tensor:
    return a2 * a1 if kind == "diagonal" else a2 @ a1


def _identity_like(a: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "diagonal":
        return torch.ones_like(a)
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return eye.expand_as(a).clone()


def scan_sequential(a: torch.Tensor, u: torch.Tensor, h0: torch.Tensor, kind: str):
    """``h_k = A_k h_{k-1} + u_k`` for ``k = 1..T``: ``(B, T, n)``; ``a`` with time axis 1."""
    h, out = h0, []
    for k in range(u.shape[1]):
        h = _apply(a[:, k], h, kind) + u[:, k]
        out.append(h)
    return torch.stack(out, 1)


def scan_parallel(a: torch.Tensor, u: torch.Tensor, h0: torch.Tensor, kind: str):
    """The same recurrence as :func:`scan_sequential` by an associative scan."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; allowed: {', '.join(KINDS)}")
    u = torch.cat([h0[:, None], u], 1)
    a = torch.cat([_identity_like(a[:, :1], kind), a], 1)
    t, shift = u.shape[1], 1
    while shift < t:
        a_prev = torch.cat([_identity_like(a[:, :shift], kind), a[:, :-shift]], 1)
        u_prev = torch.cat([torch.zeros_like(u[:, :shift]), u[:, :-shift]], 1)
        u = _apply(a, u_prev, kind) + u
        a = _compose(a, a_prev, kind)
        shift *= 2
    return u[:, 1:]


def hadamard_matrix(n: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The orthogonal Walsh-Hadamard matrix ``H / sqrt(n)`` (Sylvester's construction)."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"n={n!r}; allowed: a power of two")
    h = torch.ones(1, 1, dtype=dtype)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


class SLiCE(nn.Module):
    """One contractive SLiCE layer; see the module docstring.

    ``forward(x (B, T, d_in), dx (B, T, d_ctrl), h0=None) -> h (B, T, hidden)``.
    """

    def __init__(
        self,
        d_in: int,
        d_ctrl: int,
        hidden: int,
        kind: str = "diagonal",
        block_size: int = 4,
        rho: float = 0.99,
        parallel: bool = True,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}; allowed: {', '.join(KINDS)}")
        if not 0 < rho < 1:
            raise ValueError(f"rho={rho!r}; allowed: 0 < rho < 1")
        if kind == "block" and hidden % block_size:
            raise ValueError(f"block_size={block_size} must divide hidden={hidden}")
        self.kind, self.hidden, self.rho, self.parallel = kind, hidden, rho, parallel
        self.block_size = block_size
        n_a = hidden * block_size if kind == "block" else hidden
        self.to_a = nn.Linear(d_in, n_a)
        nn.init.normal_(self.to_a.weight, std=0.01)
        if kind == "block":
            eye = torch.eye(block_size).repeat(hidden // block_size, 1, 1).reshape(-1)
            with torch.no_grad():
                self.to_a.bias.copy_(4.0 * eye)
        else:
            nn.init.constant_(self.to_a.bias, 2.0)
        self.to_u = nn.Linear(d_ctrl, hidden, bias=False)
        if kind == "hadamard":
            self.register_buffer("walsh", hadamard_matrix(hidden), persistent=False)

    def transitions(self, x: torch.Tensor) -> torch.Tensor:
        """The contractive ``A(x_k)`` in the storage of :func:`_apply`."""
        raw = self.to_a(x)
        if self.kind == "block":
            b = self.block_size
            raw = raw.reshape(*x.shape[:-1], self.hidden // b, b, b)
            norm = raw.pow(2).sum((-2, -1), keepdim=True).sqrt()
            return self.rho * raw / (1 + norm)
        lam = self.rho * torch.tanh(raw)
        if self.kind == "diagonal":
            return lam
        return lam[..., None] * self.walsh.to(lam.dtype)

    def forward(self, x: torch.Tensor, dx: torch.Tensor, h0: torch.Tensor | None = None):
        a = self.transitions(x)
        u = self.to_u(dx)
        if h0 is None:
            h0 = torch.zeros(x.shape[0], self.hidden, dtype=x.dtype, device=x.device)
        scan = scan_parallel if self.parallel else scan_sequential
        return scan(a, u, h0, self.kind)
