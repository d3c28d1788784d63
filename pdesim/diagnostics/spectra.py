"""The shell-summed (isotropic) power spectrum of periodic fields.

One convention, used by the regime diagnostics and the surrogates' metrics alike
(:func:`surrogates.metrics.energy_spectrum` is this function on a grid of side
``2 pi``, truncated to complete shells).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pdesim.validation import require_int, require_real


def mode_power(field: np.ndarray, d: int) -> np.ndarray:
    """``|f_k|^2 / N^2`` of every Fourier mode over the last ``d`` axes of ``field``:
    ``f_k`` the unnormalised DFT (``numpy.fft.fftn``), ``N`` the number of modes, so the
    modes' sum is ``mean(f^2)`` (Parseval)."""
    f = np.asarray(field, dtype=np.float64)
    axes = tuple(range(-d, 0))
    n = float(np.prod(f.shape[-d:]))
    return np.abs(np.fft.fftn(f, axes=axes)) ** 2 / n**2


def isotropic_spectrum(
    field: np.ndarray, lengths: Sequence[float], n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shell-summed power spectrum ``(k, E)`` of periodic fields ``(..., n_1, ..., n_d)``,
    ``d = len(lengths)`` (1, 2 or 3), the last ``d`` axes spanning ``lengths``.

    - Normalisation: ``E[j] = sum over modes in shell j of |f_k|^2 / N^2``, ``f_k`` the
      unnormalised DFT (``numpy.fft.fftn``) over all ``N = n_1 ... n_d`` modes, both
      signs of each wavenumber. So ``E.sum(-1) = mean(f^2)`` (Parseval), the mean is
      kept (shell 0 holds ``mean(f)^2``), and a real mode ``a cos(k . x)`` puts
      ``a^2 / 2`` in its shell.
    - Wavenumbers in radians per unit length: ``k_i = 2 pi m_i / L_i``, ``m_i`` the
      signed FFT index.
    - Shells of width ``dk = 2 pi / max(lengths)``: mode ``k`` is in shell
      ``j = rint(|k| / dk)``, i.e. ``(j - 1/2) dk <= |k| <= (j + 1/2) dk``; the returned
      ``k = j dk`` are the shells' centres. By default every shell up to the grid's
      corner (``|k|`` largest) is returned; with ``n_bins`` the shells
      ``0 .. n_bins - 1``, the modes beyond summed into the last (Parseval still holds).
    """
    d = len(lengths)
    if d not in (1, 2, 3):
        raise ValueError(f"parameter 'lengths' must hold 1, 2 or 3 lengths, got {lengths!r}")
    f = np.asarray(field, dtype=np.float64)
    if f.ndim < d:
        raise ValueError(f"parameter 'field' must have >= {d} axes, got shape {f.shape}")
    ls = [require_real(f"lengths[{i}]", length, gt=0.0) for i, length in enumerate(lengths)]
    shape = f.shape[-d:]
    power = mode_power(f, d)
    ks = np.meshgrid(
        *[2 * np.pi * np.fft.fftfreq(m, length / m) for m, length in zip(shape, ls, strict=True)],
        indexing="ij",
    )
    kmag = np.sqrt(sum(k**2 for k in ks))
    dk = 2 * np.pi / max(ls)
    shells = np.rint(kmag / dk).astype(int)
    n_shells = int(shells.max()) + 1 if n_bins is None else require_int("n_bins", n_bins, ge=1)
    shells = np.minimum(shells, n_shells - 1).ravel()
    flat = power.reshape(*power.shape[:-d], -1)
    spectrum = np.zeros((*power.shape[:-d], n_shells))
    for j in range(n_shells):
        spectrum[..., j] = flat[..., shells == j].sum(axis=-1)
    return np.arange(n_shells) * dk, spectrum
