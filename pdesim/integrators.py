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
from typing import ClassVar

import numpy as np

from pdesim.kernels import etdrk4_third_stage, etdrk4_update, linear_combination, rows
from pdesim.validation import require_int, require_real
from pdesim.work_arrays import WorkArrays

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
    linear: np.ndarray, dt: float, contour_points: int = 32
) -> ETDRK4Coefficients:
    """Kassam-Trefethen contour-integral coefficients of ETDRK4.

    The mean over contour points is accumulated point by point, so memory stays at a
    few arrays of ``linear``'s shape whatever ``contour_points`` is, and only over the
    distinct values of ``linear`` (a function of ``|k|``: far fewer than modes). For a real
    ``linear`` the points lie on the upper half circle and the real part is taken (the
    lower half contributes the complex conjugate), and the coefficients are real
    (float64: half the memory traffic of complex ones); a complex ``linear`` needs the
    full circle and gives complex coefficients.
    """
    require_real("dt", dt, gt=0.0)
    require_int("contour_points", contour_points, ge=4)
    lin = np.asarray(linear)
    arc = 2.0 * np.pi if np.iscomplexobj(lin) else np.pi
    # L(k) takes few distinct values (it depends on |k|): compute each once
    values, where = np.unique(lin, return_inverse=True)
    hl = dt * values.astype(np.complex128)
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
    return ETDRK4Coefficients(*(p[where].reshape(lin.shape) for p in parts))


def _scaled(c: ETDRK4Coefficients, scale: np.ndarray) -> ETDRK4Coefficients:
    """``c`` with the coefficients of ``N`` (``Q, f1, 2 f2, f3``) multiplied by ``scale``."""
    scale = np.asarray(scale)
    if not np.issubdtype(scale.dtype, np.number):
        raise TypeError(
            f"parameter 'nonlinear_scale' must be a numeric array, got dtype {scale.dtype}"
        )
    try:
        factors = [np.multiply(x, scale) for x in (c.Q, c.f1, c.f2x2, c.f3)]
    except ValueError:
        raise ValueError(
            f"parameter 'nonlinear_scale' of shape {scale.shape} does not broadcast with "
            f"the linear operator's shape {c.Q.shape}"
        ) from None
    return ETDRK4Coefficients(c.E, c.E2, *factors)


