"""Flux operators: gradient, divergence and ``div(a grad c)`` on periodic or Neumann grids."""

from __future__ import annotations

import numpy as np

from pdesim.grid import Grid
from pdesim.spectral import SpectralTransform
from pdesim.work_arrays import WorkArrays


class FluxOperators:
    """Gradient, divergence and the flux divergence ``div(a grad c)`` on any :class:`Grid`.

    Periodic grids multiply Fourier coefficients by ``i k``. On Neumann grids the
    gradient of a cosine series ``sum_p a_p cos(k_p x)`` along an axis is the sine
    series ``sum_p -k_p a_p sin(k_p x)``, evaluated on the cell centres by a DST-III
    along that axis (its index ``j`` stands for frequency ``j + 1``; the frequency-``N``
    term is zero) and DCT-III along the others. A flux that vanishes on the walls is a
    sine series along its own axis: DST-II there and DCT-II elsewhere give its
    coefficients ``b_p`` and ``d/dx`` maps them back to cosine coefficients ``k_p b_p``.
    The divergence therefore never has a ``p = 0`` (mean) coefficient: the integral
    of ``div(a grad c)`` is zero by construction, so mass is conserved to round-off.

    Dealiasing (``dealias``, a rule of :meth:`Grid.dealias_mask`) masks the inputs of
    the product ``a grad c`` and the divergence.
    """

    def __init__(
        self, grid: Grid, transform: SpectralTransform | None = None, dealias: str = "2/3"
    ) -> None:
        self.grid = grid
        self.transform = transform if transform is not None else SpectralTransform(grid)
        self.backend = self.transform.backend
        mask = grid.dealias_mask(dealias)
        self._mask = mask.astype(self.transform.spectral_dtype)
        self._work = WorkArrays()
        d = grid.ndim
        if grid.periodic:
            self._grad = [(grid.derivative(a) * mask).astype(np.complex128) for a in range(d)]
            return
        full = grid.spectral_shape
        self._grad = [np.broadcast_to(-grid.wavenumbers[a] * mask, full) for a in range(d)]
        self._div = [np.broadcast_to(grid.wavenumbers[a] * mask, full) for a in range(d)]
        self._inverse_kinds = [
            tuple("dst3" if b == a else "dct3" for b in range(d)) for a in range(d)
        ]
        self._forward_kinds = [
            tuple("dst2" if b == a else "dct2" for b in range(d)) for a in range(d)
        ]

    def _buffer(self, role: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return self._work.get((role, shape), self.backend.empty, shape, dtype)

    def _shifted(self, axis: int, lower: bool) -> tuple[slice, ...]:
        """Index of frequencies ``0..N-2`` (``lower``) or ``1..N-1`` along ``axis``."""
        index = [slice(None)] * self.grid.ndim
        index[axis] = slice(0, -1) if lower else slice(1, None)
        return (Ellipsis, *index)

    def gradient(self, coeffs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Physical ``grad u`` (dealiased input) shaped ``(ndim, *lead, *space)``."""
        grid = self.grid
        lead = coeffs.shape[: coeffs.ndim - grid.ndim]
        if out is None:
            out = self.backend.empty((grid.ndim, *lead, *grid.shape), np.float64)
        spectral = self._buffer("grad", coeffs.shape, self.transform.spectral_dtype)
        for a in range(grid.ndim):
            if grid.periodic:
                np.multiply(coeffs, self._grad[a], out=spectral)
                self.transform.inverse(spectral, out=out[a], overwrite_input=True)
                continue
            low, high = self._shifted(a, True), self._shifted(a, False)
            np.multiply(coeffs[high], self._grad[a][high], out=spectral[low])
            last = [slice(None)] * grid.ndim
            last[a] = -1
            spectral[(Ellipsis, *last)] = 0.0
            self.backend.execute_r2r(self._inverse_kinds[a], spectral, out[a])
        return out

    def divergence(self, flux: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Coefficients of ``div F`` (dealiased) for a physical flux ``(ndim, *lead, *space)``.

        On a Neumann grid each component must vanish on the walls across its own axis
        (as ``a grad c`` does); ``flux`` may be overwritten.
        """
        grid = self.grid
        lead = flux.shape[1 : flux.ndim - grid.ndim]
        shape = (*lead, *grid.spectral_shape)
        if out is None:
            out = self.transform.empty_spectral(lead)
        coeffs = self._buffer("div", shape, self.transform.spectral_dtype)
        out[...] = 0.0
        for a in range(grid.ndim):
            if grid.periodic:
                self.transform.forward(flux[a], out=coeffs)
                coeffs *= self._grad[a]
                out += coeffs
                continue
            self.backend.execute_r2r(self._forward_kinds[a], flux[a], coeffs)
            low, high = self._shifted(a, True), self._shifted(a, False)
            part = coeffs[low]
            part *= self._div[a][high]
            out[high] += part
        return out

    def flux_divergence(
        self, a_coeffs: np.ndarray, c_coeffs: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Coefficients of ``div(a grad c)`` from the coefficients of ``a`` and ``c``."""
        grid = self.grid
        lead = c_coeffs.shape[: c_coeffs.ndim - grid.ndim]
        grad = self._buffer("flux", (grid.ndim, *lead, *grid.shape), np.float64)
        self.gradient(c_coeffs, out=grad)
        spectral = self._buffer("a_hat", a_coeffs.shape, self.transform.spectral_dtype)
        physical = self._buffer("a", (*lead, *grid.shape), np.float64)
        np.multiply(a_coeffs, self._mask, out=spectral)
        self.transform.inverse(spectral, out=physical, overwrite_input=True)
        grad *= physical
        return self.divergence(grad, out=out)
