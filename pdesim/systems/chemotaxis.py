"""Chemotaxis: the minimal Keller-Segel model and its indirect-signalling extension.

``keller_segel`` (minimal Patlak-Keller-Segel model)::

    n_t       = Δn − chi ∇·(n ∇c)
    eps_c c_t = Δc − c + n                 (eps_c = 0: parabolic-elliptic, Nagai's form)

``keller_segel_indirect`` (Bui, Huynh, Tang & Tran, arXiv 2508.01436: cells ``n``
produce an intermediate signal ``w``, which produces the chemoattractant ``c``)::

    n_t     = Δn − chi ∇·(n ∇c)
    eps c_t = Δc − c + w
    eps w_t = tau Δw − w + n               (eps = 0: c = (1 − Δ)^-1 (1 − tau Δ)^-1 n)

on the box ``[0, L]^dim`` (``dim`` = 1 or 2) with no-flux walls
(``∂_ν n = ∂_ν c = ∂_ν w = 0``, ``boundary = "neumann"``: cell-centred grid, cosine
series, see :class:`pdesim.fluxes.FluxOperators`) or periodic (``boundary = "periodic"``, the
same code with Fourier series). The flux divergence has no mean mode, so the mass
``M = ∫ n`` is conserved to round-off. In 2-D the parabolic-elliptic minimal model
blows up in finite time when a mass above ``8 pi / chi`` (interior point), ``4 pi /
chi`` (wall) or ``2 pi / chi`` (corner of the square) concentrates; the indirect
model with ``tau > 0`` stays bounded for every mass.

Time stepping (``methods``): ``imex_sbdf2`` (default: second order, one flux
evaluation per step, exact at ``eps = 0`` and stable in the linear part for every
``eps``), ``imex_euler`` (first order) and ``etdrk4`` (four flux evaluations per step;
for ``eps = 0`` it integrates ``n`` with the signals slaved to it; its explicit
treatment of the ``w/eps`` and ``n/eps`` sources is accurate only for ``dt`` below
``eps``). The flux ``n ∇c`` is formed in physical space and dealiased.

Pseudo-spectral methods do not keep ``n >= 0``: saved frames are checked, and a
trajectory whose density exceeds ``blowup_ratio`` times its mean (blow-up), turns
negative below ``-negativity_tolerance * max n``, or has more than ``tail_tolerance``
of its spectral energy in the top third of the resolved modes (aggregation the grid
no longer resolves) stops the run with :class:`pdesim.SimulationDiverged` giving the
time, ``max n`` and the reason. ``n`` is never clipped.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from pdesim.fluxes import FluxOperators
from pdesim.grid import BOUNDARIES, DEALIAS_RULES, Grid
from pdesim.imex import IMEX
from pdesim.integrators import ETDRK4
from pdesim.spectral import SpectralTransform
from pdesim.systems.base import System, parameter, random_band_field, redefault
from pdesim.validation import (
    MAX_POINTS,
    furthest_from_default,
    require_choice,
    require_int,
    require_real,
)
from pdesim.work_arrays import WorkArrays

SIGNAL_STARTS = ("prepared", "zero")
METHODS = ("imex_sbdf2", "imex_euler", "etdrk4")


@dataclass(frozen=True)
class ChemotaxisParams:
    """The sensitivity, box, grid, initial data and dealiasing both systems share.

    A system's parameters subclass it, add their signal parameters and check them in
    :meth:`check`; :func:`~pdesim.systems.base.redefault` gives a shared field another
    default (the indirect model starts with more mass).
    """

    chi: float = parameter(1.0, "chemotactic sensitivity", ">= 0")
    dim: int = parameter(2, "number of space dimensions", "1 | 2")
    L: float = parameter(4.0, "side of the box [0, L]^dim", "> 0")
    N: int = parameter(64, "grid points per axis", "even integer >= 8")
    boundary: str = parameter(
        "neumann", "no-flux walls (cosine series) or periodic", "neumann | periodic"
    )
    mass: float = parameter(4 * np.pi, "total cell mass M = integral of n at t = 0", "> 0")
    background: float = parameter(0.1, "fraction of the mass spread uniformly", "[0, 1)")
    width: float = parameter(0.25, "standard deviation of the initial bumps", ">= 3 L / N")
    initial_signal: str = parameter(
        "prepared", "signals at t = 0: elliptic solves from n, or zero", "prepared | zero"
    )
    dealias: str = parameter("2/3", "dealiasing rule for the flux n grad c", "2/3 | 1/2 | none")

    def check(self) -> None:
        """Validate the system's own parameters (run after ``chi``, before the domain)."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        require_real("chi", self.chi, ge=0.0)
        self.check()
        require_int("dim", self.dim, ge=1, le=2)
        require_real("L", self.L, gt=0.0)
        require_int("N", self.N, ge=8, le=MAX_POINTS, even=True)
        require_choice("boundary", self.boundary, BOUNDARIES)
        require_real("mass", self.mass, gt=0.0)
        require_real("background", self.background, ge=0.0, lt=1.0)
        require_real("width", self.width, gt=0.0)
        if 3.0 * (self.L / self.width) > MAX_POINTS:
            culprit = furthest_from_default(self, ("width", "L"))
            other = "L" if culprit == "width" else "width"
            raise ValueError(
                f"parameter {culprit!r} = {getattr(self, culprit):g} is out of its useful "
                f"range (with {other} = {getattr(self, other):g}): bumps of width "
                f"{self.width:g} in a box of side {self.L:g} need N >= 3 L / width = "
                f"{3.0 * (self.L / self.width):.3g} grid points per axis, more than the "
                f"{MAX_POINTS} a grid axis can have"
            )
        spacing = self.L / self.N
        if self.width < 3.0 * spacing:
            raise ValueError(
                f"parameter 'width' must be >= 3 L / N = {3 * spacing:.4g} (three grid "
                f"spacings at L={self.L:g}, N={self.N}) for the initial bumps to be "
                f"resolved, got {self.width!r}"
            )
        require_choice("initial_signal", self.initial_signal, SIGNAL_STARTS)
        require_choice("dealias", self.dealias, DEALIAS_RULES)


