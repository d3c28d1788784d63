"""The complex Ginzburg-Landau equation, 1-D or 2-D periodic.

    A_t = A + (1 + i alpha) ∇²A - (1 + i beta) |A|² A

for a complex amplitude ``A`` on ``[-L/2, L/2)`` (``dim=1``) or
``[-L/2, L/2) x [-Ly/2, Ly/2)`` (``dim=2``), stored as the two real fields
``A_re = Re A`` and ``A_im = Im A``. ``alpha`` is the linear and ``beta`` the
nonlinear dispersion (Aranson & Kramer, Rev. Mod. Phys. 74 (2002) 99, write ``b`` and
``c``). Plane waves with ``1 + alpha beta < 0`` are all unstable (Benjamin-Feir-Newell).

Exact solutions: the plane waves ``A = R exp(i (q.x - omega t))`` with ``R² = 1 - |q|²``
and ``omega = beta + (alpha - beta) |q|²`` for ``|q| < 1`` (``q = 0``: the uniform
oscillation ``A = exp(-i beta t)``).

``rd_spiral`` is the ``alpha = 0`` case: with ``d1 = d2 = D`` its lambda-omega system
is ``z_t = D ∇²z + (1 - |z|²) z - i beta |z|² z`` for ``z = u + i v``, so
``rd_spiral(d1=D, d2=D, beta=b, L=L, N=N)`` at ``x`` is ``cgle(alpha=0, beta=b,
L=L / sqrt(D), N=N)`` at ``x / sqrt(D)``, with ``(u, v) = (A_re, A_im)`` (both boxes are
centred on 0, so the grids map node to node). The two solvers split the same equation
differently (rd_spiral integrates ``-D |k|²`` exactly and ``+z`` with the reaction,
this one integrates ``1 - |k|²`` exactly), so they agree to the time-stepping error,
not to rounding. For ``d1 != d2`` rd_spiral gains a cross-diffusion term
``(d1 - d2)/2 ∇² conj(z)`` that no CGLE has.

Numerics: ``(1 + i alpha) ∇²`` is diagonal for ``A`` but couples ``Re A`` and ``Im A``,
and ETDRK4 needs a diagonal linear part. The stepper therefore works with the real
FFTs ``û, v̂`` of ``(A_re, A_im)`` combined into ``P = û + i v̂`` and ``M = û - i v̂``:
``P(k)`` is the Fourier coefficient of ``A`` at ``k``, ``M(k)`` the conjugate of the one
at ``-k``, and ``L = (1 - (1 + i alpha)|k|², 1 - (1 - i alpha)|k|²)`` is diagonal on
``(P, M)``. The cubic term is evaluated on the grid; ``dealias`` masks its input and
output (``"1/2"`` is exact for cubic products).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from pdesim.grid import DEALIAS_RULES, Grid
from pdesim.systems.base import SpectralStepper, SpectralSystem, parameter, random_band_field
from pdesim.validation import MAX_POINTS, require_choice, require_int, require_real, second_axis

#: Every axis needs ``k_max = pi N / L >= RESOLUTION``: the plane-wave band ``|q| < 1``
#: and the unit healing length of the defects are resolved.
RESOLUTION = 1.5


@dataclass(frozen=True)
class CGLEParams:
    alpha: float = parameter(0.0, "linear dispersion: A_t = ... + (1 + i alpha) ∇²A", "finite real")
    beta: float = parameter(1.0, "nonlinear dispersion: ... - (1 + i beta)|A|²A", "finite real")
    dim: int = parameter(2, "number of space dimensions", "1 | 2")
    L: float = parameter(50.0, "box side along x (domain [-L/2, L/2))", "> 0")
    N: int = parameter(128, "grid points along x", "even >= 8, pi N / L >= 1.5")
    Ly: float | None = parameter(None, "box side along y (default L; dim=2 only)", "> 0")
    Ny: int | None = parameter(None, "grid points along y (default N; dim=2 only)", "even >= 8")
    dealias: str = parameter("2/3", "dealiasing rule of the cubic term", "2/3 | 1/2 | none")

    def __post_init__(self) -> None:
        require_real("alpha", self.alpha)
        require_real("beta", self.beta)
        dim = require_int("dim", self.dim, ge=1, le=2)
        require_real("L", self.L, gt=0.0)
        require_int("N", self.N, ge=8, le=MAX_POINTS, even=True)
        axes = [("N", self.N, "L", self.L)]
        if dim == 1:
            for name in ("Ly", "Ny"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"parameter {name!r} applies to dim=2 only, got {name}="
                        f"{getattr(self, name)!r} with dim=1"
                    )
        else:
            ly, ny = second_axis(self, 8)
            object.__setattr__(self, "Ly", ly)
            object.__setattr__(self, "Ny", ny)
            axes.append(("Ny", ny, "Ly", ly))
        require_choice("dealias", self.dealias, DEALIAS_RULES)
        for n_name, n, l_name, length in axes:
            needed = int(np.ceil(RESOLUTION * length / np.pi))
            needed += needed % 2
            if needed > MAX_POINTS:
                raise ValueError(
                    f"parameter {l_name!r} = {length:g} is out of its useful range: resolving "
                    f"the unit length needs {n_name} >= {needed:.3g} grid points "
                    f"(pi {n_name} / {l_name} >= {RESOLUTION:g}), more than the {MAX_POINTS} "
                    "a grid axis can have"
                )
            if n < needed:
                raise ValueError(
                    f"parameter {n_name!r} must be >= {needed} to resolve the unit length at "
                    f"{l_name}={length:g} (pi {n_name} / {l_name} >= {RESOLUTION:g}), "
                    f"got {n_name}={n}"
                )


class CGLEStepper(SpectralStepper):
    """ETDRK4 on ``(P, M) = (û + i v̂, û - i v̂)`` (see the module docstring)."""

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        coeffs = super().to_state(fields)
        return _to_pm(coeffs, np.empty_like(coeffs))

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        coeffs = _from_pm(state, np.empty_like(state))
        self.transform.inverse(coeffs, out=out, overwrite_input=True)


def _to_pm(coeffs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``(P, M) = (û + i v̂, û - i v̂)`` of the coefficients ``(û, v̂)`` (field axis 1)."""
    u, v = coeffs[:, 0], coeffs[:, 1]
    np.multiply(v, 1j, out=out[:, 1])
    np.add(u, out[:, 1], out=out[:, 0])
    np.subtract(u, out[:, 1], out=out[:, 1])
    return out


