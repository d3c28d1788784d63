"""Kuramoto-Sivashinsky equation in one and two dimensions, periodic.

1-D (``ks1d``), on ``[0, L)``::

    u_t = -u u_x - u_xx - u_xxxx          (L(k) = k^2 - k^4, N(u) = -1/2 (u^2)_x)

The spatial mean of ``u`` is conserved. The chaotic benchmark ``L = 22`` (``N = 64``)
has a leading Lyapunov exponent of about 0.048 and Kaplan-Yorke dimension about 4.2.

2-D (``ks2d``), the scalar ("combustion") form on ``[0, L)^2``::

    u_t = -Δu - Δ²u - 1/2 |∇u|^2          (L(k) = |k|^2 - |k|^4)

Here the mean drifts, ``d<u>/dt = -1/2 <|∇u|^2>``, and nothing else depends on it;
datasets store ``u - <u>`` with the mean as a scalar.

Products are dealiased (``dealias = "2/3"`` by default) by masking both the inputs of
the product and the product itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pdesim import compiled_ks2d
from pdesim.grid import DEALIAS_RULES, Grid
from pdesim.integrators import Nonlinear
from pdesim.kernels import derivative_pair, product_sum, rows, scale, sum_of_squares
from pdesim.systems._advection import AdvectedScalar1D
from pdesim.systems.base import (
    SpectralStepper,
    SpectralSystem,
    band_limited_noise,
    parameter,
)
from pdesim.validation import MAX_POINTS, require_choice, require_int, require_real


def _validate_ks(params: object) -> None:
    require_real("L", params.L, gt=0.0)
    require_int("N", params.N, ge=16, le=MAX_POINTS, even=True)
    require_choice("dealias", params.dealias, DEALIAS_RULES)
    # The unstable band is 0 < |k| < 1; the grid's largest wavenumber pi N / L must
    # reach well past it (k_max >= 3), or the dissipative range is not resolved.
    if 3 * params.L / np.pi > MAX_POINTS:
        raise ValueError(
            f"parameter 'L' must be <= pi {MAX_POINTS} / 3 = {np.pi * MAX_POINTS / 3:.6g}: "
            f"resolving the KS dissipation range needs N >= 3 L / pi grid points and a grid "
            f"has at most {MAX_POINTS}; got L={params.L:g}"
        )
    if np.pi * params.N / params.L < 3.0:
        raise ValueError(
            f"parameter 'N' must be >= 3 L / pi = {3 * params.L / np.pi:.1f} to resolve "
            f"the KS dissipation range at L={params.L:g}, got N={params.N}"
        )


@dataclass(frozen=True)
class KS1DParams:
    L: float = parameter(22.0, "domain length", "> 0")
    N: int = parameter(64, "grid points", "even integer >= 16 and >= 3L/pi")
    dealias: str = parameter("2/3", "dealiasing rule for the quadratic term", "2/3 | 1/2 | none")

    def __post_init__(self) -> None:
        _validate_ks(self)


@dataclass(frozen=True)
class KS2DParams:
    L: float = parameter(32 * np.pi, "side of the square domain", "> 0")
    N: int = parameter(128, "grid points per axis", "even integer >= 16 and >= 3L/pi")
    dealias: str = parameter("2/3", "dealiasing rule for the quadratic term", "2/3 | 1/2 | none")

    def __post_init__(self) -> None:
        _validate_ks(self)


class KuramotoSivashinsky1D(AdvectedScalar1D):
    """``u_t = -u u_x - u_xx - u_xxxx`` on the periodic interval ``[0, L)``."""

    name = "ks1d"
    summary = "Kuramoto-Sivashinsky, 1-D periodic: u_t = -u u_x - u_xx - u_xxxx"
    initial_conditions = ("random", "kassam_trefethen")
    Params = KS1DParams
    default_dt = 0.25

    def linear_operator(self) -> np.ndarray:
        k2 = self.grid.k_squared
        return (k2 - k2**2)[None, :]

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Zero-mean noise in the lowest modes (``|m| <= 8``), std 1."""
        return band_limited_noise(self.grid, rng, max_mode=min(8, self.params.N // 3 - 1), std=1.0)[
            None
        ]

    def _initial_kassam_trefethen(self, rng: np.random.Generator) -> np.ndarray:
        """``cos(2 pi x / L) (1 + sin(2 pi x / L))``: Kassam & Trefethen's kursiv.m at L = 32 pi."""
        x = 2 * np.pi * self.grid.coords[0] / self.params.L
        return (np.cos(x) * (1.0 + np.sin(x)))[None]


class KuramotoSivashinsky2D(SpectralSystem):
    """``u_t = -Δu - Δ²u - 1/2 |∇u|^2`` on the periodic square ``[0, L)^2``."""

    name = "ks2d"
    summary = "Kuramoto-Sivashinsky, 2-D periodic: u_t = -Δu - Δ²u - |∇u|²/2"
    field_names = ("u",)
    mean_is_neutral = True
    has_tangent_dynamics = True
    initial_conditions = ("random", "small_random")
    Params = KS2DParams
    # The mean drifts linearly (about -2.5 per unit time at L = 32 pi) without feeding
    # back, so the threshold on |u| is set far above any drift a run can reach.
    blowup_threshold = 1e9
    default_dt = 0.1
    dataset_scalars = ("u_mean",)

    @cached_property
    def grid(self) -> Grid:
        return Grid((self.params.L, self.params.L), (self.params.N, self.params.N))

    @cached_property
    def _multipliers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dealiased real ``k_x``, ``k_y`` as ``(1, modes)`` rows (the kernel multiplies by
        ``i``; they carry the inverse transform's ``1/N^2``, one pass less per evaluation)
        and the output factors ``-1/2 mask`` of ``N`` and ``-mask`` of its tangent, shaped
        like the linear operator."""
        mask = self.grid.dealias_mask(self.params.dealias)
        scaled = mask * self.transform.inverse_scale
        kx = (self.grid.derivative(0).imag * scaled).reshape(1, -1)
        ky = (self.grid.derivative(1).imag * scaled).reshape(1, -1)
        scale = (-0.5 * mask)[None]
        return kx, ky, scale, 2.0 * scale

    @cached_property
    def _band(self) -> int:
        """Columns of the last spectral axis the dealiasing mask keeps: the transforms
        over the first axis run on these only (the rest are zero, or masked)."""
        kept = self.grid.dealias_mask(self.params.dealias).any(axis=0)
        return int(np.flatnonzero(kept).max()) + 1

    def linear_operator(self) -> np.ndarray:
        k2 = self.grid.k_squared
        return (k2 - k2**2)[None, :, :]

    def make_stepper(self, dt: float, method: str | None = None) -> SpectralStepper:
        """ETDRK4 with step ``dt``: compiled steps (:class:`pdesim.compiled_ks2d.KS2DStepper`)
        with FFTW on one thread, else the general path."""
        require_choice("method", method or self.methods[0], self.methods)
        if compiled_ks2d.applies(self):
            return compiled_ks2d.KS2DStepper(self, dt)
        return SpectralStepper(self, dt)

    def _gradient(self, coeffs: np.ndarray, role: str) -> np.ndarray:
        """Dealiased ``(u_x, u_y)`` in physical space, shaped ``(2, batch, 1, N, N)``."""
        kx, ky, _, _ = self._multipliers
        spectral = self.buffer(role + "_grad_hat", (2, *coeffs.shape), np.complex128)
        physical = self.buffer(
            role + "_grad", (2, *coeffs.shape[:-2], *self.grid.shape), np.float64
        )
        derivative_pair(rows(coeffs), kx, ky, rows(spectral[0]), rows(spectral[1]))
        self.transform.inverse(
            spectral, out=physical, overwrite_input=True, normalise=False, band=self._band
        )
        return physical

    def _gradient_squared(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        """``out`` = the transform of ``|∇u|^2`` (dealiased inputs, no output factor) on
        the kept band; columns beyond it hold partial transforms, which the factor's mask
        zeroes."""
        grad = self._gradient(state, "base")
        sum_of_squares(rows(grad[0]), rows(grad[1]), rows(grad[0]))
        self.transform.forward(grad[0], out=out, band=self._band)

    def nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        self._gradient_squared(state, t, out)
        scale(rows(out), rows(self._multipliers[2]), rows(out))

    def nonlinear_factors(self) -> tuple[Nonlinear, np.ndarray]:
        """``N = (-1/2 mask) F[|∇u|^2]``: the stepper folds the factor into ETDRK4."""
        return self._gradient_squared, self._multipliers[2]

    def nonlinear_tangent(self, state: np.ndarray, tangent: np.ndarray, out: np.ndarray) -> None:
        grad_u = self._gradient(state, "base")
        grad_v = self._gradient(tangent, "tangent")
        u0, u1 = rows(grad_u[0]), rows(grad_u[1])
        g0, g1 = rows(grad_v[0]), rows(grad_v[1])
        for i in range(g0.shape[0]):  # one base state for every tangent: kernels don't broadcast
            product_sum(g0[i : i + 1], u0, g1[i : i + 1], u1, g0[i : i + 1])
        self.transform.forward(grad_v[0], out=out, band=self._band)
        scale(rows(out), rows(self._multipliers[3]), rows(out))

    def dataset_frame(self, frame: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Files store ``u - <u>`` and the drifting mean as the scalar ``u_mean``."""
        mean = frame.mean(axis=(-2, -1), keepdims=True)
        return frame - mean, {"u_mean": mean[:, 0, 0, 0]}

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Zero-mean noise in the lowest modes (``|m| <= 8`` per axis), std 1."""
        return band_limited_noise(self.grid, rng, max_mode=min(8, self.params.N // 3 - 1), std=1.0)[
            None
        ]

    def _initial_small_random(self, rng: np.random.Generator) -> np.ndarray:
        """The same noise with std 0.01: the linear instability picks the pattern."""
        return 0.01 * self._initial_random(rng)
