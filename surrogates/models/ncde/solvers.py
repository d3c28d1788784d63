"""Fixed-step solvers of ``dz = f(z) dX`` over the knots of a :class:`CubicPath`.

On each interval ``k`` the solver integrates ``dz/ds = f(z) dX/ds`` for ``s`` in
``[0, 1]`` with ``n_sub`` equal steps of explicit Euler (order 1) or classical RK4
(order 4). ``f`` maps ``z (B, H)`` to a matrix ``(B, H, C)`` and is applied to
``dX/ds (B, C)`` as a batched matrix-vector product.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pdesim.validation import require_int
from surrogates.models.ncde.paths import CubicPath

METHODS = ("euler", "rk4")


def cdeint(
    z0: torch.Tensor,
    field: Callable[[torch.Tensor], torch.Tensor],
    path: CubicPath,
    method: str = "rk4",
    n_sub: int = 1,
) -> torch.Tensor:
    """``z`` at every knot of ``path``: ``(B, T, H)``, starting from ``z0 (B, H)``."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}; allowed: {', '.join(METHODS)}")
    n_sub = require_int("n_sub", n_sub, ge=1)

    def rhs(z: torch.Tensor, k: int, s: float) -> torch.Tensor:
        return torch.bmm(field(z), path.derivative(k, s)[..., None])[..., 0]

    h = 1.0 / n_sub
    z, out = z0, [z0]
    for k in range(path.n_intervals):
        for j in range(n_sub):
            s = j * h
            if method == "euler":
                z = z + h * rhs(z, k, s)
                continue
            k1 = rhs(z, k, s)
            k2 = rhs(z + 0.5 * h * k1, k, s + 0.5 * h)
            k3 = rhs(z + 0.5 * h * k2, k, s + 0.5 * h)
            k4 = rhs(z + h * k3, k, s + h)
            z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(z)
    return torch.stack(out, 1)
