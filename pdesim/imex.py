"""Implicit-explicit (IMEX) steppers for diagonal, lower-triangular linear parts.

The system, per spectral mode and for fields ``u_0 .. u_{F-1}``::

    eps_i du_i/dt = -a_i u_i + sum_j b_ij u_j + N_i(u, t)          (eps_i >= 0)

``a_i`` is diagonal in spectral space (one multiplier per mode), ``b_ij`` couples a
field only to fields solved before it (a lower-triangular, acyclic coupling) and the
nonlinear part ``N`` is explicit. A field with ``eps_i = 0`` is an elliptic
constraint ``a_i u_i = sum_j b_ij u_j + N_i``. The linear part is implicit, so each
step is a sequence of diagonal solves in the given order:

* IMEX-Euler (first order)::

      u_i^+ = (eps_i u_i + h (sum_j b_ij u_j^+ + N_i(u))) / (eps_i + h a_i)

* SBDF2 (second order; Ascher, Ruuth & Wetton, SIAM J. Numer. Anal. 32 (1995) 797)::

      u_i^+ = (eps_i (4 u_i - u_i^-) + 2h (sum_j b_ij u_j^+ + 2 N_i(u) - N_i(u^-)))
              / (3 eps_i + 2h a_i)

  started by one IMEX-Euler step (its O(h^2) local error keeps the global order 2).
  The history (``u^-`` and ``N(u^-)``) lives in the state array itself, after the
  fields (see :meth:`IMEX.extend`), so a state can be checkpointed and resumed
  bit-identically and several states can be advanced by one integrator.

Both are asymptotic-preserving: at ``eps_i = 0`` they reduce to the exact elliptic
solve ``u_i^+ = (sum_j b_ij u_j^+ + N_i) / a_i``, and for ``eps_i > 0`` they are
unconditionally stable in the linear part, so the step is limited by ``N`` alone
however small ``eps_i`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from pdesim.validation import require_choice, require_real
from pdesim.work_arrays import WorkArrays

Nonlinear = Callable[[np.ndarray, float, np.ndarray], None]
"""``nonlinear(state, t, out)`` writes ``N`` of the fields in ``nonlinear_fields`` into
``out`` shaped ``(batch, len(nonlinear_fields), *modes)``."""

IMEX_SCHEMES = ("sbdf2", "euler")


class IMEX:
    """IMEX-Euler or SBDF2 in place on batched states built by :meth:`extend`.

    Parameters
    ----------
    eps: time-scale factor ``eps_i >= 0`` per field.
    decay: ``a_i`` per field, an array ``(field, *modes)`` (>= 0; > 0 wherever
        ``eps_i = 0``, so that every diagonal solve is invertible).
    coupling: ``{(i, j): b_ij}``, ``b_ij`` a number or an array over the modes; field
        ``j`` must come before field ``i`` in ``order``.
    nonlinear: writes ``N`` of the ``nonlinear_fields`` (see :data:`Nonlinear`).
    nonlinear_fields: indices of the fields that have an explicit term.
    dt: the step ``h`` (> 0).
    scheme: ``"sbdf2"`` or ``"euler"``.
    order: the order of the solves (default ``0 .. F-1``).

    A state is ``(batch, planes, *modes)``: the ``F`` fields, then for SBDF2 the
    previous fields, the previous ``N`` and one flag plane (its first value is 1 once
    a history exists; the first step, with no history, is an IMEX-Euler step).
    """

    def __init__(
        self,
        eps: Sequence[float],
        decay: np.ndarray,
        coupling: Mapping[tuple[int, int], float | np.ndarray],
        nonlinear: Nonlinear,
        nonlinear_fields: Sequence[int],
        dt: float,
        *,
        scheme: str = "sbdf2",
        order: Sequence[int] | None = None,
    ) -> None:
        self.dt = require_real("dt", dt, gt=0.0)
        self.scheme = require_choice("scheme", scheme, IMEX_SCHEMES)
        self.eps = tuple(require_real("eps", e, ge=0.0) for e in eps)
        n_fields = self.n_fields = len(self.eps)
        decay = np.asarray(decay, dtype=np.float64)
        if decay.shape[0] != n_fields:
            raise ValueError(f"decay needs one row per field ({n_fields}), got {decay.shape[0]}")
        if (decay < 0).any():
            raise ValueError("decay rates a_i must be >= 0")
        self.order = tuple(range(n_fields)) if order is None else tuple(order)
        if sorted(self.order) != list(range(n_fields)):
            raise ValueError(f"order must be a permutation of 0..{n_fields - 1}, got {order!r}")
        position = {field: k for k, field in enumerate(self.order)}
        self.coupling: dict[int, list[tuple[int, float | np.ndarray]]] = {
            i: [] for i in range(n_fields)
        }
        for (i, j), b in coupling.items():
            if position[j] >= position[i]:
                raise ValueError(
                    f"coupling ({i}, {j}) needs field {j} solved before field {i}; "
                    f"order is {self.order}"
                )
            self.coupling[i].append((j, b))
        self.nonlinear = nonlinear
        self.nonlinear_fields = tuple(nonlinear_fields)
        self._slot = {field: k for k, field in enumerate(self.nonlinear_fields)}
        h = self.dt
        self._inv_euler = []
        self._inv_sbdf2 = []
        for e, a in zip(self.eps, decay, strict=True):
            if e == 0 and (a <= 0).any():
                raise ValueError("a field with eps = 0 needs decay a_i > 0 on every mode")
            self._inv_euler.append(1.0 / (e + h * a))
            self._inv_sbdf2.append(1.0 / (3.0 * e + 2.0 * h * a))
        n_nl = len(self.nonlinear_fields)
        self.planes = n_fields if self.scheme == "euler" else 2 * n_fields + n_nl + 1
        self._work = WorkArrays()

    def extend(self, fields: np.ndarray) -> np.ndarray:
        """A state for ``fields`` ``(batch, F, *modes)``: the fields and an empty history."""
        state = np.zeros((fields.shape[0], self.planes, *fields.shape[2:]), dtype=fields.dtype)
        state[:, : self.n_fields] = fields
        return state

    def _buffers(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        return self._work.get(u.shape, self._make_buffers, u)

    def _make_buffers(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        nl_shape = (u.shape[0], len(self.nonlinear_fields), *u.shape[2:])
        return (
            np.empty_like(u),  # the fields at the start of the step
            np.empty(nl_shape, dtype=u.dtype),  # N of them
            np.empty((u.shape[0], *u.shape[2:]), dtype=u.dtype),  # right-hand side
        )

    def step(self, state: np.ndarray, t: float) -> None:
        """Advance ``state`` (from :meth:`extend`) from ``t`` to ``t + dt`` in place."""
        f = self.n_fields
        u = state[:, :f]
        current, nl, rhs = self._buffers(u)
        history = self.scheme == "sbdf2"
        flag = (slice(None), -1, *([0] * (state.ndim - 2)))  # first value of the flag plane
        second_order = history and bool(np.all(state[flag] == 1))
        if history:
            previous = state[:, f : 2 * f]
            nl_previous = state[:, 2 * f : 2 * f + len(self.nonlinear_fields)]
        self.nonlinear(u, t, nl)
        current[...] = u
        h = self.dt
        for i in self.order:
            e = self.eps[i]
            slot = self._slot.get(i)
            if second_order:
                # rhs = eps (4 u - u^-) + 2h (sum b u^+ + 2 N - N^-)
                if slot is not None:
                    np.multiply(nl[:, slot], 4.0 * h, out=rhs)
                    rhs -= (2.0 * h) * nl_previous[:, slot]
                else:
                    rhs[...] = 0.0
                if e:
                    rhs += (4.0 * e) * current[:, i]
                    rhs -= e * previous[:, i]
                for j, b in self.coupling[i]:
                    rhs += (2.0 * h) * (b * u[:, j])
                np.multiply(rhs, self._inv_sbdf2[i], out=u[:, i])
            else:
                # rhs = eps u + h (sum b u^+ + N)
                if slot is not None:
                    np.multiply(nl[:, slot], h, out=rhs)
                else:
                    rhs[...] = 0.0
                if e:
                    rhs += e * current[:, i]
                for j, b in self.coupling[i]:
                    rhs += h * (b * u[:, j])
                np.multiply(rhs, self._inv_euler[i], out=u[:, i])
        if history:  # the fields and N at the start of this step are the next history
            previous[...] = current
            nl_previous[...] = nl
            state[flag] = 1
