"""Spectral transforms of a grid: physical fields to coefficients and back.

Transforms act on the last ``grid.ndim`` axes of batched arrays shaped
``(batch, field, *space)``: real FFTs on a periodic :class:`~pdesim.grid.Grid`, DCT-II
and DCT-III on a Neumann one. The forward transform is unnormalised and the inverse
carries ``1/N`` (numpy's convention) for both kinds. The work is done by a backend of
:mod:`pdesim.fft_backends`.
"""

from __future__ import annotations

import math

import numpy as np

from pdesim.fft_backends import get_backend
from pdesim.grid import Grid
from pdesim.validation import require_int
from pdesim.work_arrays import WorkArrays


class SpectralTransform:
    """Forward/inverse transforms of a grid over the last ``grid.ndim`` axes.

    ``forward``: physical (real) -> coefficients (complex rfft layout, or real DCT-II);
    ``inverse``: coefficients -> physical with ``1/N`` normalisation.
    """

    def __init__(self, grid: Grid, backend: str | None = None) -> None:
        self.grid = grid
        self.backend = get_backend(backend)
        self._forward_kind, self._inverse_kind = (
            ("rfft", "irfft") if grid.periodic else ("dct", "idct")
        )
        self.spectral_dtype = np.complex128 if grid.periodic else np.float64
        self._scratch = WorkArrays()

    def empty_physical(self, lead: tuple[int, ...]) -> np.ndarray:
        return self.backend.empty((*lead, *self.grid.shape), np.float64)

    def empty_spectral(self, lead: tuple[int, ...]) -> np.ndarray:
        return self.backend.empty((*lead, *self.grid.spectral_shape), self.spectral_dtype)

    def _band(self, band: int | None) -> int | None:
        """``band`` validated, or None where it would prune nothing."""
        if band is None:
            return None
        if not self.grid.periodic:
            raise ValueError("parameter 'band' needs a periodic grid (rfft layout)")
        band = require_int("band", band, ge=1, le=self.grid.spectral_shape[-1])
        return band if self.grid.ndim > 1 and band < self.grid.spectral_shape[-1] else None

    def forward(
        self, u: np.ndarray, out: np.ndarray | None = None, *, band: int | None = None
    ) -> np.ndarray:
        """Forward transform. ``band``: only the first ``band`` modes of the last axis are
        wanted; the other axes are transformed for those columns only (about a sixth less
        work at the 2/3 rule in 2-D), and the remaining columns of ``out`` hold partial
        transforms, for callers that mask them."""
        lead = u.shape[: u.ndim - self.grid.ndim]
        if out is None:
            out = self.empty_spectral(lead)
        self.backend.execute(self._forward_kind, u, out, self.grid.ndim, band=self._band(band))
        return out

    @property
    def inverse_scale(self) -> float:
        """The inverse's normalisation: ``1/N`` (periodic) or ``1/(2N)`` (Neumann) per axis."""
        factor = 1 if self.grid.periodic else 2
        return 1.0 / math.prod(factor * n for n in self.grid.points)

    def inverse(
        self,
        coeffs: np.ndarray,
        out: np.ndarray | None = None,
        *,
        overwrite_input: bool = False,
        normalise: bool = True,
        band: int | None = None,
    ) -> np.ndarray:
        """Inverse transform; with ``overwrite_input=True`` ``coeffs`` may be destroyed.

        ``normalise=False`` skips the ``inverse_scale`` factor, for callers that fold it
        into a multiplier they apply anyway (one full-array pass less). ``band``: the
        coefficients vanish beyond the first ``band`` modes of the last axis, so the other
        axes are transformed for those columns only.
        """
        lead = coeffs.shape[: coeffs.ndim - self.grid.ndim]
        if out is None:
            out = self.empty_physical(lead)
        src = coeffs
        if not overwrite_input and self.backend.name == "pyfftw":
            src = self._scratch.get(coeffs.shape, self.empty_spectral, lead)
            src[...] = coeffs
        self.backend.execute(
            self._inverse_kind, src, out, self.grid.ndim, normalise, band=self._band(band)
        )
        return out
