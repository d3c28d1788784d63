"""The conservative quadratic advection term ``-u u_x = -1/2 (u^2)_x`` of 1-D periodic PDEs.

Shared by Kuramoto-Sivashinsky and viscous Burgers. Dealiasing masks both the input
(before the product) and the product, so with the 2/3 rule every retained mode of
the product is alias-free and the discrete term conserves energy,
``sum Re(conj(u_k) N_k) = 0``, for a band-limited state.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from pdesim import compiled
from pdesim.grid import Grid
from pdesim.integrators import Nonlinear
from pdesim.kernels import rows, scale
from pdesim.spectral import SpectralTransform
from pdesim.systems.base import SpectralStepper, SpectralSystem, TangentStepper
from pdesim.validation import require_choice
from pdesim.work_arrays import WorkArrays


class ConservativeAdvection1D:
    """``N(u) = -1/2 d/dx (u^2)`` and its tangent ``N'(u) v = -d/dx (u v)``, spectrally."""

    def __init__(self, grid: Grid, transform: SpectralTransform, dealias: str) -> None:
        mask = grid.dealias_mask(dealias)
        self.transform = transform
        # the inverse transform's 1/N rides on the mask (one pass less per evaluation)
        self.input_mask = (mask * transform.inverse_scale).reshape(1, -1)
        self.multiplier = (-0.5 * grid.derivative(0) * mask).astype(np.complex128)
        self.tangent_multiplier = 2.0 * self.multiplier
        self._work = WorkArrays()

    def _buffers(self, shape: tuple[int, ...], role: str) -> tuple[np.ndarray, np.ndarray]:
        """A (spectral, physical) pair of work arrays per state shape and role."""
        return self._work.get((shape, role), self._make_pair, shape[:-1])

    def _make_pair(self, lead: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        return self.transform.empty_spectral(lead), self.transform.empty_physical(lead)

    def _to_physical(self, coeffs: np.ndarray, role: str) -> np.ndarray:
        """Dealiased physical values of ``coeffs`` in a work array."""
        spectral, physical = self._buffers(coeffs.shape, role)
        scale(rows(coeffs), self.input_mask, rows(spectral))
        self.transform.inverse(spectral, out=physical, overwrite_input=True, normalise=False)
        return physical

    def square(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        """``out`` = the transform of ``u^2`` (dealiased input, no output multiplier)."""
        u = self._to_physical(state, "base")
        np.multiply(u, u, out=u)
        self.transform.forward(u, out=out)

    def __call__(self, state: np.ndarray, out: np.ndarray) -> None:
        self.square(state, 0.0, out)
        out *= self.multiplier

    def tangent(self, state: np.ndarray, tangent: np.ndarray, out: np.ndarray) -> None:
        u = self._to_physical(state, "base")
        v = self._to_physical(tangent, "tangent")
        np.multiply(v, u, out=v)
        self.transform.forward(v, out=out)
        out *= self.tangent_multiplier


class AdvectedScalar1D(SpectralSystem):
    """A periodic 1-D scalar ``u_t = L u - u u_x`` on ``[0, L)`` with parameters ``L, N, dealias``.

    Subclasses give the linear operator and the initial conditions. ETDRK4 runs compiled
    (:mod:`pdesim.compiled`) where :func:`pdesim.compiled.applies` and the coefficients
    have the form the compiled loop assumes (a real ``L``, one for all trajectories).
    """

    field_names = ("u",)
    mean_is_neutral = True
    has_tangent_dynamics = True
    blowup_threshold = 1e4

    @cached_property
    def grid(self) -> Grid:
        return Grid((self.params.L,), (self.params.N,))

    @cached_property
    def _advection(self) -> ConservativeAdvection1D:
        return ConservativeAdvection1D(self.grid, self.transform, self.params.dealias)

    def nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        self._advection(state, out)

    def nonlinear_factors(self) -> tuple[Nonlinear, np.ndarray]:
        """``N = (-i k mask / 2) F[u^2]``: the stepper folds the multiplier into ETDRK4."""
        return self._advection.square, self._advection.multiplier[None]

    def nonlinear_tangent(self, state: np.ndarray, tangent: np.ndarray, out: np.ndarray) -> None:
        self._advection.tangent(state, tangent, out)

    def make_stepper(self, dt: float, method: str | None = None) -> SpectralStepper:
        """ETDRK4 with step ``dt``: compiled steps (:class:`pdesim.compiled.AdvectionStepper`)
        up to :data:`pdesim.compiled.MAX_POINTS` points with FFTW, else the general path."""
        require_choice("method", method or self.methods[0], self.methods)
        if compiled.applies(self):
            return compiled.AdvectionStepper(self, dt)
        return SpectralStepper(self, dt)

    def make_tangent_stepper(self, dt: float) -> TangentStepper:
        """The augmented ETDRK4 of Lyapunov spectra, compiled where :meth:`make_stepper` is."""
        if compiled.applies(self):
            return compiled.AdvectionTangentStepper(self, dt)
        return TangentStepper(self, dt)