class ETDRK4:
    """Fixed-step ETDRK4 for ``du/dt = L u + N(u, t)``, in place on batched arrays.

    Coefficients are computed once here; the work buffers are allocated at the first
    step for a given state shape and reused, so the step allocates no full-size arrays.
    The stage combinations are fused kernels (:mod:`pdesim.kernels`): each stage is one
    pass over memory.

    ``linear`` has the shape of one trajectory's state (``(field, *modes)``, or any shape
    that broadcasts to it) or of the whole batch (``(batch, field, *modes)``: one
    operator per trajectory).

    ``nonlinear_scale`` ``S`` (shaped like ``linear``) makes the scheme solve
    ``du/dt = L u + S N(u, t)``: ``S`` is folded into ``Q, f1, f2, f3``, so a system whose
    nonlinear term ends with a diagonal multiplier (the dealiasing mask, a constant, a
    derivative ``i k``) leaves that multiplication out and saves one full pass per
    evaluation. A complex ``S`` makes those coefficients complex.
    """

    #: Full-array reads and writes per step outside ``nonlinear``, which the benchmark's
    #: limit model prices: state-shaped arrays, and reads of each coefficient (one row
    #: per trajectory). Stages a and b read u, N and E2, Q and write one array; stage c
    #: reads a, N(b), N(u) and E2, Q and writes c; the update reads u, four N's and
    #: E, f1, 2 f2, f3 and writes u.
    STATE_TRAFFIC: ClassVar[int] = 3 + 3 + 4 + 6
    COEFFICIENT_READS: ClassVar[dict[str, int]] = {
        "E": 1,
        "E2": 3,
        "Q": 3,
        "f1": 1,
        "f2x2": 1,
        "f3": 1,
    }

    def __init__(
        self,
        linear: np.ndarray,
        nonlinear: Nonlinear,
        dt: float,
        *,
        nonlinear_scale: np.ndarray | None = None,
        contour_points: int = 32,
        empty: Callable[[tuple[int, ...], type], np.ndarray] = np.empty,
    ) -> None:
        self.dt = require_real("dt", dt, gt=0.0)
        self.nonlinear = nonlinear
        self.coefficients = etdrk4_coefficients(linear, self.dt, contour_points)
        if nonlinear_scale is not None:
            self.coefficients = _scaled(self.coefficients, nonlinear_scale)
        self._empty = empty  # the FFT backend's allocator keeps buffers SIMD-aligned
        self._work = WorkArrays()
        self._rows: dict[tuple[int, ...], ETDRK4Coefficients] = {}

    def _buffers(self, state: np.ndarray) -> tuple[np.ndarray, ...]:
        """Six work arrays of the state's shape followed by their ``(batch, M)`` row views."""
        return self._work.get(state.shape, self._make_buffers, state.shape, state.dtype)

    def _make_buffers(self, shape: tuple[int, ...], dtype: type) -> tuple[np.ndarray, ...]:
        arrays = tuple(self._empty(shape, dtype) for _ in range(6))
        return arrays + tuple(rows(x) for x in arrays)

    def coefficient_rows(self, shape: tuple[int, ...]) -> ETDRK4Coefficients:
        """The coefficients as ``(1 or batch, M)`` rows matching states of ``shape``."""
        found = self._rows.get(shape)
        if found is None:
            arrays = []
            for c in vars(self.coefficients).values():
                if c.ndim == len(shape) and c.shape[0] not in (1, shape[0]):
                    raise ValueError(
                        f"linear operator of shape {c.shape} does not fit states of shape {shape}"
                    )
                lead = c.shape[0] if c.ndim == len(shape) else 1
                full = np.broadcast_to(c, (lead, *shape[1:]))
                arrays.append(np.ascontiguousarray(full).reshape(lead, -1))
            found = self._rows[shape] = ETDRK4Coefficients(*arrays)
        return found

    def step(self, u: np.ndarray, t: float) -> None:
        """Advance ``u`` (shape ``(batch, field, *modes)``) from ``t`` to ``t + dt`` in place."""
        c = self.coefficient_rows(u.shape)
        h = self.dt
        nu, na, nb, nc, a, b, nu2, na2, nb2, nc2, a2, b2 = self._buffers(u)
        u2 = rows(u)
        self.nonlinear(u, t, nu)
        linear_combination(u2, c.E2, nu2, c.Q, a2)  # a = E2 u + Q N(u)
        self.nonlinear(a, t + 0.5 * h, na)
        linear_combination(u2, c.E2, na2, c.Q, b2)  # b = E2 u + Q N(a)
        self.nonlinear(b, t + 0.5 * h, nb)
        etdrk4_third_stage(a2, c.E2, c.Q, nb2, nu2, b2)  # c, built in b (no longer needed)
        self.nonlinear(b, t + h, nc)
        etdrk4_update(u2, c.E, c.f1, nu2, c.f2x2, na2, nb2, c.f3, nc2)


# --------------------------------------------------------------------------- IF-DP5(4)

#: Dormand-Prince 5(4) tableau (Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19).
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
#: 5th-order weights (= the last row of A: first same as last) minus the embedded 4th-order ones.
_DP_E = (
    35 / 384 - 5179 / 57600,
    0.0,
    500 / 1113 - 7571 / 16695,
    125 / 192 - 393 / 640,
    -2187 / 6784 + 92097 / 339200,
    11 / 84 - 187 / 2100,
    -1 / 40,
)


class StepSizeUnderflow(FloatingPointError):
    """The adaptive step shrank below its floor: the solution is not resolvable (blow-up)."""

    def __init__(self, time: float, h: float) -> None:
        self.time = time
        self.h = h
        super().__init__(f"adaptive step size fell to {h:.3g} at t = {time:g}")


