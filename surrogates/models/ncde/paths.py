"""Control paths ``X`` of a neural CDE from observed values, with missing data.

Observations ``x_k`` (``(B, T, C)``, NaN where missing) at knots ``t_k`` become a path
``X`` that is a cubic polynomial on each interval in the local parameter
``s in [0, 1]``: ``X(t_k + s h_k) = a_k + b_k s + c_k s^2 + d_k s^3`` with
``h_k = t_{k+1} - t_k``. A CDE ``dz = f(z) dX`` is invariant under reparametrisation,
so solvers integrate ``dz/ds = f(z) dX/ds`` over ``s`` on each interval.

* linear: ``X(s) = x_k + s (x_{k+1} - x_k)``;
* Hermite cubic: ``X(0) = x_k, X(1) = x_{k+1}, X'(0) = h_k m_k, X'(1) = h_k m_{k+1}``
  with knot slopes ``m`` given, or by default backward differences
  ``m_k = (x_k - x_{k-1}) / (t_k - t_{k-1})`` (``m_0`` the first forward difference),
  which keeps the path causal: ``X`` on ``[t_k, t_{k+1}]`` depends on ``x_{<= k+1}``;
* rectilinear: the linear path through ``(t_0, x_0), (t_1, x_0), (t_1, x_1), ...``
  (time moves first, then the values), ``2T - 1`` knots.

Missing values (NaN) are forward-filled (a channel never observed before knot ``k`` is
back-filled from its first observation, or 0 if it never is) and each channel gets a
cumulative observation count, so the path records when data arrived
(:func:`observation_channels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CubicPath:
    """Per-interval coefficients ``a, b, c, d`` of shape ``(B, T - 1, C)``."""

    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    d: torch.Tensor

    @property
    def n_intervals(self) -> int:
        return self.a.shape[1]

    def evaluate(self, k: int, s: float | torch.Tensor) -> torch.Tensor:
        """``X`` at local parameter ``s`` of interval ``k``: ``(B, C)``."""
        return self.a[:, k] + s * (self.b[:, k] + s * (self.c[:, k] + s * self.d[:, k]))

    def derivative(self, k: int, s: float | torch.Tensor) -> torch.Tensor:
        """``dX/ds`` at local parameter ``s`` of interval ``k``: ``(B, C)``."""
        return self.b[:, k] + s * (2 * self.c[:, k] + 3 * s * self.d[:, k])

    def increments(self) -> torch.Tensor:
        """``X(t_{k+1}) - X(t_k)`` per interval: ``(B, T - 1, C)``."""
        return self.b + self.c + self.d


def _check(times: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if x.ndim != 3:
        raise ValueError(f"x has shape {tuple(x.shape)}; allowed: (batch, time, channels)")
    if x.shape[1] < 2:
        raise ValueError(f"x has {x.shape[1]} knots; allowed: >= 2")
    times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
    if times.ndim == 1:
        times = times.expand(x.shape[0], -1)
    if times.shape != x.shape[:2]:
        raise ValueError(f"times has shape {tuple(times.shape)}; allowed: {tuple(x.shape[:2])}")
    if not bool((times.diff(dim=1) > 0).all()):
        raise ValueError("times must increase strictly along each path")
    return times


def forward_fill(x: torch.Tensor) -> torch.Tensor:
    """NaN entries of ``(B, T, C)`` replaced by the last observed value of their channel
    (before the first observation: the first one; never observed: 0)."""
    observed = ~torch.isnan(x)
    idx = torch.arange(x.shape[1], device=x.device).view(1, -1, 1).expand_as(x)
    last = torch.where(observed, idx, torch.zeros_like(idx)).cummax(dim=1).values
    first = torch.where(observed, idx, torch.full_like(idx, x.shape[1])).min(dim=1).values
    first = first.clamp_max(x.shape[1] - 1)[:, None].expand_as(x)
    seen = observed.cumsum(1) > 0
    pick = torch.where(seen, last, first)
    filled = torch.nan_to_num(x, nan=0.0).gather(1, pick)
    return torch.where(observed.any(1, keepdim=True), filled, torch.zeros_like(filled))


def observation_channels(times: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[t, forward_fill(x), cumulative observation count per channel]``: ``(B, T, 1+2C)``."""
    times = _check(times, x)
    counts = (~torch.isnan(x)).to(x.dtype).cumsum(1)
    return torch.cat([times[..., None], forward_fill(x), counts], -1)


def linear(times: torch.Tensor, x: torch.Tensor) -> CubicPath:
    """Piecewise-linear interpolation of ``x`` (no NaN) at ``times``."""
    _check(times, x)
    zero = torch.zeros_like(x[:, 1:])
    return CubicPath(x[:, :-1], x.diff(dim=1), zero, zero)


def hermite(times: torch.Tensor, x: torch.Tensor, slopes: torch.Tensor | None = None) -> CubicPath:
    """Hermite cubic through ``x`` with knot slopes ``dx/dt`` (default: backward
    differences). Exact on cubics when the slopes are exact; on lines always."""
    times = _check(times, x)
    h = times.diff(dim=1)[..., None]
    delta = x.diff(dim=1)
    if slopes is None:
        back = delta / h
        slopes = torch.cat([back[:, :1], back], 1)
    if slopes.shape != x.shape:
        raise ValueError(f"slopes has shape {tuple(slopes.shape)}; allowed: {tuple(x.shape)}")
    m0, m1 = h * slopes[:, :-1], h * slopes[:, 1:]
    return CubicPath(x[:, :-1], m0, 3 * delta - 2 * m0 - m1, -2 * delta + m0 + m1)


def rectilinear(times: torch.Tensor, x: torch.Tensor) -> CubicPath:
    """The linear path through ``[t, x]`` knots, time moving before the values: the path
    has ``1 + C`` channels (time first) and ``2T - 1`` knots."""
    times = _check(times, x)
    b, t, c = x.shape
    tt = torch.stack([times, times], 2).reshape(b, 2 * t)[:, 1:]
    xx = torch.stack([x, x], 2).reshape(b, 2 * t, c)[:, :-1]
    knots = torch.cat([tt[..., None], xx], -1)
    zero = torch.zeros_like(knots[:, 1:])
    return CubicPath(knots[:, :-1], knots.diff(dim=1), zero, zero)


PATHS = {"linear": linear, "hermite": hermite, "rectilinear": rectilinear}
