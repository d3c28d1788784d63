"""Depth-2 log-signatures of piecewise-linear windows and the log-ODE step (Log-NCDE,
Walker et al. 2024).

For knots ``x_0..x_m`` of a window, the depth-2 log-signature is the increment
``dX = x_m - x_0`` and the Levy areas
``A_ij = 1/2 sum_k ((x_{k-1} - x_0)_i dx_k,j - (x_{k-1} - x_0)_j dx_k,i)``
(``dx_k = x_k - x_{k-1}``; antisymmetric). Over the window the CDE ``dz = f(z) dX``
is replaced by the autonomous ODE on ``s in [0, 1]``

    dz/ds = f(z) dX + sum_{i<j} A_ij [f_i, f_j](z),
    [f_i, f_j](z) = J_{f_j}(z) f_i(z) - J_{f_i}(z) f_j(z),

with ``f_i`` the ``i``-th column of ``f``; the Jacobian-vector products come from
``torch.func.jvp`` (one per channel, vectorised with ``torch.func.vmap``). For linear
fields ``f_i(z) = M_i z`` the bracket is ``(M_j M_i - M_i M_j) z``, which matches the
Baker-Campbell-Hausdorff expansion of the exact flow to second order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp, vmap

from pdesim.validation import require_int


def levy_area(x: torch.Tensor) -> torch.Tensor:
    """Levy areas ``(B, C, C)`` of the piecewise-linear path through ``x (B, m+1, C)``."""
    rel = x[:, :-1] - x[:, :1]
    dx = x.diff(dim=1)
    s = torch.einsum("bki,bkj->bij", rel, dx)
    return 0.5 * (s - s.transpose(1, 2))


def bracket_term(
    field: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, area: torch.Tensor
) -> torch.Tensor:
    """``sum_{i<j} A_ij [f_i, f_j](z)`` for ``z (B, H)``, antisymmetric ``area (B, C, C)``."""
    fz = field(z)  # (B, H, C)

    def directional(v: torch.Tensor) -> torch.Tensor:  # v (B, H) -> (B, H, C): J_f(z) v
        return jvp(field, (z,), (v,))[1]

    # m[i, b, :, j] = J_{f_j}(z_b) f_i(z_b)
    m = vmap(directional)(fz.permute(2, 0, 1))
    # sum_{i<j} A_ij (m_ij - m_ji) = sum_{i,j} A_ij m_ij for antisymmetric A
    return torch.einsum("bij,ibhj->bh", area, m)


def logode_step(
    field: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    increment: torch.Tensor,
    area: torch.Tensor,
    n_sub: int = 1,
) -> torch.Tensor:
    """``z`` after one window: RK4 (``n_sub`` steps) on the log-ODE of the window."""

    def rhs(y: torch.Tensor) -> torch.Tensor:
        drift = torch.bmm(field(y), increment[..., None])[..., 0]
        return drift + bracket_term(field, y, area)

    h = 1.0 / n_sub
    for _ in range(n_sub):
        k1 = rhs(z)
        k2 = rhs(z + 0.5 * h * k1)
        k3 = rhs(z + 0.5 * h * k2)
        k4 = rhs(z + h * k3)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z


def logode_solve(
    field: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    knots: torch.Tensor,
    window: int = 2,
    n_sub: int = 1,
) -> torch.Tensor:
    """``z`` at every knot of the piecewise-linear path ``knots (B, T, C)``: ``(B, T, H)``.

    Log-ODE steps over windows of ``window`` intervals; a knot inside a window is
    reached by one log-ODE step over the partial window from the window's start."""
    window = require_int("window", window, ge=1)
    t = knots.shape[1]
    states = {0: z0}
    out = [z0]
    for k in range(1, t):
        start = ((k - 1) // window) * window
        piece = knots[:, start : k + 1]
        z = logode_step(field, states[start], piece[:, -1] - piece[:, 0], levy_area(piece), n_sub)
        if k % window == 0:
            states[k] = z
        out.append(z)
    return torch.stack(out, 1)
