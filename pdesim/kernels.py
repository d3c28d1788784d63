"""Fused element-wise kernels, compiled with numba.

A step of a pseudo-spectral solver is a few FFTs and many element-wise combinations of
full arrays. Written as numpy expressions every operation is one pass over memory
(``a = E2 u + Q N`` is three passes: two products and a sum, with a temporary); for the
arrays of a 256^2 grid, which live in the last-level cache rather than in L2, these
passes cost as much as the FFTs. Each kernel here makes one pass for a whole
expression, reading every operand once and writing the result once.

Conventions: state-shaped operands are 2-D ``(batch, M)`` views of C-contiguous arrays
(see :func:`rows`); coefficient operands are ``(1, M)`` (shared by the batch) or
``(batch, M)`` (one row per trajectory) and may be real where the state is complex.
Kernels are compiled once per machine (``cache=True``: the machine code is kept next to
this file's bytecode) and release the GIL. Results are deterministic: no fast-math, so
every product and sum is rounded as written.
"""

from __future__ import annotations

import numba
import numpy as np

#: The decorator of every kernel (systems use it for their own fused terms): compiled
#: once per machine and cached, GIL released, no fast-math.
fused = numba.njit(cache=True, nogil=True)


def rows(array: np.ndarray) -> np.ndarray:
    """``array`` as a ``(shape[0], -1)`` view; raises if that would need a copy."""
    view = array.view()
    view.shape = (array.shape[0], -1)  # assigning the shape never copies
    return view


@fused
def linear_combination(
    x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray, out: np.ndarray
) -> None:
    """``out = cx x + cy y``."""
    per_traj = cx.shape[0] > 1
    for b in range(x.shape[0]):
        r = b if per_traj else 0
        for i in range(x.shape[1]):
            out[b, i] = cx[r, i] * x[b, i] + cy[r, i] * y[b, i]


@fused
def scale(x: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    """``out = c x`` (``out`` may be ``x``)."""
    per_traj = c.shape[0] > 1
    for b in range(x.shape[0]):
        r = b if per_traj else 0
        for i in range(x.shape[1]):
            out[b, i] = c[r, i] * x[b, i]


@fused
def etdrk4_third_stage(
    a: np.ndarray, e2: np.ndarray, q: np.ndarray, nb: np.ndarray, nu: np.ndarray, out: np.ndarray
) -> None:
    """``out = E2 a + Q (2 N(b) - N(u))``: the third stage of Cox-Matthews ETDRK4."""
    per_traj = e2.shape[0] > 1
    for b in range(a.shape[0]):
        r = b if per_traj else 0
        for i in range(a.shape[1]):
            out[b, i] = e2[r, i] * a[b, i] + q[r, i] * (2.0 * nb[b, i] - nu[b, i])


@fused
def etdrk4_update(
    u: np.ndarray,
    e: np.ndarray,
    f1: np.ndarray,
    nu: np.ndarray,
    f2x2: np.ndarray,
    na: np.ndarray,
    nb: np.ndarray,
    f3: np.ndarray,
    nc: np.ndarray,
) -> None:
    """``u = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)`` in place."""
    per_traj = e.shape[0] > 1
    for b in range(u.shape[0]):
        r = b if per_traj else 0
        for i in range(u.shape[1]):
            u[b, i] = (
                e[r, i] * u[b, i]
                + f1[r, i] * nu[b, i]
                + f2x2[r, i] * (na[b, i] + nb[b, i])
                + f3[r, i] * nc[b, i]
            )


@fused
def derivative_pair(
    x: np.ndarray, k0: np.ndarray, k1: np.ndarray, out0: np.ndarray, out1: np.ndarray
) -> None:
    """``out0 = i k0 x`` and ``out1 = i k1 x`` for complex ``x`` and real ``k0, k1``
    (two spectral derivatives: ``i k x = -k Im x + i k Re x``). Each row of ``x`` is read
    twice while it is still in cache, one output stream at a time: measured faster than
    writing both outputs in one loop."""
    per_traj = k0.shape[0] > 1
    for b in range(x.shape[0]):
        r = b if per_traj else 0
        for i in range(x.shape[1]):
            out0[b, i] = complex(-k0[r, i] * x[b, i].imag, k0[r, i] * x[b, i].real)
        for i in range(x.shape[1]):
            out1[b, i] = complex(-k1[r, i] * x[b, i].imag, k1[r, i] * x[b, i].real)


@fused
def sum_of_squares(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``out = x^2 + y^2`` (``out`` may be ``x`` or ``y``)."""
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            out[b, i] = x[b, i] * x[b, i] + y[b, i] * y[b, i]


@fused
def product_sum(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, out: np.ndarray
) -> None:
    """``out = x0 y0 + x1 y1`` (``out`` may be any of the operands)."""
    for b in range(x0.shape[0]):
        for i in range(x0.shape[1]):
            out[b, i] = x0[b, i] * y0[b, i] + x1[b, i] * y1[b, i]
