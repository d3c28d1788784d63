"""Compiled multi-step ETDRK4 for the 2-D Kuramoto-Sivashinsky equation.

Solves, in the rfft2 coefficients of the periodic square with ``N x N`` points,

    u_t = (|k|^2 - |k|^4) u - 1/2 |∇u|^2

with the scheme, coefficients and dealiasing of :class:`pdesim.integrators.ETDRK4` and
:class:`pdesim.systems.kuramoto_sivashinsky.KuramotoSivashinsky2D`:
``N(u) = S F[(F^-1 i k_x m u)^2 + (F^-1 i k_y m u)^2]``, ``m`` the dealiasing mask with
the inverse's ``1/N^2``, ``S = -1/2 mask`` folded into ``Q, f1, 2 f2, f3``; the banded
transforms of :meth:`pdesim.fft_backends.PyFFTWBackend.execute` (the leading axis is
transformed for the kept columns only). The same arithmetic as the general path, in
the same order, with FFTW doing the transforms on plans of the same layout
(:meth:`~pdesim.fft_backends.PyFFTWBackend.banded_plans_2d`): results agree to
round-off, and trajectories are stepped one at a time, so a trajectory's numbers do not
depend on the batch it is in.

Why: a 128² step is ~310 µs of FFTs, and the general path spent as much again in
element-wise passes over every mode and in Python calls (about 40 per step). Here the
stages run over the kept modes only (the others just decay, ``x = E x``: ``S`` and the
mask vanish there), the gradient and its square are each one pass, and one call runs
many steps; docs/design_decisions.md ("Small problems at the speed of their
arithmetic").
"""

from __future__ import annotations

import numpy as np

from pdesim.compiled import execute_plan
from pdesim.kernels import fused
from pdesim.systems.base import SpectralStepper, SpectralSystem
from pdesim.validation import require_int


@fused
def _nonlinear(x, rows, band, kx, ky, spectral, physical, out, control):
    """``out = F[(F^-1 i k_x x)^2 + (F^-1 i k_y x)^2]`` on the kept band (``k`` carry the
    mask and ``1/N^2``); columns from ``band`` on hold partial transforms, and the other
    rows of the band whatever the transform gives (the folded ``S`` vanishes on both)."""
    for f in range(2):
        spectral[f] = 0.0  # outside the kept modes, and the inverse destroyed its input
    for r in rows:
        for i in range(band):
            v = x[r, i]
            spectral[0, r, i] = complex(-kx[r, i] * v.imag, kx[r, i] * v.real)
        for i in range(band):
            v = x[r, i]
            spectral[1, r, i] = complex(-ky[r, i] * v.imag, ky[r, i] * v.real)
    c2c, r2c, c2r = control[0], control[1], control[2]
    execute_plan(c2c, control[3], spectral.ctypes.data, spectral.ctypes.data)
    execute_plan(c2r, control[4], spectral.ctypes.data, physical.ctypes.data)
    g0, g1 = physical[0], physical[1]
    for r in range(g0.shape[0]):
        for j in range(g0.shape[1]):
            g0[r, j] = g0[r, j] * g0[r, j] + g1[r, j] * g1[r, j]
    execute_plan(r2c, control[5], physical.ctypes.data, out.ctypes.data)
    execute_plan(c2c, control[6], out.ctypes.data, out.ctypes.data)


@fused
def _combine(e2, q, x, n, out, rows, band):
    """``out = E2 x + Q n`` on the kept modes (``E2``, ``Q`` real)."""
    for r in rows:
        for i in range(band):
            v, w = x[r, i], n[r, i]
            out[r, i] = complex(
                e2[r, i] * v.real + q[r, i] * w.real, e2[r, i] * v.imag + q[r, i] * w.imag
            )


@fused
def _advance(state, n_steps, table, rows, kept, band, control, work, physical):
    """``n_steps`` ETDRK4 steps of a C-contiguous ``state`` ``(batch, 1, N, M)``, one
    trajectory at a time.

    ``table`` = ``(E, E2, Q, f1, 2 f2, f3, k_x, k_y)``, each ``(N, M)`` and real;
    ``rows`` the kept rows of the mask (``kept`` the same as a flag per row) and
    ``band`` its kept columns (the mask is their product; ``Q, f1, 2 f2, f3`` vanish
    outside it); ``control`` = the addresses of FFTW's c2c, r2c and c2r new-array
    execute functions and of the four plans of
    :meth:`pdesim.fft_backends.PyFFTWBackend.banded_plans_2d`; ``work`` eight ``(N, M)``
    complex buffers (the last two the inverse's input), ``physical`` ``(2, N, N)``.
    Stage formulas as in :meth:`pdesim.integrators.ETDRK4.step`, a real times a complex
    number taken part by part (the same values).
    """
    e, e2, q, f1, f2x2, f3 = table[0], table[1], table[2], table[3], table[4], table[5]
    kx, ky = table[6], table[7]
    nu, na, nb, nc, a, b = work[0], work[1], work[2], work[3], work[4], work[5]
    spectral = work[6:8]
    n0, m = state.shape[2], state.shape[3]
    for t in range(state.shape[0]):
        x = state[t, 0]
        for _ in range(n_steps):
            _nonlinear(x, rows, band, kx, ky, spectral, physical, nu, control)
            _combine(e2, q, x, nu, a, rows, band)
            _nonlinear(a, rows, band, kx, ky, spectral, physical, na, control)
            _combine(e2, q, x, na, b, rows, band)
            _nonlinear(b, rows, band, kx, ky, spectral, physical, nb, control)
            for r in rows:
                for i in range(band):
                    v, w = a[r, i], 2.0 * nb[r, i] - nu[r, i]
                    b[r, i] = complex(
                        e2[r, i] * v.real + q[r, i] * w.real, e2[r, i] * v.imag + q[r, i] * w.imag
                    )
            _nonlinear(b, rows, band, kx, ky, spectral, physical, nc, control)
            for r in range(n0):
                start = band if kept[r] else 0
                for i in range(start):
                    v, w1, w2, w3 = x[r, i], nu[r, i], na[r, i] + nb[r, i], nc[r, i]
                    x[r, i] = complex(
                        e[r, i] * v.real
                        + f1[r, i] * w1.real
                        + f2x2[r, i] * w2.real
                        + f3[r, i] * w3.real,
                        e[r, i] * v.imag
                        + f1[r, i] * w1.imag
                        + f2x2[r, i] * w2.imag
                        + f3[r, i] * w3.imag,
                    )
                for i in range(start, m):
                    v = x[r, i]
                    x[r, i] = complex(e[r, i] * v.real, e[r, i] * v.imag)


