"""Viscous Burgers equation, 1-D periodic: the non-stiff check of the integrators.

    u_t = nu u_xx - u u_x         on [0, L)       (L(k) = -nu k^2, N(u) = -1/2 (u^2)_x)

With ``nu = 0.01`` on ``[0, 2 pi)`` and the smooth ``sin x + 1/2 cos 2x`` start it is
a clean fourth-order test of ETDRK4 up to the time a shock steepens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pdesim.grid import DEALIAS_RULES
from pdesim.systems._advection import AdvectedScalar1D
from pdesim.systems.base import band_limited_noise, parameter
from pdesim.validation import MAX_POINTS, require_choice, require_int, require_real


@dataclass(frozen=True)
class BurgersParams:
    nu: float = parameter(0.01, "viscosity", "> 0")
    L: float = parameter(2 * np.pi, "domain length", "> 0")
    N: int = parameter(64, "grid points", "even integer >= 16")
    dealias: str = parameter("2/3", "dealiasing rule for the quadratic term", "2/3 | 1/2 | none")

    def __post_init__(self) -> None:
        require_real("nu", self.nu, gt=0.0)
        require_real("L", self.L, gt=0.0)
        require_int("N", self.N, ge=16, le=MAX_POINTS, even=True)
        require_choice("dealias", self.dealias, DEALIAS_RULES)


class Burgers(AdvectedScalar1D):
    """``u_t = nu u_xx - u u_x`` on the periodic interval ``[0, L)``."""

    name = "burgers"
    summary = "viscous Burgers, 1-D periodic: u_t = nu u_xx - u u_x"
    initial_conditions = ("sine", "random")
    Params = BurgersParams
    default_dt = 0.01

    def linear_operator(self) -> np.ndarray:
        return (-self.params.nu * self.grid.k_squared)[None, :]

    def _initial_sine(self, rng: np.random.Generator) -> np.ndarray:
        """``sin(2 pi x / L) + 1/2 cos(4 pi x / L)``."""
        x = 2 * np.pi * self.grid.coords[0] / self.params.L
        return (np.sin(x) + 0.5 * np.cos(2 * x))[None]

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Zero-mean noise in the lowest modes (``|m| <= 4``), std 1."""
        return band_limited_noise(self.grid, rng, max_mode=4, std=1.0)[None]