@dataclass(frozen=True)
class KellerSegelParams(ChemotaxisParams):
    eps_c: float = parameter(0.0, "time-scale ratio of c (0: parabolic-elliptic)", ">= 0")

    def check(self) -> None:
        require_real("eps_c", self.eps_c, ge=0.0)


@dataclass(frozen=True)
class KellerSegelIndirectParams(ChemotaxisParams):
    mass: float = redefault(ChemotaxisParams, "mass", 12 * np.pi)
    eps: float = parameter(1.0, "time-scale ratio of c and w (0: parabolic-elliptic)", ">= 0")
    tau: float = parameter(1.0, "diffusivity of the intermediate signal w", ">= 0")

    def check(self) -> None:
        require_real("eps", self.eps, ge=0.0)
        require_real("tau", self.tau, ge=0.0)


class _Chemotaxis(System):
    """What both chemotaxis systems share: grid, flux, steppers, checks, initial data.

    A subclass gives the linear structure of its signal equations: per field the
    time-scale factor and the decay rate (``eps_i du_i/dt = -a_i u_i + sum_j b_ij u_j``),
    the couplings and the order of the solves; ``n`` is always field 0 and ``c`` field 1.
    """

    initial_conditions = ("bumps", "centre", "edge", "corner", "perturbed")
    methods = METHODS
    #: SBDF2 with this step is within 1e-3 of the converged solution for a 12 pi bump
    #: of width 0.25 at N = 64 (benchmarks/bench_chemotaxis.py).
    default_dt = 1e-3
    #: ``max n`` beyond this multiple of the mean density counts as blow-up.
    blowup_ratio: ClassVar[float] = 1e3
    #: ``min n < -negativity_tolerance * max n`` counts as unresolved.
    negativity_tolerance: ClassVar[float] = 1e-3
    #: Share of the spectral energy of ``n`` in the top third of the resolved modes
    #: beyond which the state counts as unresolved (collapsing aggregate).
    tail_tolerance: ClassVar[float] = 1e-6
    renamed_values: ClassVar[dict[str, dict[str, str]]] = {"boundary": {"walls": "neumann"}}

    # -- structure given by the subclass
    @abstractmethod
    def _time_scales(self) -> tuple[float, ...]:
        """``eps_i`` per field (1 for ``n``)."""

    @abstractmethod
    def _decay_rates(self) -> np.ndarray:
        """``a_i`` per field over the spectral shape: ``(field, *modes)``."""

    @abstractmethod
    def _coupling(self) -> dict[tuple[int, int], float]:
        """``{(i, j): b_ij}``: field ``j`` is a source of field ``i``."""

    @abstractmethod
    def _solve_order(self) -> tuple[int, ...]:
        """Fields in an order where every source comes before its target."""

    # -- grid and operators
    @cached_property
    def grid(self) -> Grid:
        p = self.params
        return Grid((p.L,) * p.dim, (p.N,) * p.dim, boundary=p.boundary)

    @cached_property
    def transform(self) -> SpectralTransform:
        return SpectralTransform(self.grid)

    @cached_property
    def flux(self) -> FluxOperators:
        return FluxOperators(self.grid, self.transform, self.params.dealias)

    @cached_property
    def _decay(self) -> np.ndarray:
        return self._decay_rates()

    @property
    def elliptic(self) -> bool:
        """True when every signal is slaved to ``n`` (all signal time scales are 0)."""
        return not any(self._time_scales()[1:])

    def prepare_signals(self, coeffs: np.ndarray) -> None:
        """Set the signals of coefficients ``(batch, field, *modes)`` from ``n`` in place.

        Solves ``a_i u_i = sum_j b_ij u_j`` in the solve order: the elliptic manifold,
        exactly where the signals live when ``eps = 0``.
        """
        decay = self._decay
        coupling = self._coupling()
        for i in self._solve_order()[1:]:
            coeffs[:, i] = 0.0
            for (target, j), b in coupling.items():
                if target == i:
                    coeffs[:, i] += b * coeffs[:, j]
            coeffs[:, i] /= decay[i]

    def chemotaxis(self, state: np.ndarray, out: np.ndarray) -> None:
        """Coefficients of ``-chi div(n grad c)`` from ``state[:, 0]``, ``state[:, 1]``."""
        self.flux.flux_divergence(state[:, 0], state[:, 1], out=out)
        out *= -self.params.chi

    # -- steppers
    def make_stepper(self, dt: float, method: str | None = None) -> ChemotaxisStepper:
        method = require_choice("method", method or self.methods[0], self.methods)
        dt = require_real("dt", dt, gt=0.0)
        if method == "etdrk4":
            integrator = self._etdrk4(dt)
        else:
            integrator = IMEX(
                self._time_scales(),
                self._decay,
                self._coupling(),
                lambda u, t, out: self.chemotaxis(u, out[:, 0]),
                (0,),
                dt,
                scheme=method.removeprefix("imex_"),
                order=self._solve_order(),
            )
        return ChemotaxisStepper(self, integrator, slaved=method == "etdrk4" and self.elliptic)

    def _etdrk4(self, dt: float) -> ETDRK4:
        decay = self._decay
        if self.elliptic:
            # n alone; the signals are elliptic solves from n at every stage
            def nonlinear_n(n: np.ndarray, t: float, out: np.ndarray) -> None:
                full = self._stage_buffer(n)
                full[:, :1] = n
                self.prepare_signals(full)
                self.chemotaxis(full, out[:, 0])

            return ETDRK4(-decay[:1], nonlinear_n, dt)

        scales = self._time_scales()
        coupling = self._coupling()

        def nonlinear(u: np.ndarray, t: float, out: np.ndarray) -> None:
            self.chemotaxis(u, out[:, 0])
            for i in range(1, self.n_fields):
                out[:, i] = 0.0
                for (target, j), b in coupling.items():
                    if target == i:
                        out[:, i] += (b / scales[i]) * u[:, j]

        linear = np.stack([-decay[0], *(-decay[i] / scales[i] for i in range(1, self.n_fields))])
        return ETDRK4(linear, nonlinear, dt)

    def _stage_buffer(self, n: np.ndarray) -> np.ndarray:
        shape = (n.shape[0], self.n_fields, *n.shape[2:])
        return self._stages.get(shape, np.empty, shape, n.dtype)

    @cached_property
    def _stages(self) -> WorkArrays:
        return WorkArrays()

    # -- checks of saved frames
    @cached_property
    def _tail_modes(self) -> np.ndarray:
        """Modes in the top third of the resolved band (per axis: the dealiasing cut)."""
        grid = self.grid
        fraction = {"2/3": 2.0 / 3.0, "1/2": 0.5, "none": 1.0}[self.params.dealias]
        ratio = np.zeros(grid.spectral_shape)
        for m, n in zip(grid.mode_indices, grid.points, strict=True):
            extent = (n / 2 if grid.periodic else n) * fraction
            ratio = np.maximum(ratio, np.abs(m) / extent)
        return ratio >= 2.0 / 3.0

    def spectral_tail(self, n: np.ndarray) -> np.ndarray:
        """Share of ``sum |n_k|^2`` in the top third of the resolved modes, per trajectory."""
        coeffs = self.transform.forward(np.array(n, dtype=np.float64))
        energy = np.abs(coeffs) ** 2
        axes = tuple(range(1, energy.ndim))
        total = energy.sum(axis=axes)
        return (energy * self._tail_modes).sum(axis=axes) / np.maximum(total, 1e-300)

    def frame_problems(self, frame: np.ndarray) -> list[str | None]:
        """Non-finite values, blow-up, negative density or an unresolved spectral tail of ``n``."""
        n = frame[:, 0]
        flat = n.reshape(n.shape[0], -1)
        finite = np.isfinite(frame.reshape(frame.shape[0], -1)).all(axis=1)
        peak = flat.max(axis=1)
        low = flat.min(axis=1)
        mean = flat.mean(axis=1)
        tail = np.full(n.shape[0], np.nan)
        if finite.all():
            tail = self.spectral_tail(n)
        problems: list[str | None] = []
        for i in range(n.shape[0]):
            if not finite[i]:
                problems.append("non-finite state")
            elif peak[i] > self.blowup_ratio * mean[i]:
                problems.append(
                    f"blow-up: max n = {peak[i]:.4g} exceeds {self.blowup_ratio:g} x "
                    f"the mean density {mean[i]:.4g}"
                )
            elif low[i] < -self.negativity_tolerance * peak[i]:
                problems.append(
                    f"unresolved: negative density min n = {low[i]:.3g} with "
                    f"max n = {peak[i]:.4g} (aggregation beyond the grid's resolution)"
                )
            elif tail[i] > self.tail_tolerance:
                problems.append(
                    f"unresolved: {tail[i]:.2g} of the spectral energy of n in the top "
                    f"third of the modes (> {self.tail_tolerance:g}), max n = {peak[i]:.4g} "
                    f"(collapsing aggregate, blow-up or too coarse a grid)"
                )
            else:
                problems.append(None)
        return problems

    # -- initial conditions
    def _images(self, centre: float, axis: int) -> list[float]:
        """Centres of a bump and its images: periodic copies, or mirror images in the walls."""
        length = self.grid.lengths[axis]
        shifts = (-2 * length, 0.0, 2 * length) if not self.grid.periodic else (-length, 0, length)
        points = [centre + s for s in shifts]
        if not self.grid.periodic:
            points += [-centre + s for s in shifts]
        return points

    def _bump(self, centre: tuple[float, ...], width: float) -> np.ndarray:
        """A Gaussian of standard deviation ``width`` at ``centre``, with its images."""
        profile = np.ones(self.grid.shape)
        for axis, x in enumerate(self.grid.coords):
            g = sum(np.exp(-0.5 * ((x - c) / width) ** 2) for c in self._images(centre[axis], axis))
            shape = [1] * self.grid.ndim
            shape[axis] = x.size
            profile = profile * g.reshape(shape)
        return profile

    def _density(self, bumps: list[tuple[tuple[float, ...], float, float]]) -> np.ndarray:
        """Bumps ``(centre, width, share)`` plus background, scaled to the prescribed mass."""
        p = self.params
        volume = float(np.prod(self.grid.lengths))
        n = np.full(self.grid.shape, p.background * p.mass / volume)
        for centre, width, share in bumps:
            bump = self._bump(centre, width)
            n += (1.0 - p.background) * p.mass * share * bump / self.grid.integrate(bump)
        return n

    def _with_signals(self, n: np.ndarray) -> np.ndarray:
        fields = np.zeros((self.n_fields, *self.grid.shape))
        fields[0] = n
        if self.params.initial_signal == "prepared" or self.elliptic:
            coeffs = self.transform.forward(fields[None].copy())
            self.prepare_signals(coeffs)
            fields = self.transform.inverse(coeffs)[0]
            fields[0] = n
        return fields

    def _placed(self, where: str) -> np.ndarray:
        length = self.params.L
        spot = {
            "centre": (0.5 * length,) * self.params.dim,
            "edge": (0.0, *(0.5 * length,) * (self.params.dim - 1)),
            "corner": (0.0,) * self.params.dim,
        }[where]
        return self._with_signals(self._density([(spot, self.params.width, 1.0)]))

    def _initial_bumps(self, rng: np.random.Generator) -> np.ndarray:
        """1-3 bumps (widths 1-1.5 x ``width``) at random places in the middle half of the
        box, with random shares of the mass."""
        count = int(rng.integers(1, 4))
        shares = rng.dirichlet(np.ones(count))
        bumps = []
        for share in shares:
            centre = tuple(rng.uniform(0.25, 0.75, self.params.dim) * self.params.L)
            width = self.params.width * float(rng.uniform(1.0, 1.5))
            bumps.append((centre, width, float(share)))
        return self._with_signals(self._density(bumps))

    def _initial_centre(self, rng: np.random.Generator) -> np.ndarray:
        """One bump in the centre of the box (interior critical mass 8 pi / chi in 2-D)."""
        return self._placed("centre")

    def _initial_edge(self, rng: np.random.Generator) -> np.ndarray:
        """One bump centred on the wall ``x = 0`` (critical mass 4 pi / chi in 2-D; on a
        periodic box just a position)."""
        return self._placed("edge")

    def _initial_corner(self, rng: np.random.Generator) -> np.ndarray:
        """One bump centred on the corner (critical mass 2 pi / chi in 2-D)."""
        if self.params.dim < 2:
            raise ValueError("initial condition 'corner' needs dim = 2; use 'edge' in 1-D")
        return self._placed("corner")

    def _initial_perturbed(self, rng: np.random.Generator) -> np.ndarray:
        """The uniform density ``M / |box|`` with 5 % random perturbations in the modes 1-4."""
        noise = random_band_field(self.grid, rng, 4)
        mean = self.params.mass / float(np.prod(self.grid.lengths))
        return self._with_signals(mean * (1.0 + 0.05 * noise / np.abs(noise).max()))


