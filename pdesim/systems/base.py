"""What every system offers the simulation driver, and the shared pseudo-spectral part.

A system is a parameter dataclass (validated on construction), the names of its
fields, its named initial conditions and a *stepper* for a given time step. The
driver (:mod:`pdesim.simulate`) only talks to that interface, so a PDE integrated in
spectral space and a map on a graph run through the same code.

States handed between the driver and a stepper are batched: physical fields are
``float64`` arrays ``(batch, field, *space)``; a stepper's internal state may be
anything (spectral coefficients for PDEs).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.fft

from pdesim.grid import Grid
from pdesim.integrators import ETDRK4, Nonlinear
from pdesim.spectral import SpectralTransform
from pdesim.validation import plain, require_choice
from pdesim.work_arrays import WorkArrays


def parameter(default: Any, doc: str, allowed: str) -> Any:
    """A dataclass field carrying the documentation ``pdesim list`` shows."""
    return dataclasses.field(default=default, metadata={"doc": doc, "allowed": allowed})


def redefault(base: type, name: str, default: Any, **meta: str) -> Any:
    """The parameter ``name`` of the dataclass ``base`` with another default.

    Its ``doc`` and ``allowed`` stay the base's unless given in ``meta``, so a
    subclass states only what differs. Redeclared in a subclass, the field keeps the
    base's position.
    """
    unknown = set(meta) - {"doc", "allowed"}
    if unknown:
        raise TypeError(f"redefault() takes doc and allowed, got {', '.join(sorted(unknown))}")
    inherited = base.__dataclass_fields__[name].metadata
    return parameter(
        default, meta.get("doc", inherited["doc"]), meta.get("allowed", inherited["allowed"])
    )


class Stepper(Protocol):
    """What :func:`pdesim.simulate` needs to advance a batch of trajectories.

    A stepper comes from :meth:`System.make_stepper` for one time step ``dt`` and is
    the exponax-like way to drive a system by hand; :func:`pdesim.simulate` runs
    exactly this loop (and gives the same numbers)::

        stepper = system.make_stepper(dt)
        state = stepper.to_state(fields)  # fields: float64 (batch, field, *space)
        for n in range(n_steps):
            stepper.step(state, n * dt)  # in place, from t = n dt to (n + 1) dt
        stepper.to_fields(state, fields)  # fields now hold t = n_steps dt

    The state is the stepper's own representation (spectral coefficients for PDEs,
    the fields themselves for maps): treat it as opaque, go through
    :meth:`to_fields` to look at it. A stepper whose next steps depend on more than
    the state (an adaptive step size) also has ``get_state()`` / ``set_state(dict)``,
    which checkpoints store. A stepper may also have ``advance(state, t, n_steps)``:
    ``n_steps`` steps in one call, with the numbers of as many calls of :meth:`step`
    (:meth:`SpectralStepper.advance`); :func:`pdesim.simulate` then calls it between
    the events of a run, if the stepper has no ``get_state``.
    """

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        """A new state from physical fields ``(batch, field, *space)`` (``fields`` is
        left unchanged)."""
        ...

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        """Write the physical fields of ``state`` into ``out``, a float64 array
        ``(batch, field, *space)``; ``state`` is left unchanged."""
        ...

    def step(self, state: np.ndarray, t: float) -> None:
        """Advance ``state`` in place from time ``t`` to ``t + dt`` (``t`` matters only
        to non-autonomous systems)."""
        ...

    def finite(self, state: np.ndarray) -> np.ndarray:
        """Per trajectory, whether ``state`` is still finite: a boolean ``(batch,)``
        array (a cheap check, run after every step or stretch of ``advance``)."""
        ...


class System(ABC):
    """A dynamical system with validated parameters and named initial conditions."""

    name: ClassVar[str]
    summary: ClassVar[str]
    field_names: ClassVar[tuple[str, ...]]
    #: Names accepted by :meth:`initial_condition`; the first is the default.
    initial_conditions: ClassVar[tuple[str, ...]]
    Params: ClassVar[type]
    #: ``max |field|`` beyond which a trajectory counts as diverged.
    blowup_threshold: ClassVar[float] = 1e6
    #: A time step that is accurate for the default parameters (used by the CLI).
    default_dt: ClassVar[float]
    #: Named parameter sets (e.g. published configurations); see :meth:`from_preset`.
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Time-stepping methods :meth:`make_stepper` accepts; the first is the default.
    methods: ClassVar[tuple[str, ...]] = ("etdrk4",)
    #: Names of the per-trajectory, time-varying scalars :meth:`dataset_frame` returns.
    dataset_scalars: ClassVar[tuple[str, ...]] = ()

    # Capabilities: what diagnostics apply, declared here instead of checked by name.
    #: The field pair ``(u, v)`` whose phase angle ``arg(u + i v)`` rotates about the
    #: origin (spiral rotation frequency and phase defects are measured on it), or None.
    phase_fields: ClassVar[tuple[str, str] | None] = None
    #: True where :meth:`SpectralSystem.nonlinear_tangent` is implemented, so that
    #: :func:`pdesim.diagnostics.lyapunov_spectrum` applies.
    has_tangent_dynamics: ClassVar[bool] = False
    #: The name of the regime classifier (a key of
    #: :data:`pdesim.diagnostics.regimes.REGIME_CLASSIFIERS`) that applies, or None.
    regime_classifier: ClassVar[str | None] = None

    #: Former parameter names and their names now (``{"n": "N"}``): refused with a
    #: message that names the new one, so an old script or recipe fails loudly.
    renamed_parameters: ClassVar[dict[str, str]] = {}
    #: Former values of choice parameters, ``{parameter: {old: new}}``: refused likewise.
    renamed_values: ClassVar[dict[str, dict[str, str]]] = {}

    def __init__(self, **params: Any) -> None:
        """Validate ``params`` (numpy scalars are taken as the Python numbers they hold,
        and stored so: :func:`pdesim.validation.plain`)."""
        params = {key: plain(value) for key, value in params.items()}
        self._refuse_old_spellings(params)
        allowed = [f.name for f in dataclasses.fields(self.Params)]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(
                f"system {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters are {', '.join(allowed)}"
            )
        self.params = self.Params(**params)

    @classmethod
    def current_spelling(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with renamed parameters and values under their current names: for
        records written before a rename (files); user input is refused instead."""
        out = {cls.renamed_parameters.get(k, k): v for k, v in params.items()}
        for name, renamed in cls.renamed_values.items():
            value = out.get(name)
            if isinstance(value, str) and value in renamed:
                out[name] = renamed[value]
        return out

    @classmethod
    def _refuse_old_spellings(cls, params: dict[str, Any]) -> None:
        """Raise where ``params`` uses a name or value listed as renamed."""
        for old in params:
            if old in cls.renamed_parameters:
                raise TypeError(
                    f"parameter {old!r} of system {cls.name!r} is now called "
                    f"{cls.renamed_parameters[old]!r}"
                )
        for name, renamed in cls.renamed_values.items():
            value = params.get(name)
            if isinstance(value, str) and value in renamed:
                raise ValueError(
                    f"value {value!r} of parameter {name!r} of system {cls.name!r} is now "
                    f"called {renamed[value]!r}"
                )

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> System:
        """The system with a named parameter set, individual values overridden."""
        if not cls.presets:
            raise ValueError(f"system {cls.name!r} has no presets; got preset={preset!r}")
        require_choice("preset", preset, cls.presets)
        return cls(**{**cls.presets[preset], **overrides})

    @property
    @abstractmethod
    def grid(self) -> Grid: ...

    @property
    def n_fields(self) -> int:
        return len(self.field_names)

    def params_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params)

    @classmethod
    def parameter_table(cls) -> list[dict[str, Any]]:
        """Name, default, allowed range and meaning of every parameter."""
        return [
            {
                "name": f.name,
                "default": f.default,
                "allowed": f.metadata.get("allowed", ""),
                "doc": f.metadata.get("doc", ""),
            }
            for f in dataclasses.fields(cls.Params)
        ]

    def initial_condition(self, name: str, rng: np.random.Generator) -> np.ndarray:
        """One trajectory's initial fields ``(field, *space)`` from the named family."""
        require_choice("initial", name, self.initial_conditions)
        return np.asarray(getattr(self, "_initial_" + name)(rng), dtype=np.float64)

    @abstractmethod
    def make_stepper(self, dt: float, method: str | None = None) -> Stepper:
        """A :class:`Stepper` advancing batches by ``dt`` with one of :attr:`methods`
        (default the first). Build it once per ``dt``: its setup (e.g. ETDRK4's
        coefficients) is the expensive part."""

    def dataset_frame(self, frame: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """What files store for a frame ``(batch, field, *space)``: the fields and the
        scalars named in :attr:`dataset_scalars` (each shaped ``(batch,)``). Identity here."""
        return frame, {}

    def frame_problems(self, frame: np.ndarray) -> list[str | None]:
        """Why each trajectory of a saved frame ``(batch, field, *space)`` is unusable, or None.

        The default flags non-finite values and ``max |field|`` beyond
        :attr:`blowup_threshold`; systems add their own checks (positivity, resolution).
        """
        flat = np.abs(frame.reshape(frame.shape[0], -1))
        if flat.max() <= self.blowup_threshold:  # the common case at once (NaN compares False)
            return [None] * frame.shape[0]
        peak = flat.max(axis=1)
        problems: list[str | None] = []
        for value in peak:
            if not np.isfinite(value):
                problems.append("non-finite state")
            elif value > self.blowup_threshold:
                problems.append(f"max |field| = {value:.3g} exceeds {self.blowup_threshold:g}")
            else:
                problems.append(None)
        return problems

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params_dict().items())
        return f"{type(self).__name__}({args})"


