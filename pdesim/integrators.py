"""Time integrators for semi-linear systems ``du/dt = L u + N(u, t)`` in spectral space.

``L`` is diagonal (one multiplier per mode and field, possibly complex, possibly one
per trajectory); ``N`` is any callable that writes ``N(u, t)`` into a given buffer.

ETDRK4 (Cox & Matthews, J. Comput. Phys. 176 (2002) 430) with the phi-function
coefficients of Kassam & Trefethen (SIAM J. Sci. Comput. 26 (2005) 1214), computed
by a mean over ``M`` points on a circle of radius 1 around each ``z = h L``:

    a = E2 u + Q N(u),        b = E2 u + Q N(a),        c = E2 a + Q (2 N(b) - N(u))
    u_new = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)

    E = exp(hL), E2 = exp(hL/2), Q = h <(e^{z/2} - 1)/z>,
    f1 = h <(-4 - z + e^z (4 - 3z + z^2))/z^3>, f2 = h <(2 + z + e^z (z - 2))/z^3>,
    f3 = h <(-4 - 3z - z^2 + e^z (4 - z))/z^3>.

For complex ``L`` the contour is the full circle (the half-circle-and-real-part trick
of Kassam & Trefethen only holds for real ``L``). The scheme is 4th order for non-stiff
problems and shows the known stiff order reduction (to about 3) on problems such as
Kuramoto-Sivashinsky.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pdesim.validation import require_int, require_real

Nonlinear = Callable[[np.ndarray, float, np.ndarray], None]
"""``nonlinear(state, t, out)`` writes ``N(state, t)`` into ``out`` (same shape)."""


@dataclass(frozen=True)
class ETDRK4Coefficients:
    """``E, E2, Q, f1, 2 f2, f3`` for one (linear operator, step) pair."""

    E: np.ndarray
    E2: np.ndarray
    Q: np.ndarray
    f1: np.ndarray
    f2x2: np.ndarray
    f3: np.ndarray


def etdrk4_coefficients(
    linear: np.ndarray, dt: float, contour_points: int = 32, dtype: type = np.complex128
) -> ETDRK4Coefficients:
    """Kassam-Trefethen contour-integral coefficients of ETDRK4, cast to ``dtype``.

    The mean over contour points is accumulated point by point, so memory stays at a
    few arrays of ``linear``'s shape whatever ``contour_points`` is. For a real
    ``linear`` the points lie on the upper half circle and the real part is taken (the
    lower half contributes the complex conjugate); a complex ``linear`` needs the full
    circle.
    """
    require_real("dt", dt, gt=0.0)
    require_int("contour_points", contour_points, ge=4)
    lin = np.asarray(linear)
    arc = 2.0 * np.pi if np.iscomplexobj(lin) else np.pi
    hl = dt * lin.astype(np.complex128)
    q = np.zeros_like(hl)
    f1 = np.zeros_like(hl)
    f2 = np.zeros_like(hl)
    f3 = np.zeros_like(hl)
    for j in range(1, contour_points + 1):
        z = hl + np.exp(1j * arc * (j - 0.5) / contour_points)
        ez = np.exp(z)
        q += (np.exp(z / 2) - 1.0) / z
        z3 = z**3
        f1 += (-4.0 - z + ez * (4.0 - 3.0 * z + z * z)) / z3
        f2 += (2.0 + z + ez * (z - 2.0)) / z3
        f3 += (-4.0 - 3.0 * z - z * z + ez * (4.0 - z)) / z3
    scale = dt / contour_points
    parts = [np.exp(hl), np.exp(hl / 2), q * scale, f1 * scale, 2.0 * f2 * scale, f3 * scale]
    if not np.iscomplexobj(lin):
        parts = [p.real for p in parts]
    return ETDRK4Coefficients(*(np.ascontiguousarray(p, dtype=dtype) for p in parts))


class ETDRK4:
    """Fixed-step ETDRK4 for ``du/dt = L u + N(u, t)``, in place on batched arrays.

    Coefficients are computed once here; the work buffers are allocated at the first
    step for a given state shape and reused, so the step allocates no full-size arrays.
    """

    #: Element-wise full-array operations per step outside ``nonlinear`` (each reads two
    #: arrays and writes one); the benchmark's limit model counts them.
    ELEMENTWISE_PASSES = 18

    def __init__(
        self,
        linear: np.ndarray,
        nonlinear: Nonlinear,
        dt: float,
        *,
        contour_points: int = 32,
        dtype: type = np.complex128,
    ) -> None:
        self.dt = require_real("dt", dt, gt=0.0)
        self.nonlinear = nonlinear
        self.coefficients = etdrk4_coefficients(linear, self.dt, contour_points, dtype)
        self._work: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}

    def _buffers(self, state: np.ndarray) -> tuple[np.ndarray, ...]:
        buffers = self._work.get(state.shape)
        if buffers is None:
            buffers = tuple(np.empty_like(state) for _ in range(7))
            self._work[state.shape] = buffers
        return buffers

    def step(self, u: np.ndarray, t: float) -> None:
        """Advance ``u`` (shape ``(batch, field, *modes)``) from ``t`` to ``t + dt`` in place."""
        c = self.coefficients
        h = self.dt
        nu, na, nb, nc, a, b, eu2 = self._buffers(u)
        self.nonlinear(u, t, nu)
        np.multiply(c.E2, u, out=eu2)
        np.multiply(c.Q, nu, out=a)
        a += eu2
        self.nonlinear(a, t + 0.5 * h, na)
        np.multiply(c.Q, na, out=b)
        b += eu2
        self.nonlinear(b, t + 0.5 * h, nb)
        # c = E2 a + Q (2 N(b) - N(u)), built in eu2 (no longer needed)
        np.multiply(nb, 2.0, out=eu2)
        eu2 -= nu
        eu2 *= c.Q
        a *= c.E2
        eu2 += a
        self.nonlinear(eu2, t + h, nc)
        # u = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)
        u *= c.E
        np.add(na, nb, out=a)
        a *= c.f2x2
        u += a
        np.multiply(c.f1, nu, out=b)
        u += b
        np.multiply(c.f3, nc, out=b)
        u += b