class KellerSegel(_Chemotaxis):
    """``n_t = Δn - chi div(n grad c)``, ``eps_c c_t = Δc - c + n``; Neumann walls or periodic."""

    name = "keller_segel"
    summary = "minimal Keller-Segel: n_t = Δn - chi div(n grad c), eps_c c_t = Δc - c + n"
    field_names = ("n", "c")
    Params = KellerSegelParams

    def _time_scales(self) -> tuple[float, ...]:
        return (1.0, self.params.eps_c)

    def _decay_rates(self) -> np.ndarray:
        k2 = self.grid.k_squared
        return np.stack([k2, 1.0 + k2])

    def _coupling(self) -> dict[tuple[int, int], float]:
        return {(1, 0): 1.0}

    def _solve_order(self) -> tuple[int, ...]:
        return (0, 1)


class KellerSegelIndirect(_Chemotaxis):
    """``n_t = Δn - chi div(n grad c)``, ``eps c_t = Δc - c + w``, ``eps w_t = tau Δw - w + n``."""

    name = "keller_segel_indirect"
    summary = (
        "indirect-signalling Keller-Segel: n_t = Δn - chi div(n grad c), "
        "eps c_t = Δc - c + w, eps w_t = tau Δw - w + n"
    )
    field_names = ("n", "c", "w")
    Params = KellerSegelIndirectParams

    def _time_scales(self) -> tuple[float, ...]:
        return (1.0, self.params.eps, self.params.eps)

    def _decay_rates(self) -> np.ndarray:
        k2 = self.grid.k_squared
        return np.stack([k2, 1.0 + k2, 1.0 + self.params.tau * k2])

    def _coupling(self) -> dict[tuple[int, int], float]:
        return {(2, 0): 1.0, (1, 2): 1.0}

    def _solve_order(self) -> tuple[int, ...]:
        return (0, 2, 1)


