"""Compiled multi-step ETDRK4 for small 1-D states: conservative advection systems.

Solves, in the rfft coefficients of a periodic ``[0, L)`` with ``N`` points,

    u_t = L(k) u - 1/2 (u^2)_x        (Kuramoto-Sivashinsky: L = k^2 - k^4;
                                       viscous Burgers: L = -nu k^2)

with the scheme, coefficients and dealiasing of :class:`pdesim.integrators.ETDRK4` and
:class:`pdesim.systems._advection.ConservativeAdvection1D` (``N(u) = S F[(F^-1 m u)^2]``,
``m`` the dealiasing mask with the inverse's ``1/N``, ``S = -i k mask / 2`` folded into
``Q, f1, 2 f2, f3``), and optionally its tangent dynamics ``v_t = L v + 2 S F[u v]``
for Lyapunov spectra. The same arithmetic as the general path, in the same order, with
FFTW doing the transforms: results agree to round-off (FFTW's plans for a few rows
and for the whole batch may differ in the last bits).

Why: a 64-point step is a few microseconds of arithmetic, and the general path spends
about 20 more in Python calls (some 25 kernel and FFT calls per step). Here one call
runs many steps: trajectories are taken in chunks of :data:`CHUNK_BYTES` of work
arrays, and each chunk runs all the steps while its arrays stay in the L1/L2 cache;
FFTW's new-array execute functions are called from the compiled loop on plans made
once per chunk size (:meth:`pdesim.fft_backends.PyFFTWBackend.real_plans_1d`). The
functions are compiled once per machine (numba ``cache=True``); the FFTW functions
are reached by address (:func:`execute_plan`), so nothing process-specific is compiled in.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from pdesim.integrators import ETDRK4
from pdesim.kernels import fused
from pdesim.systems.base import SpectralStepper, SpectralSystem, TangentStepper
from pdesim.validation import require_int

#: Grids of at most this many points take the compiled path (1-D); see
#: docs/design_decisions.md ("Small problems at the speed of their arithmetic").
MAX_POINTS = 16384
#: Bytes of work arrays per chunk of trajectories (22 rows at N = 64): well inside L2.
#: Chunks of 2 to 128 rows at N = 64, B = 1024 timed the same within noise.
CHUNK_BYTES = 96 * 1024


@intrinsic
def execute_plan(typingctx, function, plan, src, dst):
    """``function(plan, src, dst)`` for a C function given by its address (FFTW's
    ``fftw_execute_dft_r2c`` / ``_c2r``), the plan and the arrays' data pointers."""
    signature = types.void(types.intp, types.intp, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        pointer = ir.IntType(8).as_pointer()
        kind = ir.FunctionType(ir.VoidType(), [pointer, pointer, pointer])
        callee = builder.inttoptr(args[0], kind.as_pointer())
        builder.call(callee, [builder.inttoptr(a, pointer) for a in args[1:]])
        return context.get_dummy_value()

    return signature, codegen


@fused
def _nonlinear(x, g, band, mask, spectral, physical, out, execute, forward, inverse, tangent):
    """``out[:g] = F[(F^-1 m x)^2]`` row by row, or for ``tangent`` row 0 so and rows
    ``i >= 1`` ``F[2 (F^-1 m x_0) (F^-1 m x_i)]`` (the tangent's product, factor 2 of
    ``N'(u) v = 2 S F[u v]`` included). ``m`` vanishes from mode ``band`` on; ``out`` is
    only wanted below it (the folded factor ``S`` vanishes there too)."""
    m = x.shape[1]
    for b in range(g):
        for i in range(band):
            v = x[b, i]
            spectral[b, i] = complex(mask[i] * v.real, mask[i] * v.imag)
        for i in range(band, m):  # the inverse may have destroyed its input
            spectral[b, i] = 0.0
    execute_plan(execute[1], inverse, spectral.ctypes.data, physical.ctypes.data)
    n = physical.shape[1]
    if tangent:
        for b in range(1, g):
            for j in range(n):
                physical[b, j] = 2.0 * (physical[b, j] * physical[0, j])
        for j in range(n):
            physical[0, j] = physical[0, j] * physical[0, j]
    else:
        for b in range(g):
            for j in range(n):
                physical[b, j] = physical[b, j] * physical[b, j]
    execute_plan(execute[0], forward, physical.ctypes.data, out.ctypes.data)


@fused
def _combine(e2, x, q, n, out, g, band):
    """``out = E2 x + i q n`` on the first ``band`` modes (``E2``, ``q`` real)."""
    for r in range(g):
        for i in range(band):
            v, w = x[r, i], n[r, i]
            out[r, i] = complex(e2[i] * v.real - q[i] * w.imag, e2[i] * v.imag + q[i] * w.real)


@fused
def _buffer(work, k, rows, m):
    """Work buffer ``k`` as a ``(rows, m)`` array."""
    return work[k, : rows * m].reshape((rows, m))


@fused
def _advance(state, n_steps, table, control, tangent, work, physical):
    """``n_steps`` ETDRK4 steps of a C-contiguous ``state`` ``(batch, 1, M)``, chunk by chunk.

    ``table`` = ``(E, E2, q, f1, 2 f2, f3, m)``, ``M`` each: ``E, E2``, the imaginary
    parts of the (purely imaginary, ``S`` folded) others and the input mask; modes from
    ``band`` on only decay (``x = E x``: ``S`` and the mask vanish there). ``control`` =
    the execute functions' addresses (r2c, c2r), forward and inverse plan for ``chunk``
    rows, the same for the last chunk's rows, ``chunk``, ``band``. ``work`` holds seven
    spectral buffers of ``chunk`` rows of ``M`` (each starting SIMD-aligned), ``physical``
    is ``(chunk, N)``. Stage formulas as in :meth:`pdesim.integrators.ETDRK4.step`, a
    real times a complex number taken part by part (the same values).
    """
    batch, m = state.shape[0], state.shape[2]
    u = state.reshape((batch, m))
    e, e2, q, f1, f2x2, f3 = table[0], table[1], table[2], table[3], table[4], table[5]
    mask = table[6]
    execute, chunk, band = control[:2], control[6], control[7]
    nu, na, nb = _buffer(work, 0, chunk, m), _buffer(work, 1, chunk, m), _buffer(work, 2, chunk, m)
    nc, a, b = _buffer(work, 3, chunk, m), _buffer(work, 4, chunk, m), _buffer(work, 5, chunk, m)
    spectral = _buffer(work, 6, chunk, m)
    for start in range(0, batch, chunk):
        g = min(chunk, batch - start)
        forward, inverse = (control[2], control[3]) if g == chunk else (control[4], control[5])
        x = u[start : start + g]
        for _ in range(n_steps):
            _nonlinear(x, g, band, mask, spectral, physical, nu, execute, forward, inverse, tangent)
            _combine(e2, x, q, nu, a, g, band)
            _nonlinear(a, g, band, mask, spectral, physical, na, execute, forward, inverse, tangent)
            _combine(e2, x, q, na, b, g, band)
            _nonlinear(b, g, band, mask, spectral, physical, nb, execute, forward, inverse, tangent)
            for r in range(g):
                for i in range(band):
                    v, w = a[r, i], 2.0 * nb[r, i] - nu[r, i]
                    b[r, i] = complex(
                        e2[i] * v.real - q[i] * w.imag, e2[i] * v.imag + q[i] * w.real
                    )
            _nonlinear(b, g, band, mask, spectral, physical, nc, execute, forward, inverse, tangent)
            for r in range(g):
                for i in range(band):
                    v, w1, w2, w3 = x[r, i], nu[r, i], na[r, i] + nb[r, i], nc[r, i]
                    x[r, i] = complex(
                        e[i] * v.real - f1[i] * w1.imag - f2x2[i] * w2.imag - f3[i] * w3.imag,
                        e[i] * v.imag + f1[i] * w1.real + f2x2[i] * w2.real + f3[i] * w3.real,
                    )
                for i in range(band, m):
                    v = x[r, i]
                    x[r, i] = complex(e[i] * v.real, e[i] * v.imag)


@fused
def _finite(state: np.ndarray, out: np.ndarray) -> None:
    """``out[b]`` = whether the first (up to) 4 coefficients of trajectory ``b`` of a
    ``(batch, 1, M)`` state are finite (as :meth:`SpectralStepper.finite`)."""
    for b in range(state.shape[0]):
        ok = True
        for i in range(min(4, state.shape[2])):
            v = state[b, 0, i]
            if not (np.isfinite(v.real) and np.isfinite(v.imag)):
                ok = False
        out[b] = ok


def chunk_rows(n: int) -> int:
    """Trajectories per chunk for ``n`` grid points: seven spectral and one physical work
    array of the chunk fit in :data:`CHUNK_BYTES` (at least one row)."""
    n = require_int("n", n, ge=2)
    per_row = 7 * 16 * (n // 2 + 1) + 8 * n
    return max(1, CHUNK_BYTES // per_row)


def applies(system: SpectralSystem) -> bool:
    """Whether a 1-D conservative advection system takes the compiled path: FFTW through
    pyfftw, one FFT thread and at most :data:`MAX_POINTS` grid points."""
    backend = system.transform.backend
    return backend.name == "pyfftw" and backend.threads == 1 and system.grid.points[0] <= MAX_POINTS


def _coefficient_table(integrator: ETDRK4, mask: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The ``table`` of :func:`_advance` and the band (up to the mask's last nonzero mode),
    or None where the coefficients are not of that form (a complex ``L``, one operator
    per trajectory, a factor ``S`` that is not imaginary or not zero beyond the band)."""
    c = integrator.coefficients
    rows = []
    for name in ("E", "E2", "Q", "f1", "f2x2", "f3"):
        value = getattr(c, name)
        if value.ndim != 2 or value.shape[0] != 1:
            return None
        value = value[0]
        if name in ("E", "E2"):
            if np.iscomplexobj(value):
                return None
            rows.append(value)
        elif np.iscomplexobj(value) and not np.any(value.real):
            rows.append(value.imag)
        else:
            return None
    band = int(np.flatnonzero(mask).max()) + 1
    if any(np.any(row[band:]) for row in rows[2:]):
        return None
    return np.stack([*rows, mask]).astype(np.float64), band


class _Setup:
    """What one state shape needs: the control array (plans, chunk) and work arrays."""

    __slots__ = ("control", "physical", "work")

    def __init__(self, engine: _CompiledETDRK4, shape: tuple[int, ...], tangent: bool) -> None:
        if len(shape) != 3:
            raise ValueError(f"states of a 1-D system are (batch, 1, modes), got shape {shape}")
        engine.integrator.coefficient_rows(shape)  # checks the shape against the operator
        batch, n, m = shape[0], engine.n, shape[2]
        chunk = max(1, batch if tangent else min(batch, chunk_rows(n)))
        backend = engine.backend
        plans = backend.real_plans_1d(n, chunk) + backend.real_plans_1d(n, batch % chunk or chunk)
        self.control = np.array([*backend.execute_addresses, *plans, chunk, engine.band], np.intp)
        # rows as in the state (FFTW then plans as for the general path); each buffer
        # rounded up to 64 bytes, so that all start aligned as the plans' arrays did
        self.work = backend.empty((7, -(-chunk * m // 4) * 4), np.complex128)
        self.work[...] = 0.0
        self.physical = backend.empty((chunk, n), np.float64)
        self.physical[...] = 0.0


class _CompiledETDRK4:
    """The compiled ETDRK4 of an advection system's :class:`SpectralStepper`: its
    integrator's (folded) coefficients and the input mask, work arrays per state shape."""

    def __init__(
        self, stepper: SpectralStepper, tangent: bool, table: np.ndarray, band: int
    ) -> None:
        system = stepper.system
        self.tangent = tangent
        self.integrator = stepper.integrator
        self.backend = system.transform.backend
        self.n = system.grid.points[0]
        self.table, self.band = table, band
        self._setups: dict[tuple[int, ...], _Setup] = {}

    @classmethod
    def of(cls, stepper: SpectralStepper, tangent: bool = False) -> _CompiledETDRK4 | None:
        """The compiled ETDRK4 of ``stepper`` (of its tangent dynamics with ``tangent``),
        or None where its coefficients do not have the form the compiled loop assumes."""
        mask = np.ravel(stepper.system._advection.input_mask)
        found = _coefficient_table(stepper.integrator, mask)
        return None if found is None else cls(stepper, tangent, *found)

    def advance(self, state: np.ndarray, n_steps: int) -> None:
        setup = self._setups.get(state.shape)
        if setup is None:
            setup = self._setups[state.shape] = _Setup(self, state.shape, self.tangent)
        _advance(
            state, n_steps, self.table, setup.control, self.tangent, setup.work, setup.physical
        )


class _CompiledAdvance:
    """``advance`` in one call of the compiled engine ``self._compiled`` where it applies
    (an engine was built and the state is C-contiguous), else the general one."""

    _compiled: _CompiledETDRK4 | None

    def advance(self, state: np.ndarray, t: float, n_steps: int) -> None:
        """``n_steps`` steps of ``dt`` in place from time ``t``."""
        if type(n_steps) is not int or n_steps < 0:
            n_steps = require_int("n_steps", n_steps, ge=0)
        if self._compiled is not None and state.flags.c_contiguous:
            self._compiled.advance(state, n_steps)
        else:
            super().advance(state, t, n_steps)


class AdvectionStepper(_CompiledAdvance, SpectralStepper):
    """ETDRK4 for ``u_t = L u - 1/2 (u^2)_x`` (1-D, periodic) with compiled steps.

    The :class:`SpectralStepper` of the system (same state, coefficients, and results
    to round-off) whose :meth:`step`, :meth:`advance` and :meth:`finite` run compiled;
    states that are not C-contiguous go through the general path.
    """

    def __init__(self, system: SpectralSystem, dt: float) -> None:
        super().__init__(system, dt)
        self._compiled = _CompiledETDRK4.of(self)

    def step(self, state: np.ndarray, t: float) -> None:
        """One ETDRK4 step of ``dt``, in place, from time ``t``."""
        if self._compiled is not None and state.flags.c_contiguous:
            self._compiled.advance(state, 1)
        else:
            self.integrator.step(state, t)

    def finite(self, state: np.ndarray) -> np.ndarray:
        """Per trajectory, whether the first coefficients are finite (a compiled check)."""
        if state.ndim != 3:
            return super().finite(state)
        out = np.empty(state.shape[0], dtype=bool)
        _finite(state, out)
        return out


class AdvectionTangentStepper(_CompiledAdvance, TangentStepper):
    """:class:`pdesim.systems.base.TangentStepper` (a base state and ``m`` tangent
    vectors, ``v_t = L v + N'(u) v = L v + 2 S F[u v]``; a state ``(1 + m, 1, M)``, row 0
    the base) with compiled steps."""

    def __init__(self, system: SpectralSystem, dt: float) -> None:
        super().__init__(system, dt)
        self._compiled = _CompiledETDRK4.of(SpectralStepper(system, dt), tangent=True)
