"""Two-component reaction-diffusion systems that form spiral waves and patterns.

All three share the machinery of :class:`ReactionDiffusion2D`: fields ``(u, v)`` on a
rectangle ``L x Ly`` with ``N x Ny`` points, periodic (FFT) or homogeneous Neumann
(``boundary="neumann"``: cell-centred grid, cosine series, ``du/dn = 0`` on the
walls), diagonal diffusion ``L = -diag(D_u, D_v) |k|^2`` (+ linear reaction terms)
integrated exactly, and the reaction evaluated pointwise in physical space. Products
are dealiased by masking the inputs and the result with ``dealias`` ("2/3", "1/2" --
exact for cubic terms -- or "none"). Time stepping: ``method="etdrk4"`` (fixed step,
the default) or ``"ifdp5"`` (integrating-factor Dormand-Prince 5(4) with tolerances
``rtol``, ``atol``; each ``step`` advances by ``dt``, sub-stepping adaptively).

``rd_spiral`` -- the lambda-omega system of rd-spiral (Herho et al., arXiv 2506.20633)::

    u_t = d1 ∇²u + u - u³ - u v² + beta (u² v + v³)
    v_t = d2 ∇²v + v - u² v - v³ - beta (u³ + u v²)

on ``[-L/2, L/2) x [-Ly/2, Ly/2)``. With ``A² = u² + v²`` the reaction is
``(1 - A²) u + beta A² v``, ``(1 - A²) v - beta A² u``; for ``d1 = d2 = D`` and
``z = u + i v`` it is ``z_t = D ∇²z + (1 - |z|²) z - i beta |z|² z``, the complex
Ginzburg-Landau equation ``A_t = A + (1 + i alpha) ∇²A - (1 + i c)|A|² A`` with
``alpha = 0``, ``c = beta`` (after ``x -> x / sqrt(D)``). Exact solutions: the uniform
oscillation ``z = exp(-i (beta t + phi))`` and plane waves
``z = R exp(i (q.x - omega t))``, ``R² = 1 - D |q|²``, ``omega = beta R²``.

``barkley`` -- Barkley's excitable medium (Physica D 49 (1991) 61)::

    u_t = Du ∇²u + u (1 - u) (u - (v + b) / a) / eps,        v_t = Dv ∇²v + u - v

``gray_scott`` -- Gray-Scott, in the form and units of The Well's
``gray_scott_reaction_diffusion`` (``A`` = u, ``B`` = v, box ``[-1, 1)²``)::

    u_t = DA ∇²u - u v² + F (1 - u),        v_t = DB ∇²v + u v² - (F + k) v
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from pdesim.grid import BOUNDARIES, DEALIAS_RULES, Grid
from pdesim.integrators import IFDP5
from pdesim.kernels import fused, rows
from pdesim.systems.base import (
    SpectralStepper,
    SpectralSystem,
    parameter,
    random_band_field,
    redefault,
)
from pdesim.validation import (
    MAX_POINTS,
    furthest_from_default,
    require_choice,
    require_int,
    require_real,
    second_axis,
)


@dataclass(frozen=True)
class RectangleParams:
    """The rectangle, its grid and the solver switches every 2-D RD system shares.

    A system's parameters subclass it: they add their own fields, give their own
    defaults of these with :func:`~pdesim.systems.base.redefault` (docs and allowed
    values stay the ones here unless they say more), check their own fields in
    :meth:`check` and name the smallest length the grid must resolve in
    :meth:`resolved_length`. ``Ly`` and ``Ny`` default to ``L`` and ``N``.
    """

    L: float = parameter(1.0, "box side along x", "> 0")
    N: int = parameter(128, "grid points along x", "even >= 8, resolving the system's length")
    Ly: float | None = parameter(None, "box side along y (default L)", "> 0")
    Ny: int | None = parameter(None, "grid points along y (default N)", "even >= 8")
    boundary: str = parameter("periodic", "boundary kind", " | ".join(BOUNDARIES))
    dealias: str = parameter(
        "2/3", "dealiasing rule of the reaction terms", " | ".join(DEALIAS_RULES)
    )
    rtol: float = parameter(1e-6, "relative tolerance of method ifdp5", "> 0")
    atol: float = parameter(1e-9, "absolute tolerance of method ifdp5 (on FFT coefficients)", "> 0")

    def check(self) -> None:
        """Validate the system's own parameters (run before the grid's checks)."""
        raise NotImplementedError

    def resolved_length(self) -> tuple[float, str, float, tuple[str, ...]]:
        """``(min_scale, its name, factor, the parameters it depends on)``: every axis
        needs ``k_max min_scale >= factor``."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        """Check the system's parameters, the box, the grid and the switches, and that the
        largest wavenumber ``k_max = pi N / L`` of every axis resolves the system's length.
        Where no grid of at most :data:`~pdesim.validation.MAX_POINTS` points could, the
        message names the length and the parameters it depends on instead of ``N``."""
        self.check()
        require_real("L", self.L, gt=0.0)
        require_int("N", self.N, ge=8, le=MAX_POINTS, even=True)
        ly, ny = second_axis(self, 8)
        object.__setattr__(self, "Ly", ly)
        object.__setattr__(self, "Ny", ny)
        require_choice("boundary", self.boundary, BOUNDARIES)
        require_choice("dealias", self.dealias, DEALIAS_RULES)
        require_real("rtol", self.rtol, gt=0.0)
        require_real("atol", self.atol, gt=0.0)
        min_scale, scale_name, factor, depends = self.resolved_length()
        for n_name, n, l_name, length in (("N", self.N, "L", self.L), ("Ny", ny, "Ly", ly)):
            with np.errstate(divide="ignore", over="ignore"):
                smallest = factor * length / (np.pi * min_scale)
            if not smallest <= MAX_POINTS:
                names = (*depends, l_name)
                culprit = furthest_from_default(self, names, like={"Ly": "L"})
                others = ", ".join(f"{p} = {getattr(self, p):g}" for p in names if p != culprit)
                raise ValueError(
                    f"parameter {culprit!r} = {getattr(self, culprit):g} is out of its useful "
                    f"range (with {others}): resolving {scale_name} = {min_scale:.3g} at "
                    f"{l_name}={length:g} needs {n_name} >= {smallest:.3g} grid points "
                    f"(k_max {scale_name} >= {factor:g}), more than the {MAX_POINTS} a grid "
                    "axis can have"
                )
            k_max = np.pi * n / length
            if k_max * min_scale < factor:
                needed = int(np.ceil(factor * length / (np.pi * min_scale)))
                raise ValueError(
                    f"parameter {n_name!r} must be >= {needed + needed % 2} to resolve "
                    f"{scale_name} = {min_scale:.3g} at {l_name}={length:g} "
                    f"(k_max {scale_name} >= {factor:g}), got {n_name}={n}"
                )


_CENTRED = "box side along x (domain [-L/2, L/2))"


@dataclass(frozen=True)
class RDSpiralParams(RectangleParams):
    L: float = redefault(RectangleParams, "L", 20.0, doc=_CENTRED)
    N: int = redefault(
        RectangleParams, "N", 128, allowed="even >= 8, pi N / L >= 1.5 / sqrt(min d)"
    )
    dealias: str = redefault(RectangleParams, "dealias", "none")
    d1: float = parameter(0.1, "diffusion coefficient of u", "> 0")
    d2: float = parameter(0.1, "diffusion coefficient of v", "> 0")
    beta: float = parameter(1.0, "reaction (twist) parameter", "finite real")
    arms: int = parameter(1, "arms m of the spiral initial conditions", "integer >= 1")

    def check(self) -> None:
        require_real("d1", self.d1, gt=0.0)
        require_real("d2", self.d2, gt=0.0)
        require_real("beta", self.beta)
        require_int("arms", self.arms, ge=1)

    def resolved_length(self) -> tuple[float, str, float, tuple[str, ...]]:
        return np.sqrt(min(self.d1, self.d2)), "sqrt(min(d1, d2))", 1.5, ("d1", "d2")


@dataclass(frozen=True)
class BarkleyParams(RectangleParams):
    L: float = redefault(RectangleParams, "L", 40.0, doc="box side along x (domain [0, L))")
    N: int = redefault(RectangleParams, "N", 256, allowed="even >= 8, pi N / L >= 1 / sqrt(Du eps)")
    a: float = parameter(0.75, "excitation threshold scale", "> 0")
    b: float = parameter(0.02, "excitation threshold offset", "finite real")
    eps: float = parameter(0.02, "time-scale ratio of u to v", "> 0")
    Du: float = parameter(1.0, "diffusion coefficient of u", "> 0")
    Dv: float = parameter(0.0, "diffusion coefficient of v", ">= 0")

    def check(self) -> None:
        require_real("a", self.a, gt=0.0)
        require_real("b", self.b)
        require_real("eps", self.eps, gt=0.0)
        require_real("Du", self.Du, gt=0.0)
        require_real("Dv", self.Dv, ge=0.0)

    def resolved_length(self) -> tuple[float, str, float, tuple[str, ...]]:
        return np.sqrt(self.Du * self.eps), "the front width sqrt(Du eps)", 1.0, ("Du", "eps")


@dataclass(frozen=True)
class GrayScottParams(RectangleParams):
    L: float = redefault(RectangleParams, "L", 2.0, doc=_CENTRED)
    N: int = redefault(RectangleParams, "N", 128, allowed="even >= 8, pi N / L >= 1.5 / l")
    F: float = parameter(0.029, "feed rate", ">= 0")
    k: float = parameter(0.057, "kill rate", ">= 0")
    DA: float = parameter(2e-5, "diffusion coefficient of u (A)", "> 0")
    DB: float = parameter(1e-5, "diffusion coefficient of v (B)", "> 0")

    def check(self) -> None:
        require_real("F", self.F, ge=0.0)
        require_real("k", self.k, ge=0.0)
        require_real("DA", self.DA, gt=0.0)
        require_real("DB", self.DB, gt=0.0)

    def resolved_length(self) -> tuple[float, str, float, tuple[str, ...]]:
        scale = np.sqrt(min(self.DA, self.DB) / max(self.F + self.k, 1e-3))
        name = "the pattern length l = sqrt(min(DA, DB) / (F + k))"
        return scale, name, 1.5, ("DA", "DB", "F", "k")


def random_smooth_field(grid: Grid, rng: np.random.Generator, max_mode: int) -> np.ndarray:
    """:func:`random_band_field` divided by its std (unit std, zero mean)."""
    field = random_band_field(grid, rng, max_mode)
    return field / field.std()


class AdaptiveSpectralStepper:
    """IF-DP5(4) on a spectral system's coefficients; ``step`` advances by ``dt`` exactly."""

    def __init__(self, system: SpectralSystem, dt: float, rtol: float, atol: float) -> None:
        self.system = system
        self.transform = system.transform
        self.dt = require_real("dt", dt, gt=0.0)
        self.integrator = IFDP5(system.linear_operator(), system.nonlinear, rtol=rtol, atol=atol)

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        return self.transform.forward(np.ascontiguousarray(fields, dtype=np.float64))

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        self.transform.inverse(state, out=out)

    def step(self, state: np.ndarray, t: float) -> None:
        self.integrator.advance(state, t, t + self.dt)

    def finite(self, state: np.ndarray) -> np.ndarray:
        flat = state.reshape(state.shape[0], -1)
        return np.isfinite(flat[:, :4]).all(axis=1)

    def get_state(self) -> dict[str, Any]:
        """What decides the next steps besides the fields (for checkpoints)."""
        return self.integrator.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.integrator.set_state(state)