class ChemotaxisStepper:
    """Advances coefficients ``(batch, field, *modes)`` of a chemotaxis system.

    ``to_state`` rejects negative or zero-mass densities and, when the signals are
    slaved to ``n`` (``eps = 0``), puts them on the elliptic manifold. For the IMEX
    methods the state also carries the integrator's history (:meth:`IMEX.extend`), so
    a checkpointed state resumes bit-identically.
    """

    def __init__(
        self, system: _Chemotaxis, integrator: IMEX | ETDRK4, *, slaved: bool = False
    ) -> None:
        self.system = system
        self.transform = system.transform
        self.integrator = integrator
        self.slaved = slaved

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        fields = np.ascontiguousarray(fields, dtype=np.float64)
        n = fields[:, 0].reshape(fields.shape[0], -1)
        low = n.min(axis=1)
        if (low < 0).any():
            i = int(np.argmin(low))
            raise ValueError(
                f"the initial density n must be >= 0 everywhere; trajectory {i} has "
                f"min n = {low[i]:.4g}"
            )
        mass = self.system.grid.integrate(fields[:, 0])
        if (mass <= 0).any():
            i = int(np.argmin(mass))
            raise ValueError(
                f"the initial mass integral of n must be > 0; trajectory {i} has {mass[i]:.4g}"
            )
        coeffs = self.transform.forward(fields.copy())
        if self.system.elliptic:
            self.system.prepare_signals(coeffs)
        if isinstance(self.integrator, IMEX):
            return self.integrator.extend(coeffs)
        return coeffs

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        self.transform.inverse(state[:, : self.system.n_fields], out=out)

    def step(self, state: np.ndarray, t: float) -> None:
        if self.slaved:
            self.integrator.step(state[:, :1], t)
            self.system.prepare_signals(state)
        else:
            self.integrator.step(state, t)

    def finite(self, state: np.ndarray) -> np.ndarray:
        """Non-finite values reach every non-mean mode through the flux; check a few."""
        flat = state.reshape(state.shape[0], -1)
        return np.isfinite(flat[:, 1:5]).all(axis=1)