class SpectralSystem(System):
    """A semi-linear PDE ``du/dt = L u + N(u)`` solved pseudo-spectrally.

    Subclasses give the grid, the diagonal linear operator ``L`` (shape
    ``(field, *spectral_shape)``) and ``N`` evaluated in spectral space; for Lyapunov
    exponents also the tangent map ``N'(u) v``. docs/writing_a_system.md walks through
    one (:mod:`pdesim.systems.ginzburg_landau`).
    """

    #: True when adding a constant to the fields changes nothing else (the mean is
    #: conserved or drifts passively): Lyapunov spectra are then computed modulo the
    #: mean, which would otherwise appear as a spurious zero exponent.
    mean_is_neutral: ClassVar[bool] = False

    @cached_property
    def transform(self) -> SpectralTransform:
        return SpectralTransform(self.grid)

    @abstractmethod
    def linear_operator(self) -> np.ndarray:
        """The diagonal ``L``: one multiplier per field and mode, shape
        ``(field, *grid.spectral_shape)`` (or broadcastable to it), real or complex.
        ETDRK4 integrates it exactly, so the stiff (highest-derivative) terms go here."""

    @abstractmethod
    def nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        """Write ``N(state, t)`` into ``out``; both are states ``(batch, field,
        *spectral_shape)`` of the stepper's representation. Typically: to the grid,
        evaluate pointwise, back (dealiased). Called four times per ETDRK4 step."""

    def nonlinear_tangent(self, state: np.ndarray, tangent: np.ndarray, out: np.ndarray) -> None:
        """Write ``N'(u) v`` for a base state ``(1, F, ...)`` and tangents ``(m, F, ...)``.

        Systems that implement it set :attr:`has_tangent_dynamics`.
        """
        raise NotImplementedError(f"{self.name} has no tangent dynamics")

    def nonlinear_factors(self) -> tuple[Nonlinear, np.ndarray | None]:
        """``(N~, S)`` with ``N(u) = S N~(u)`` for a diagonal ``S``, or ``(N, None)``.

        A system whose ``N`` ends with a diagonal multiplier (dealiasing mask, constant)
        returns the term before it and the multiplier: the stepper folds ``S`` into the
        ETDRK4 coefficients and saves a full pass per evaluation.
        """
        return self.nonlinear, None

    def make_stepper(self, dt: float, method: str | None = None) -> SpectralStepper:
        """ETDRK4 with step ``dt`` on the coefficients of :attr:`transform`."""
        require_choice("method", method or self.methods[0], self.methods)
        return SpectralStepper(self, dt)

    def make_tangent_stepper(self, dt: float) -> TangentStepper:
        """ETDRK4 with step ``dt`` on the augmented system of a base state and tangent
        vectors (:class:`TangentStepper`), for Lyapunov spectra."""
        if not self.has_tangent_dynamics:
            raise ValueError(f"{self.name} has no tangent dynamics")
        return TangentStepper(self, dt)

    def buffer(self, key: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A reusable work array (allocated once per key and shape)."""
        return self._work_arrays.get((key, shape), self.transform.backend.empty, shape, dtype)

    @cached_property
    def _work_arrays(self) -> WorkArrays:
        return WorkArrays()


#: State bytes per tile of trajectories that :class:`SpectralStepper` steps together:
#: a batch of larger states is stepped a tile at a time, so that a step's dozen or so
#: state-sized work arrays (~16 MB per tile) stay in this machine's 32 MB L3. KS2D
#: 128², B = 16 (133 KB per trajectory): 0.96 ms per trajectory-step in one piece,
#: 0.57-0.61 in tiles of 2-8; smaller tiles than needed cost per-call overhead (64²,
#: B = 16: 247 µs whole, 288 in tiles of 4, 465 one by one); docs/design_decisions.md.
TILE_BYTES = 1024 * 1024


class SpectralStepper:
    """ETDRK4 on a spectral system's coefficients (a :class:`Stepper`).

    The state is the transform of the fields (complex rfft layout on periodic grids,
    real DCT-II on Neumann ones), ``(batch, field, *grid.spectral_shape)``. A system
    whose ``L`` is diagonal in other variables overrides :meth:`to_state` and
    :meth:`to_fields` (see :class:`pdesim.systems.ginzburg_landau.CGLEStepper`).

    Trajectories are independent, so a batch of large states is stepped in tiles of
    consecutive trajectories (:data:`TILE_BYTES` of state each; :meth:`tiles`), by
    :meth:`step` and :meth:`advance` alike: the two give the same numbers, and a
    trajectory's numbers depend on the batch size only through its tile (FFTW's plans
    for different numbers of rows may differ in the last bits).
    """

    def __init__(self, system: SpectralSystem, dt: float) -> None:
        self.system = system
        self.transform = system.transform
        nonlinear, scale = system.nonlinear_factors()
        self.integrator = ETDRK4(
            system.linear_operator(),
            nonlinear,
            dt,
            nonlinear_scale=scale,
            empty=self.transform.backend.empty,
        )
        self._tile_sizes: dict[tuple[int, ...], int] = {}

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        """The coefficients of ``fields`` ``(batch, field, *space)``, a new array."""
        return self.transform.forward(np.ascontiguousarray(fields, dtype=np.float64))

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        """The fields of ``state`` into ``out`` ``(batch, field, *space)``, float64."""
        self.transform.inverse(state, out=out)

    def tiles(self, state: np.ndarray) -> list[np.ndarray]:
        """``state`` as views of consecutive trajectories of at most :data:`TILE_BYTES`
        each (at least one trajectory), of near-equal sizes; ``[state]`` if it fits in
        one tile, is not C-contiguous, or the coefficients differ per trajectory."""
        if not state.flags.c_contiguous:
            return [state]
        size = self._tile_sizes.get(state.shape)
        if size is None:
            size = self._tile_sizes[state.shape] = self._tile_size(state)
        if size >= state.shape[0]:
            return [state]
        return [state[i : i + size] for i in range(0, state.shape[0], size)]

    def _tile_size(self, state: np.ndarray) -> int:
        """Trajectories per tile for states of ``state``'s shape (the whole batch where
        it fits in one tile or the coefficients differ per trajectory)."""
        batch, per_trajectory = state.shape[0], state[:1].nbytes
        rows = vars(self.integrator.coefficient_rows(state.shape)).values()
        if batch * per_trajectory <= TILE_BYTES or any(c.shape[0] > 1 for c in rows):
            return batch
        count = -(-batch // max(1, TILE_BYTES // per_trajectory))
        return -(-batch // count)

    def step(self, state: np.ndarray, t: float) -> None:
        """One ETDRK4 step of ``dt``, in place, from time ``t``."""
        for tile in self.tiles(state):
            self.integrator.step(tile, t)

    def advance(self, state: np.ndarray, t: float, n_steps: int) -> None:
        """``n_steps`` steps of ``dt`` in place from time ``t`` (step ``i`` from ``t + i dt``):
        the same numbers as calling :meth:`step` so, in one call (each tile runs all the
        steps while its arrays are in the cache; a compiled loop where a system has one,
        :mod:`pdesim.compiled`)."""
        dt = self.integrator.dt
        for tile in self.tiles(state):
            for i in range(n_steps):
                self.integrator.step(tile, t + i * dt)

    def finite(self, state: np.ndarray) -> np.ndarray:
        """Cheap per-trajectory check: a non-finite value anywhere reaches every mode."""
        flat = state.reshape(state.shape[0], -1)
        return np.isfinite(flat[:, :4]).all(axis=1)


class TangentStepper:
    """ETDRK4 on the augmented system of a base state ``u`` and tangent vectors ``v_i``,

        u_t = L u + N(u),        v_t = L v + N'(u) v,

    stacked as one state ``(1 + m, field, *spectral_shape)`` (row 0 the base): the
    derivative of the ETDRK4 map itself (its stages are linear in the evaluations of
    ``N``), as :func:`pdesim.diagnostics.lyapunov_spectrum` needs.
    """

    def __init__(self, system: SpectralSystem, dt: float) -> None:
        self.system = system
        self.integrator = ETDRK4(
            system.linear_operator(), self._nonlinear, dt, empty=system.transform.backend.empty
        )
        self.dt = self.integrator.dt

    def _nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        self.system.nonlinear(state[:1], t, out[:1])
        self.system.nonlinear_tangent(state[:1], state[1:], out[1:])

    def advance(self, state: np.ndarray, t: float, n_steps: int) -> None:
        """``n_steps`` steps of ``dt`` in place from time ``t``."""
        for _ in range(n_steps):
            self.integrator.step(state, t)
            t += self.dt


def random_band_field(grid: Grid, rng: np.random.Generator, max_mode: int) -> np.ndarray:
    """A zero-mean random field in the modes ``0 < max|m| <= max_mode``, not normalised.

    Independent standard normal coefficients: complex Fourier coefficients on a periodic
    grid (real part drawn first), cosine coefficients on a Neumann grid (so the field
    meets the boundary condition). ``numpy.fft`` / ``scipy.fft.idctn``, so the draw does
    not depend on the FFT backend. Every random initial field is drawn here; callers
    scale it (by its std, or its largest value).
    """
    shape = grid.spectral_shape
    coeffs = rng.standard_normal(shape)
    if grid.periodic:
        coeffs = coeffs + 1j * rng.standard_normal(shape)
    band = np.ones(shape, dtype=bool)
    for m in grid.mode_indices:
        band &= np.abs(m) <= max_mode
    coeffs[~band] = 0.0
    coeffs.flat[0] = 0.0
    axes = tuple(range(grid.ndim))
    if grid.periodic:
        return np.fft.irfftn(coeffs, s=grid.shape, axes=axes)
    return scipy.fft.idctn(coeffs, type=2, axes=axes)


def band_limited_noise(
    grid: Grid, rng: np.random.Generator, max_mode: int, std: float
) -> np.ndarray:
    """:func:`random_band_field` scaled to standard deviation ``std``."""
    field = random_band_field(grid, rng, max_mode)
    return field * (std / field.std())


def check_fields_shape(name: str, fields: np.ndarray, expected: tuple[int, ...]) -> np.ndarray:
    """Validate a user-supplied initial-state array."""
    arr = np.asarray(fields)
    if arr.shape != expected:
        raise ValueError(f"parameter {name!r} must have shape {expected}, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"parameter {name!r} must be a real array, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"parameter {name!r} contains non-finite values")
    return arr.astype(np.float64)
