"""A per-Fourier-mode output head: a spectral AR(1) plus a whitened network residual.

Walrus scales its predicted change by one number per field (the delta scale ``d``).
On a periodic grid whose spectrum spans many decades (KS: 14 decades of energy from
k = 2 to the 2/3 cut-off) one scale leaves the network's output with a flat error
floor of ~1e-3 per mode, far above the truth's high modes. This head scales per
mode instead, with statistics fitted once on the training split:

    û_{t+1}(k) / d = a(k) ũ_t(k) / d + w(k) ŷ_t(k)

with ``û`` the orthonormal real FFT over the spatial axes, ``ũ_t`` the input frame
(with the training's input noise), ``ŷ`` the FFT of the network's (unjittered)
output, ``a(k) = E|û_t|² / E|ũ_t|²`` the Wiener factor of mode k (clean over noisy
power over training windows, in units of each window's ``d``) and ``w(k)`` the RMS
of what it leaves, ``sqrt(E|û_{t+1} - a ũ_t|²)``, floored at :data:`FLOOR` times its
largest value. Both are fixed buffers (saved with the weights). ``a`` is ~1 on the
modes far above the noise, where the network predicts the change (as Walrus does),
and ~0 on the modes below it, where the network predicts the next value itself: on
KS those are the slaved high modes, whose input value carries nothing the noise
leaves and whose errors the true dynamics forget within a frame. Without input noise
``a = 1`` everywhere. (The least-squares persistence ``Re E[û_{t+1} ũ_t*] /
E|ũ_t|²`` instead would put the energetic modes at 0.98 and bias a rollout whose
network output falls short towards decay: measured on KS1D, 14-21 of 32 rollouts
collapsed at 1 000 steps.) The network's output is then in
*whitened* coordinates: every mode of ``y`` has unit variance in the data, so an O(1)
error of the network at a mode is an error of the size of that mode's own variation,
not of the field's. With ``a = 1, w = 1`` (the buffers' initial values) the head is
the identity and the model is Walrus's ``u_{t+1} = u_t + d y``.

:meth:`SpectralHead.whitened_l1` measures an error in the same coordinates, on the
resolved band ``|k_i| <= n_i / 3`` of every axis: the training loss
``--whitened-loss`` weighs it, so the slaved high modes are trained at their own
scale instead of being left to the decoder's floor. Modes the training data holds at
round-off (a conserved zero mean, the modes a dealiased solver zeroes) get the
floored gain and are left out of that measure.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

#: ``w(k)`` is floored at this fraction of its largest value: about float32's relative
#: resolution (2^-23 = 1.2e-7), below which a mode of float32 data is round-off (a
#: conserved mean, the modes a dealiased solver zeroes).
FLOOR = 1e-7


def rfft_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the real FFT over spatial axes of ``shape``."""
    return (*shape[:-1], shape[-1] // 2 + 1)


def resolved_band(shape: tuple[int, ...]) -> torch.Tensor:
    """Boolean mask over :func:`rfft_shape` of the modes with ``|k_i| <= n_i // 3`` on
    every axis (the 2/3 rule's band)."""
    axes = [np.abs(np.fft.fftfreq(n, 1.0 / n)) for n in shape[:-1]]
    axes.append(np.arange(shape[-1] // 2 + 1))
    grids = np.meshgrid(*axes, indexing="ij")
    mask = np.ones(rfft_shape(shape), bool)
    for g, n in zip(grids, shape, strict=True):
        mask &= g <= n // 3
    return torch.from_numpy(mask)


class SpectralHead(nn.Module):
    """The head for fields ``n_fields`` on a periodic grid of ``shape`` (module
    docstring). Buffers ``persistence`` and ``gain`` are ``(n_fields, *rfft_shape)``."""

    def __init__(self, n_fields: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)
        modes = rfft_shape(self.shape)
        self.register_buffer("persistence", torch.ones(n_fields, *modes))
        self.register_buffer("gain", torch.ones(n_fields, *modes))
        self.register_buffer("band", resolved_band(self.shape), persistent=False)

    def _dims(self) -> tuple[int, ...]:
        return tuple(range(-len(self.shape), 0))

    def forward(self, out: torch.Tensor, last: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The normalised change ``(u_{t+1} - u_t) / d`` of the network output ``out``
        and the normalised frames ``last = u_t / d``, both ``(N, C, *shape)``, for the
        fields ``rows`` of the buffers."""
        dims = self._dims()
        spec = (self.persistence[rows] - 1) * torch.fft.rfftn(last, dim=dims, norm="ortho")
        spec = spec + self.gain[rows] * torch.fft.rfftn(out, dim=dims, norm="ortho")
        return torch.fft.irfftn(spec, s=self.shape, dim=dims, norm="ortho")

    def whitened_l1(self, error: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The mean modulus of the whitened coefficients ``û(error) / w`` of a
        normalised-change error ``(N, C, *shape)`` over the modes of the resolved band
        whose gain is above its floor (modes the data never moves carry no signal)."""
        gain = self.gain[rows]
        peak = gain.flatten(1).amax(1).view(-1, *[1] * len(self.shape))
        active = self.band & (gain > 2 * FLOOR * peak)
        spec = torch.fft.rfftn(error, dim=self._dims(), norm="ortho") / gain
        return (spec.abs() * active).sum() / (active.sum() * error.shape[0])

    @torch.no_grad()
    def fit(
        self, triples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], rows: torch.Tensor
    ) -> None:
        """Set the buffers of the fields ``rows`` from ``(clean u_t, noisy u_t, u_{t+1})``
        triples of normalised frames, each ``(N, C, *shape)``: the persistence is the
        Wiener factor ``E|û_t|² / E|ũ_t|²`` (clean over noisy power), the gain the RMS of
        ``û_{t+1} - a ũ_t`` (in float64, then stored)."""
        dims = self._dims()
        clean_power = noisy_power = 0.0
        spectra = []
        for clean, noisy, nxt in triples:
            a = torch.fft.rfftn(noisy.double(), dim=dims, norm="ortho")
            b = torch.fft.rfftn(nxt.double(), dim=dims, norm="ortho")
            clean_power = clean_power + torch.fft.rfftn(
                clean.double(), dim=dims, norm="ortho"
            ).abs().pow(2).sum(0)
            noisy_power = noisy_power + a.abs().pow(2).sum(0)
            spectra.append((a, b))
        persistence = clean_power / noisy_power.clamp_min(torch.finfo(torch.float64).tiny)
        count = sum(a.shape[0] for a, _ in spectra)
        residual = sum((b - persistence * a).abs().pow(2).sum(0) for a, b in spectra)
        gain = (residual / count).sqrt()
        flat = gain.flatten(1).amax(1).clamp_min(math.ulp(1.0))
        gain = torch.maximum(gain, FLOOR * flat.view(-1, *[1] * len(self.shape)))
        self.persistence[rows] = persistence.to(self.persistence)
        self.gain[rows] = gain.to(self.gain)