class IFDP5:
    """Integrating-factor Dormand-Prince 5(4) with embedded error control.

    Solves ``du/dt = L u + N(u, t)`` (``L`` diagonal) by applying the Dormand-Prince
    pair to ``w(s) = exp(-(s - t_n) L) u(s)`` on each step, so the stiff linear part is
    integrated exactly and only ``N`` limits the step (Lawson's integrating-factor RK).
    In terms of ``u`` a step of size ``h`` from ``t_n`` reads

        U_i = e^{c_i h L} u_n + h sum_{j<i} a_ij e^{(c_i - c_j) h L} N(U_j, t_n + c_j h)
        u_{n+1} = U_7,  err = h sum_j e_j e^{(1 - c_j) h L} N(U_j, t_n + c_j h)

    (only decaying exponentials ``c_i >= c_j`` appear). The step is accepted when
    ``||err|| <= 1`` in the norm ``sqrt(mean((|err| / (atol + rtol max(|u_n|, |u_{n+1}|)))^2))``
    taken per trajectory (the first axis) and maximised over the batch, so one step
    size serves the whole batch; otherwise it is rejected (``n_rejected`` counts them)
    and retried with ``h * max(0.2, 0.9 ||err||^{-1/5})``. Accepted steps grow ``h`` by
    ``0.9 ||err||^{-1/5}`` clipped to [0.2, 10] (no growth right after a rejection).
    :meth:`advance` lands exactly on its end time by shortening the last step, and
    remembers the unshortened proposal for the next call; the stage evaluation at the
    new point is reused (first-same-as-last), also by the next call when it starts
    from the state and time the last one ended at (checked bit for bit).
    ``n_evaluations`` counts evaluations of ``N``.

    Parameters: ``rtol``, ``atol`` (> 0), ``h0`` (first trial step; default from
    Hairer, Norsett & Wanner's starting-step heuristic), ``h_min`` (relative floor:
    :class:`StepSizeUnderflow` is raised when ``h < h_min * max(1, |t|)``).
    """

    def __init__(
        self,
        linear: np.ndarray,
        nonlinear: Nonlinear,
        *,
        rtol: float = 1e-6,
        atol: float = 1e-9,
        h0: float | None = None,
        h_min: float = 1e-12,
    ) -> None:
        self.rtol = require_real("rtol", rtol, gt=0.0)
        self.atol = require_real("atol", atol, gt=0.0)
        self.h = None if h0 is None else require_real("h0", h0, gt=0.0)
        self.h_min = require_real("h_min", h_min, gt=0.0)
        self.linear = np.asarray(linear)
        self.nonlinear = nonlinear
        self.n_accepted = 0
        self.n_rejected = 0
        self.n_evaluations = 0
        self._exp_h: float | None = None
        self._exps: dict[tuple[float, float], np.ndarray] = {}
        self._work = WorkArrays()
        self._ended_at: dict[tuple[int, ...], float] = {}

    # -- state for checkpoints: everything that decides the next steps
    def get_state(self) -> dict[str, float | int | None]:
        return {
            "h": self.h,
            "n_accepted": self.n_accepted,
            "n_rejected": self.n_rejected,
            "n_evaluations": self.n_evaluations,
        }

    def set_state(self, state: dict[str, float | int | None]) -> None:
        self.h = None if state["h"] is None else float(state["h"])
        self.n_accepted = int(state["n_accepted"])
        self.n_rejected = int(state["n_rejected"])
        self.n_evaluations = int(state["n_evaluations"])

    def _buffers(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        return self._work.get(u.shape, self._make_buffers, u)

    @staticmethod
    def _make_buffers(u: np.ndarray) -> tuple[np.ndarray, ...]:
        # N at 7 stages, U_i, error, a term, the state at the end of the last call
        return tuple(np.empty_like(u) for _ in range(11))

    def _exp(self, fraction: float, h: float, scale: float = 1.0) -> np.ndarray:
        """``scale exp(fraction h L)``, cached for the current ``h`` (retries reuse it)."""
        if self._exp_h != h:
            self._exps = {}
            self._exp_h = h
        key = (round(fraction, 14), scale)
        value = self._exps.get(key)
        if value is None:
            value = np.exp((fraction * h) * self.linear)
            if scale != 1.0:
                value *= scale
            self._exps[key] = value
        return value

    def _norm(self, err: np.ndarray, u0: np.ndarray, u1: np.ndarray) -> float:
        scale = np.maximum(np.abs(u0), np.abs(u1))
        ratio = np.abs(err) / (self.atol + self.rtol * scale)
        per_traj = np.sqrt(np.mean(ratio.reshape(ratio.shape[0], -1) ** 2, axis=1))
        return float(per_traj.max())

    def _initial_step(self, u: np.ndarray, k0: np.ndarray, t: float, span: float) -> float:
        scale = self.atol + self.rtol * np.abs(u)
        d0 = float(np.sqrt(np.mean((np.abs(u) / scale) ** 2)))
        d1 = float(np.sqrt(np.mean((np.abs(k0) / scale) ** 2)))
        h = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        return min(h, span)

    def _attempt(self, u: np.ndarray, t: float, h: float, k: tuple[np.ndarray, ...]) -> float:
        """One trial step from ``u`` (not modified): ``U_7`` into ``k[7]``, returns ``||err||``."""
        stage, err, term = k[7], k[8], k[9]
        for i in range(1, 7):
            np.multiply(self._exp(_DP_C[i], h), u, out=stage)
            for j, a in enumerate(_DP_A[i]):
                if a:
                    np.multiply(self._exp(_DP_C[i] - _DP_C[j], h, h * a), k[j], out=term)
                    stage += term
            if i < 6:
                self.nonlinear(stage, t + _DP_C[i] * h, k[i])
            else:  # U_7 is the new state; N(U_7) is the next step's first stage
                self.nonlinear(stage, t + h, k[6])
            self.n_evaluations += 1
        err.fill(0.0)
        for j, e in enumerate(_DP_E):
            if e:
                np.multiply(self._exp(1.0 - _DP_C[j], h, h * e), k[j], out=term)
                err += term
        return self._norm(err, u, stage)

    def advance(self, u: np.ndarray, t: float, t_end: float) -> None:
        """Advance ``u`` in place from ``t`` to exactly ``t_end`` with accepted steps only."""
        span = t_end - t
        if span <= 0:
            return
        k = self._buffers(u)
        # First same as last across calls too: N(u) is still in k[0] if ``u`` is the state
        # (bit for bit) and ``t`` the time at which the previous call ended.
        if self._ended_at.get(u.shape) != t or not np.array_equal(k[10], u):
            self.nonlinear(u, t, k[0])
            self.n_evaluations += 1
        if self.h is None:
            self.h = self._initial_step(u, k[0], t, span)
        while t < t_end:
            remaining = t_end - t
            last = self.h >= remaining * (1.0 - 1e-12)
            h = remaining if last else self.h
            rejected = False
            while True:
                norm = self._attempt(u, t, h, k)
                if np.isfinite(norm) and norm <= 1.0:
                    break
                self.n_rejected += 1
                rejected = True
                factor = 0.2 if not np.isfinite(norm) else max(0.2, 0.9 * norm**-0.2)
                h *= factor
                last = False
                if h < self.h_min * max(1.0, abs(t)):
                    raise StepSizeUnderflow(t, h)
            self.n_accepted += 1
            u[...] = k[7]
            k[0][...] = k[6]
            t = t_end if last else t + h
            growth = 10.0 if norm == 0 else min(10.0, max(0.2, 0.9 * norm**-0.2))
            proposal = h * (min(1.0, growth) if rejected else growth)
            if not last or proposal < self.h:
                self.h = proposal
        k[10][...] = u
        self._ended_at[u.shape] = t_end