def _from_pm(state: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``(û, v̂) = ((P + M) / 2, (P - M) / 2i)``, the inverse of :func:`_to_pm`."""
    p, m = state[:, 0], state[:, 1]
    np.add(p, m, out=out[:, 0])
    out[:, 0] *= 0.5
    np.subtract(p, m, out=out[:, 1])
    out[:, 1] *= -0.5j
    return out


class ComplexGinzburgLandau(SpectralSystem):
    """The complex Ginzburg-Landau equation for ``A = A_re + i A_im``; exact plane waves
    ``R² = 1 - |q|²``, ``omega = beta + (alpha - beta)|q|²``; ``alpha = 0`` is rd_spiral
    with ``d1 = d2`` rescaled (details in the module docstring)."""

    name = "cgle"
    summary = "complex Ginzburg-Landau, 1-D/2-D periodic: A_t = A + (1+i alpha)ΔA - (1+i beta)|A|²A"
    field_names = ("A_re", "A_im")
    initial_conditions = ("random", "plane_wave")
    Params = CGLEParams
    blowup_threshold = 100.0
    default_dt = 0.05
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # rd_spiral's stable_spiral (d1 = d2 = 0.1, beta = 1, L = 20, N = 128) rescaled
        "rd_spiral_stable": {"alpha": 0.0, "beta": 1.0, "L": float(20 / np.sqrt(0.1)), "N": 128},
        # 1 + alpha beta = -1 < 0: every plane wave is Benjamin-Feir unstable
        "benjamin_feir_unstable": {"alpha": 2.0, "beta": -1.0, "L": 100.0, "N": 256},
    }

    @cached_property
    def grid(self) -> Grid:
        p = self.params
        lengths = (p.L,) if p.dim == 1 else (p.L, p.Ly)
        points = (p.N,) if p.dim == 1 else (p.N, p.Ny)
        return Grid(lengths, points, origin=tuple(-0.5 * length for length in lengths))

    def linear_operator(self) -> np.ndarray:
        """``1 - (1 + i alpha)|k|²`` on ``P`` and its conjugate ``1 - (1 - i alpha)|k|²`` on
        ``M``; real (cheaper coefficients) for ``alpha = 0``."""
        k2 = self.grid.k_squared
        dispersion = 1j * self.params.alpha * k2 if self.params.alpha else 0.0
        return np.stack([1.0 - k2 - dispersion, 1.0 - k2 + dispersion])

    @cached_property
    def _mask(self) -> np.ndarray | None:
        if self.params.dealias == "none":
            return None
        return self.grid.dealias_mask(self.params.dealias)

    def nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        """``-(1 + i beta)|A|² A`` in the ``(P, M)`` variables: to the grid, multiply, back."""
        lead = state.shape[: state.ndim - self.grid.ndim]
        coeffs = _from_pm(state, self.buffer("cgle_spec", state.shape, state.dtype))
        if self._mask is not None:
            coeffs *= self._mask
        fields = self.buffer("cgle_phys", (*lead, *self.grid.shape), np.float64)
        self.transform.inverse(coeffs, out=fields, overwrite_input=True)
        u, v = fields[:, 0], fields[:, 1]
        a2 = u * u + v * v
        react = self.buffer("cgle_react", fields.shape, np.float64)
        # -(1 + i beta) |A|² (u + i v) = -|A|² (u - beta v) - i |A|² (v + beta u)
        np.multiply(v, self.params.beta, out=react[:, 0])
        react[:, 0] -= u
        react[:, 0] *= a2
        np.multiply(u, -self.params.beta, out=react[:, 1])
        react[:, 1] -= v
        react[:, 1] *= a2
        self.transform.forward(react, out=coeffs)
        if self._mask is not None:
            coeffs *= self._mask
        _to_pm(coeffs, out)

    def make_stepper(self, dt: float, method: str | None = None) -> CGLEStepper:
        require_choice("method", method or self.methods[0], self.methods)
        return CGLEStepper(self, dt)

    def plane_wave(self, mode: tuple[int, ...], t: float = 0.0) -> np.ndarray:
        """The exact plane wave ``R exp(i (q.x - omega t))`` with ``q = 2 pi m / L`` per axis
        (``mode`` = the integers ``m``), as fields ``(2, *space)``; needs ``|q| < 1``."""
        if len(mode) != self.grid.ndim or not all(isinstance(m, (int, np.integer)) for m in mode):
            raise ValueError(f"parameter 'mode' needs {self.grid.ndim} integers, got {mode!r}")
        q = [2 * np.pi * m / length for m, length in zip(mode, self.grid.lengths, strict=True)]
        q2 = sum(qi * qi for qi in q)
        if not q2 < 1.0:
            raise ValueError(
                f"parameter 'mode' = {mode!r} gives |q| = {np.sqrt(q2):.3g}: plane waves need "
                "|q| < 1 (a larger box has smaller wavenumbers)"
            )
        omega = self.params.beta + (self.params.alpha - self.params.beta) * q2
        phase = sum(qi * x for qi, x in zip(q, self.grid.mesh(), strict=True)) - omega * t
        return np.sqrt(1.0 - q2) * np.stack([np.cos(phase), np.sin(phase)])

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """``A`` near the unstable state 0: independent smooth random fields (modes
        ``|m| <= 6``) of std 0.1 for ``A_re`` and ``A_im``; they grow into waves and defects."""
        parts = [random_band_field(self.grid, rng, 6) for _ in range(2)]
        return np.stack([0.1 * part / part.std() for part in parts])

    def _initial_plane_wave(self, rng: np.random.Generator) -> np.ndarray:
        """The exact plane wave of the longest wavelength along x, ``q = (2 pi / L, 0)``
        (needs ``L > 2 pi``); not random."""
        if not self.params.L > 2 * np.pi:
            raise ValueError(
                f"initial condition 'plane_wave' needs L > 2 pi (|q| = 2 pi / L < 1), got "
                f"L={self.params.L:g}"
            )
        return self.plane_wave((1,) + (0,) * (self.grid.ndim - 1))