class ReactionDiffusion2D(SpectralSystem):
    """Two fields ``(u, v)`` with diagonal diffusion and a pointwise reaction ``(f, g)``.

    Subclasses give the diffusion coefficients, the linear reaction rates (moved into
    the exactly integrated operator) and :meth:`reaction`, writing ``f(u, v)`` and
    ``g(u, v)`` (without the linear rates) into ``out`` ``(batch, 2, *space)``.
    """

    field_names = ("u", "v")
    methods = ("etdrk4", "ifdp5")
    blowup_threshold = 100.0
    renamed_parameters: ClassVar[dict[str, str]] = {"n": "N", "ny": "Ny"}
    #: Coordinate of the box's lower corner in units of the side: -1/2 centres the box.
    origin_fraction: ClassVar[float] = 0.0

    @cached_property
    def grid(self) -> Grid:
        p = self.params
        lengths = (p.L, p.Ly)
        return Grid(
            lengths,
            (p.N, p.Ny),
            boundary=p.boundary,
            origin=tuple(self.origin_fraction * length for length in lengths),
        )

    def diffusion(self) -> tuple[float, float]:
        raise NotImplementedError

    def linear_rates(self) -> tuple[float, float]:
        """Linear reaction rates ``(r_u, r_v)`` added to ``L`` (default none)."""
        return (0.0, 0.0)

    def reaction(self, fields: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError

    def linear_operator(self) -> np.ndarray:
        k2 = self.grid.k_squared
        return np.stack(
            [r - d * k2 for d, r in zip(self.diffusion(), self.linear_rates(), strict=True)]
        )

    @cached_property
    def _mask(self) -> np.ndarray | None:
        if self.params.dealias == "none":
            return None
        return self.grid.dealias_mask(self.params.dealias).astype(self.transform.spectral_dtype)

    def nonlinear(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        lead = state.shape[: state.ndim - self.grid.ndim]
        physical = self.buffer("rd_phys", (*lead, *self.grid.shape), np.float64)
        react = self.buffer("rd_react", (*lead, *self.grid.shape), np.float64)
        if self._mask is None:
            self.transform.inverse(state, out=physical)
        else:
            spectral = self.buffer("rd_spec", state.shape, state.dtype)
            np.multiply(state, self._mask, out=spectral)
            self.transform.inverse(spectral, out=physical, overwrite_input=True)
        self.reaction(physical, react)
        self.transform.forward(react, out=out)
        if self._mask is not None:
            out *= self._mask

    def make_stepper(
        self, dt: float, method: str | None = None
    ) -> SpectralStepper | AdaptiveSpectralStepper:
        method = require_choice("method", method or self.methods[0], self.methods)
        if method == "ifdp5":
            return AdaptiveSpectralStepper(self, dt, self.params.rtol, self.params.atol)
        return SpectralStepper(self, dt)

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Independent smooth random fields (modes ``|m| <= 6``) of std 0.5 around zero."""
        return 0.5 * np.stack([random_smooth_field(self.grid, rng, 6) for _ in range(2)])


@fused
def _lambda_omega(u: np.ndarray, v: np.ndarray, beta: float, f: np.ndarray, g: np.ndarray) -> None:
    """``f = (1 - A²) u + beta A² v``, ``g = -beta A² u + (1 - A²) v``, ``A² = u² + v²``,
    in one pass over ``(batch, M)`` rows."""
    for b in range(u.shape[0]):
        for i in range(u.shape[1]):
            x, y = u[b, i], v[b, i]
            a2 = x * x + y * y
            f[b, i] = (1.0 - a2) * x + beta * a2 * y
            g[b, i] = (1.0 - a2) * y - beta * a2 * x


class RDSpiral(ReactionDiffusion2D):
    """rd-spiral's lambda-omega system (see the module docstring for the equations)."""

    name = "rd_spiral"
    summary = "rd-spiral lambda-omega spirals: u_t = d1 Δu + (1-A²)u + beta A² v, ..."
    initial_conditions = ("spiral", "periodic_spiral", "random_phase", "random")
    Params = RDSpiralParams
    default_dt = 0.05
    origin_fraction = -0.5
    #: z = u + i v rotates about 0 (Barkley's and Gray-Scott's fields have no such centre).
    phase_fields = ("u", "v")
    regime_classifier = "rd-spiral"
    #: rd-spiral's shipped configurations (configs/*.txt of sandyherho/rd_spiral).
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "stable_spiral": {"d1": 0.1, "d2": 0.1, "beta": 1.0, "L": 20.0, "N": 128, "arms": 1},
        "turbulent_spiral": {"d1": 0.03, "d2": 0.2, "beta": 0.65, "L": 50.0, "N": 256, "arms": 4},
        "pattern_decay": {"d1": 0.5, "d2": 0.5, "beta": 1.0, "L": 10.0, "N": 64, "arms": 1},
    }

    def diffusion(self) -> tuple[float, float]:
        return (self.params.d1, self.params.d2)

    def reaction(self, fields: np.ndarray, out: np.ndarray) -> None:
        u, v, f, g = (rows(a) for a in (fields[:, 0], fields[:, 1], out[:, 0], out[:, 1]))
        _lambda_omega(u, v, self.params.beta, f, g)

    def _initial_spiral(self, rng: np.random.Generator) -> np.ndarray:
        """rd-spiral's m-armed spiral ``tanh(r) (cos, sin)(m theta - r)`` centred in the box.

        Exact for reproduction (rd-spiral's arrays are indexed ``[y, x]``, ours
        ``[x, y]``: the fields are transposed, which the dynamics does not notice).
        Its phase jumps across the box edges (net charge m on a torus is impossible).
        """
        x, y = self.grid.mesh()
        r = np.hypot(x, y)
        phase = self.params.arms * np.arctan2(y, x) - r
        return np.tanh(r) * np.stack([np.cos(phase), np.sin(phase)])

    def _initial_periodic_spiral(self, rng: np.random.Generator) -> np.ndarray:
        """A smooth periodic field with four defects of charges ``+m, -m, -m, +m``.

        ``w = (sin(2 pi x' / L) + i sin(2 pi y' / Ly))^m`` has zeros at the box centre,
        the edge midpoints and the corners of the box shifted by half a cell
        (``x' = x - dx/2``, ``y' = y - dy/2``, so no defect sits on a grid node); net
        charge zero, as on any torus. ``u + i v = tanh(|w|^{1/m} / s) w / |w|`` with
        ``s = 2 pi sqrt(max(d1, d2)) / min(L, Ly)``. Each defect rotates and emits an
        m-armed spiral.
        """
        x, y = self.grid.mesh()
        p = self.params
        hx, hy = self.grid.spacing
        w = (
            np.sin(2 * np.pi * (x - hx / 2) / p.L) + 1j * np.sin(2 * np.pi * (y - hy / 2) / p.Ly)
        ) ** p.arms
        modulus = np.abs(w)
        unit = np.where(modulus > 0, w / np.where(modulus > 0, modulus, 1.0), 0.0)
        scale = np.sqrt(max(p.d1, p.d2)) / min(p.L, p.Ly) * 2 * np.pi
        z = np.tanh(modulus ** (1.0 / p.arms) / scale) * unit
        return np.stack([z.real, z.imag])

    def _initial_random_phase(self, rng: np.random.Generator) -> np.ndarray:
        """``u + i v = tanh(|w| / (g l)) w / |w|`` for a smooth random complex field ``w``.

        ``w`` has modes ``|m| <= 4`` and unit std per part; its zeros are randomly placed
        phase singularities of both signs (zero net charge on a torus), each seeding a
        spiral. ``g`` is the rms of ``|grad w|``, so the cores have radius about
        ``l = max(3 dx, sqrt(max(d1, d2)))`` and are resolved by the grid.
        """
        w = random_smooth_field(self.grid, rng, 4) + 1j * random_smooth_field(self.grid, rng, 4)
        gradient = np.gradient(w, *self.grid.spacing)
        g = np.sqrt(np.mean(sum(np.abs(part) ** 2 for part in gradient)))
        core = max(3 * max(self.grid.spacing), np.sqrt(max(self.params.d1, self.params.d2)))
        modulus = np.abs(w)
        z = np.tanh(modulus / (g * core)) * w / np.maximum(modulus, 1e-300)
        return np.stack([z.real, z.imag])


class Barkley(ReactionDiffusion2D):
    """Barkley's excitable medium (see the module docstring)."""

    name = "barkley"
    summary = "Barkley excitable medium: u_t = Du Δu + u(1-u)(u-(v+b)/a)/eps, v_t = Dv Δv + u - v"
    initial_conditions = ("broken_wave", "random")
    Params = BarkleyParams
    blowup_threshold = 10.0
    default_dt = 0.01

    def diffusion(self) -> tuple[float, float]:
        return (self.params.Du, self.params.Dv)

    def linear_rates(self) -> tuple[float, float]:
        return (0.0, -1.0)

    def reaction(self, fields: np.ndarray, out: np.ndarray) -> None:
        p = self.params
        u, v = fields[:, 0], fields[:, 1]
        f = out[:, 0]
        np.add(v, p.b, out=f)
        f *= -1.0 / p.a
        f += u  # u - (v + b) / a
        f *= u
        f *= 1.0 - u
        f *= 1.0 / p.eps
        out[:, 1] = u

    def _initial_broken_wave(self, rng: np.random.Generator) -> np.ndarray:
        """The crossed-field start: ``u = 1`` on the upper half, ``v = a/2`` on the left half.

        The free end of the excited band curls into one spiral about the box centre.
        Smoothed over the grid spacing so the spectral start carries no Gibbs ripples.
        """
        x, y = self.grid.mesh()
        p = self.params
        width = 2.0 * max(self.grid.spacing)
        u = 0.5 * (1.0 + np.tanh((y - self.grid.origin[1] - p.Ly / 2) / width))
        v = 0.25 * p.a * (1.0 - np.tanh((x - self.grid.origin[0] - p.L / 2) / width))
        return np.stack([u, v])

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Excited blobs: ``u`` above threshold where a smooth random field exceeds 1.5 std."""
        blob = random_smooth_field(self.grid, rng, 4)
        u = 0.5 * (1.0 + np.tanh((blob - 1.5) * 4.0))
        v = 0.5 * self.params.a * (0.5 * (1.0 + np.tanh(random_smooth_field(self.grid, rng, 4))))
        return np.stack([u, v])


class GrayScott(ReactionDiffusion2D):
    """Gray-Scott with The Well's parameters ``F``, ``k`` (see the module docstring)."""

    name = "gray_scott"
    summary = (
        "Gray-Scott (The Well's units): u_t = DA Δu - u v² + F(1-u), v_t = DB Δv + u v² - (F+k)v"
    )
    initial_conditions = ("random", "gaussians")
    Params = GrayScottParams
    blowup_threshold = 10.0
    default_dt = 1.0
    origin_fraction = -0.5
    #: Named regimes of The Well's gray_scott_reaction_diffusion (file-name F, k pairs),
    #: each of which keeps a pattern from the default random start. (The Well's
    #: "bubbles", F = 0.098, k = 0.057, decays to the trivial state from it: left out.)
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "gliders": {"F": 0.014, "k": 0.054},
        "maze": {"F": 0.029, "k": 0.057},
        "worms": {"F": 0.058, "k": 0.065},
        "spirals": {"F": 0.018, "k": 0.051},
        "spots": {"F": 0.03, "k": 0.062},
    }

    def diffusion(self) -> tuple[float, float]:
        return (self.params.DA, self.params.DB)

    def linear_rates(self) -> tuple[float, float]:
        return (-self.params.F, -(self.params.F + self.params.k))

    def reaction(self, fields: np.ndarray, out: np.ndarray) -> None:
        u, v = fields[:, 0], fields[:, 1]
        np.multiply(v, v, out=out[:, 1])
        out[:, 1] *= u  # u v²
        np.subtract(self.params.F, out[:, 1], out=out[:, 0])

    def _initial_gaussians(self, rng: np.random.Generator) -> np.ndarray:
        """``u = 1``, ``v = 0`` except in 4 to 8 Gaussian spots (width 0.05 L) placed at random."""
        x, y = self.grid.mesh()
        p = self.params
        v = np.zeros(self.grid.shape)
        for _ in range(int(rng.integers(4, 9))):
            cx, cy = (
                o + rng.uniform(0, s) for o, s in zip(self.grid.origin, (p.L, p.Ly), strict=True)
            )
            dx = (x - cx + p.L / 2) % p.L - p.L / 2
            dy = (y - cy + p.Ly / 2) % p.Ly - p.Ly / 2
            v += np.exp(-(dx**2 + dy**2) / (2 * (0.05 * min(p.L, p.Ly)) ** 2))
        v = np.minimum(v, 1.0)
        return np.stack([1.0 - 0.5 * v, 0.25 * v])

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """Low-mode noise ``s``: ``v = (1 + tanh(4 (s - 1.5))) / 8``, ``u = 1 - 2 v``."""
        v = 0.125 * (1.0 + np.tanh(4.0 * (random_smooth_field(self.grid, rng, 8) - 1.5)))
        return np.stack([1.0 - 2.0 * v, v])
