"""Grids: box, nodes, wavenumbers, derivative symbols and dealiasing masks.

A :class:`Grid` is a box ``[x0, x0 + L)`` per axis with ``N`` points per axis and one
boundary kind for the whole box:

* ``"periodic"``: nodes ``x_j = x0 + j L / N``; fields are expanded in
  ``exp(i k x)`` with ``k = 2 pi m / L`` and stored in the real-FFT layout
  (last axis ``N // 2 + 1`` modes, the others ``N``).
* ``"neumann"``: cell-centred nodes ``x_j = x0 + (j + 1/2) L / N``; fields are
  expanded in ``cos(k x)`` with ``k = pi p / L`` (DCT-II forward, DCT-III
  inverse), so every mode satisfies ``du/dn = 0`` on the walls.

The transforms between the two are :class:`pdesim.spectral.SpectralTransform`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pdesim.validation import require_choice, require_int, require_real

BOUNDARIES = ("periodic", "neumann")
DEALIAS_RULES = ("2/3", "1/2", "none")


@dataclass(frozen=True)
class Grid:
    """A rectangular box of ``ndim`` = 1, 2 or 3 axes with one boundary kind.

    Parameters
    ----------
    lengths: box length ``L`` per axis (> 0).
    points: number of points ``N`` per axis (even, >= 4).
    boundary: ``"periodic"`` (Fourier) or ``"neumann"`` (cosine, no-flux walls).
    origin: coordinate of the box's lower corner per axis (default 0).
    """

    lengths: tuple[float, ...]
    points: tuple[int, ...]
    boundary: str = "periodic"
    origin: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        lengths = tuple(self.lengths) if np.iterable(self.lengths) else (self.lengths,)
        points = tuple(self.points) if np.iterable(self.points) else (self.points,)
        if not 1 <= len(lengths) <= 3 or len(points) != len(lengths):
            raise ValueError(
                "a Grid needs 1 to 3 axes with one length and one point count per axis, "
                f"got lengths={lengths!r} and points={points!r}"
            )
        lengths = tuple(require_real("L", v, gt=0.0) for v in lengths)
        points = tuple(require_int("N", v, ge=4, even=True) for v in points)
        require_choice("boundary", self.boundary, BOUNDARIES)
        origin = (0.0,) * len(lengths) if self.origin is None else tuple(self.origin)
        if len(origin) != len(lengths):
            raise ValueError(f"origin needs {len(lengths)} values, got {origin!r}")
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "origin", tuple(float(v) for v in origin))

    @property
    def ndim(self) -> int:
        return len(self.points)

    @property
    def periodic(self) -> bool:
        return self.boundary == "periodic"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of a field in physical space."""
        return self.points

    @property
    def spectral_shape(self) -> tuple[int, ...]:
        """Shape of a field's coefficients (real-FFT layout when periodic)."""
        if self.periodic:
            return (*self.points[:-1], self.points[-1] // 2 + 1)
        return self.points

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(length / n for length, n in zip(self.lengths, self.points, strict=True))

    @property
    def size(self) -> int:
        return int(np.prod(self.points))

    @cached_property
    def coords(self) -> tuple[np.ndarray, ...]:
        """Node coordinates per axis (cell centres for Neumann grids)."""
        shift = 0.0 if self.periodic else 0.5
        return tuple(
            x0 + (np.arange(n) + shift) * h
            for x0, n, h in zip(self.origin, self.points, self.spacing, strict=True)
        )

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Coordinate arrays of the full grid (``indexing='ij'``)."""
        return tuple(np.meshgrid(*self.coords, indexing="ij"))

    @cached_property
    def mode_indices(self) -> tuple[np.ndarray, ...]:
        """Integer mode number per axis, shaped to broadcast over the spectral shape."""
        out = []
        for axis, n in enumerate(self.points):
            if not self.periodic:
                m = np.arange(n)
            elif axis == self.ndim - 1:
                m = np.arange(n // 2 + 1)
            else:
                m = np.fft.fftfreq(n, 1.0 / n).astype(int)
            shape = [1] * self.ndim
            shape[axis] = m.size
            out.append(m.reshape(shape))
        return tuple(out)

    @cached_property
    def wavenumbers(self) -> tuple[np.ndarray, ...]:
        """Wavenumber per axis (``2 pi m / L`` periodic, ``pi p / L`` Neumann), broadcastable."""
        factor = 2.0 * np.pi if self.periodic else np.pi
        return tuple(
            factor * m / length for m, length in zip(self.mode_indices, self.lengths, strict=True)
        )

    @cached_property
    def k_squared(self) -> np.ndarray:
        """``|k|^2`` over the spectral shape (minus the Laplacian's symbol)."""
        return sum(np.broadcast_to(k**2, self.spectral_shape) for k in self.wavenumbers)

    def derivative(self, axis: int, order: int = 1) -> np.ndarray:
        """Multiplier ``(i k_axis)^order`` of a periodic grid, broadcastable.

        For odd orders the Nyquist mode is zeroed (its derivative is not real).
        """
        if not self.periodic and order % 2:
            raise ValueError(
                "odd derivatives of a cosine series are sine series; "
                "a Neumann grid has no diagonal multiplier for them"
            )
        k = self.wavenumbers[axis]
        if not self.periodic:
            return (-1.0) ** (order // 2) * k**order
        multiplier = (1j * k) ** order
        if order % 2:
            nyquist = self.points[axis] // 2
            multiplier = np.where(np.abs(self.mode_indices[axis]) == nyquist, 0.0, multiplier)
        return multiplier

    def dealias_mask(self, rule: str = "2/3") -> np.ndarray:
        """Boolean mask over the spectral shape: True where a mode is kept.

        ``"2/3"`` keeps ``|m| < N/3`` on every axis (exact for quadratic products),
        ``"1/2"`` keeps ``|m| < N/4`` (exact for cubic products), ``"none"`` keeps all.
        On a Neumann grid (an even extension to ``2N`` points) the cuts are
        ``p < 2N/3`` and ``p < N/2``.
        """
        require_choice("dealias", rule, DEALIAS_RULES)
        mask = np.ones(self.spectral_shape, dtype=bool)
        if rule == "none":
            return mask
        fraction = 1.0 / 3.0 if rule == "2/3" else 0.25
        for m, n in zip(self.mode_indices, self.points, strict=True):
            extent = n if self.periodic else 2 * n
            mask &= np.abs(m) < fraction * extent
        return mask

    def integrate(self, u: np.ndarray) -> np.ndarray:
        """Integral over the box of the last ``ndim`` axes (spectrally exact rectangle rule)."""
        axes = tuple(range(-self.ndim, 0))
        return u.sum(axis=axes) * float(np.prod(self.spacing))

    def mean(self, u: np.ndarray) -> np.ndarray:
        return u.mean(axis=tuple(range(-self.ndim, 0)))