def applies(system: SpectralSystem) -> bool:
    """Whether a KS2D system takes the compiled path: FFTW through pyfftw, one FFT
    thread, an even number of points per axis."""
    backend = system.transform.backend
    n0, n1 = system.grid.points
    return backend.name == "pyfftw" and backend.threads == 1 and n0 % 2 == 0 and n1 % 2 == 0


def _table(stepper: SpectralStepper) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(table, rows, band)`` of :func:`_advance`, or None where the coefficients or
    the mask are not of the form the compiled loop assumes (complex or per-trajectory
    coefficients; a mask that is not the product of kept rows and leading columns, or
    folded coefficients that do not vanish outside it)."""
    system = stepper.system
    spectral_shape = system.grid.spectral_shape
    coefficients = stepper.integrator.coefficients
    arrays = []
    for name in ("E", "E2", "Q", "f1", "f2x2", "f3"):
        value = getattr(coefficients, name)
        if np.iscomplexobj(value) or value.shape[:-2] not in ((1,), (1, 1)):
            return None
        arrays.append(value.reshape(spectral_shape))
    kx, ky, _, _ = system._multipliers
    arrays += [kx.reshape(spectral_shape), ky.reshape(spectral_shape)]
    mask = system.grid.dealias_mask(system.params.dealias)
    rows = np.flatnonzero(mask.any(axis=1))
    band = int(np.flatnonzero(mask.any(axis=0)).max()) + 1
    product = np.zeros_like(mask)
    product[np.ix_(rows, np.arange(band))] = True
    if not np.array_equal(mask, product) or any(np.any(c[~mask]) for c in arrays[2:]):
        return None
    return np.stack(arrays).astype(np.float64), rows.astype(np.intp), band


class KS2DStepper(SpectralStepper):
    """ETDRK4 for ``u_t = (|k|^2 - |k|^4) u - 1/2 |∇u|^2`` (2-D, periodic) with compiled
    steps.

    The :class:`SpectralStepper` of the system (same state, coefficients, and results
    to round-off) whose :meth:`step` and :meth:`advance` run compiled; states that are
    not C-contiguous, or coefficients of another form, go through the general path.
    """

    def __init__(self, system: SpectralSystem, dt: float) -> None:
        super().__init__(system, dt)
        found = _table(self)
        self._compiled = found is not None
        if found is None:
            return
        self._coefficients, self._rows, self._band = found
        self._kept = np.zeros(system.grid.spectral_shape[0], dtype=np.bool_)
        self._kept[self._rows] = True
        backend = system.transform.backend
        n0, n1 = system.grid.points
        plans = backend.banded_plans_2d(n0, n1, self._band, fields=2)
        r2c, c2r = backend.execute_addresses
        self._control = np.array([backend.execute_address_c2c, r2c, c2r, *plans], np.intp)
        # eight (N, M) buffers: every one starts aligned as the plans' arrays did
        self._work = backend.empty((8, *system.grid.spectral_shape), np.complex128)
        self._work[...] = 0.0
        self._physical = backend.empty((2, n0, n1), np.float64)
        self._physical[...] = 0.0

    def _run(self, state: np.ndarray, n_steps: int) -> bool:
        """``n_steps`` compiled steps where they apply; whether they did."""
        if not (self._compiled and state.flags.c_contiguous and state.ndim == 4):
            return False
        expected = (1, *self.system.grid.spectral_shape)
        if state.shape[1:] != expected:
            raise ValueError(f"states of ks2d are (batch, *{expected}), got shape {state.shape}")
        _advance(
            state,
            n_steps,
            self._coefficients,
            self._rows,
            self._kept,
            self._band,
            self._control,
            self._work,
            self._physical,
        )
        return True

    def step(self, state: np.ndarray, t: float) -> None:
        """One ETDRK4 step of ``dt``, in place, from time ``t``."""
        if not self._run(state, 1):
            super().step(state, t)

    def advance(self, state: np.ndarray, t: float, n_steps: int) -> None:
        """``n_steps`` steps of ``dt`` in place from time ``t``."""
        if type(n_steps) is not int or n_steps < 0:
            n_steps = require_int("n_steps", n_steps, ge=0)
        if not self._run(state, n_steps):
            super().advance(state, t, n_steps)
