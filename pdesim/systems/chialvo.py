"""Chialvo neuron maps on a ring-star graph with pairwise and higher-order coupling.

Node 0 is the centre, nodes 1..N-1 a ring with ``R`` neighbours per side
(``chialvo_ring_star``). One step of the stepper is one iteration of the map::

    x_i' = x_i^2 exp(y_i - x_i) + k_i
           + sum_j W_ij (x_j - x_i)                                   (pairwise)
           + sum_{{j,k}: {i,j,k} in T} s_ijk h(x_i, x_j, x_k)        (higher order)
           + noise * xi_i
    y_i' = a y_i - b x_i + c

* ``W``: spokes ``{0, i}`` weigh ``mu``; ring edges weigh ``sigma / (2R)``
  (``ring_norm = "2R"``, the ring-star literature's convention) or ``sigma``
  (``ring_norm = "none"``). With ``N = 4, R = 1`` the graph is the complete graph K4
  (the *smallest ring-star*). An arbitrary symmetric ``adjacency`` (weights) replaces
  the ring-star; ``mu`` and ``sigma`` must then be 0.
* ``T``: the 2-simplices, by default every triangle (3-clique) of the graph, or the
  list ``simplices``; ``s_ijk = sigma2`` for triangles containing node 0 and
  ``sigma2_ring`` (default: ``sigma2``) for the others.
* ``h``: ``higher_order = "linear"``: ``x_j + x_k - 2 x_i`` (linear diffusive; equal
  to a pairwise Laplacian whose edge weight is ``sigma2`` times the number of
  triangles holding the edge); ``"cubic"``: ``(x_j^2 x_k + x_k^2 x_j) / 2 - x_i^3``
  (the symmetrised nonlinear form of Gambuzza et al., which does not reduce).
* ``k_i = k + k_spread (2 i / (N - 1) - 1)``: a deterministic bias ramp across nodes
  (heterogeneity), ``k_spread = 0`` for identical neurons.
* ``xi_i``: i.i.d. standard normal, drawn from one generator per trajectory seeded
  by that trajectory's initial state (so runs are reproducible and independent of
  batching; identical initial states get identical noise).

The ring part of ``W`` is circulant and applied by real FFTs for large rings
(``ring_method``; see :mod:`pdesim.graph`; small graphs use dense matrices). Fields
are ``("x", "y")`` on the axis ``node``: arrays ``(batch, 2, N)``. The parameters
``a, b, c, k, mu, sigma, sigma2`` can vary across the batch
(:meth:`ChialvoRingStar.sweep_stepper`, :meth:`ChialvoRingStar.sweep`), so a sweep
over 1000 values is one vectorised iteration. An orbit escaping to infinity (non-finite or
``|x|, |y| > 1e6``) stops the run with :class:`pdesim.SimulationDiverged` at its
iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from pdesim.common import SimulationDiverged
from pdesim.graph import NodeGrid, graph_triangles, ring_diffusion, ring_star_adjacency
from pdesim.maps import ChialvoMap, fixed_points
from pdesim.resources import require_fits
from pdesim.systems.base import System, parameter
from pdesim.validation import MAX_POINTS, require_choice, require_int, require_real

HIGHER_ORDER_FORMS = ("linear", "cubic")
RING_NORMS = ("2R", "none")
RING_METHODS = ("auto", "fft", "roll", "dense")
#: Parameters that may differ between the trajectories of one batch.
SWEEPABLE = ("a", "b", "c", "k", "mu", "sigma", "sigma2")
#: ``ring_method = "auto"``: dense matrices up to this many nodes (also for the
#: higher-order scatter), beyond it the FFT from ``_FFT_MIN_NEIGHBOURS`` neighbours per
#: side on and shifted sums below (they cost O(M R); see benchmarks/bench_chialvo.py).
_DENSE_MAX_NODES = 64
_FFT_MIN_NEIGHBOURS = 3


def _matrix(name: str, value: Any, n: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"parameter {name!r} must be an N x N matrix of numbers: {exc}") from None
    if arr.shape != (n, n):
        raise ValueError(
            f"parameter {name!r} must be an N x N matrix with N = {n}, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"parameter {name!r} must be finite")
    if not np.allclose(arr, arr.T) or np.any(np.diag(arr) != 0):
        raise ValueError(f"parameter {name!r} must be symmetric with a zero diagonal")
    return arr


@dataclass(frozen=True)
class ChialvoRingStarParams:
    N: int = parameter(4, "number of neurons (node 0 the centre)", "integer >= 2")
    R: int = parameter(1, "ring neighbours per side", "integer, 0 <= R <= (N-2)/2")
    a: float = parameter(0.89, "recovery time constant", "0 <= a < 1")
    b: float = parameter(0.6, "activation dependence of recovery", ">= 0")
    c: float = parameter(0.28, "recovery offset", "real")
    k: float = parameter(0.04, "bias (external drive)", "real")
    mu: float = parameter(0.0, "star (spoke) coupling strength", "real")
    sigma: float = parameter(0.0, "ring coupling strength", "real")
    sigma2: float = parameter(0.0, "higher-order strength (triangles with the centre)", "real")
    sigma2_ring: float | None = parameter(
        None, "higher-order strength of triangles without the centre", "real or None (= sigma2)"
    )
    higher_order: str = parameter("linear", "higher-order coupling form", "linear | cubic")
    ring_norm: str = parameter("2R", "ring weight sigma/(2R) or sigma", "2R | none")
    k_spread: float = parameter(0.0, "bias ramp: k_i in [k - k_spread, k + k_spread]", ">= 0")
    noise: float = parameter(0.0, "std of additive noise on x per iteration", ">= 0")
    adjacency: tuple | None = parameter(
        None, "custom symmetric weight matrix (replaces the ring-star)", "N x N or None"
    )
    simplices: tuple | None = parameter(
        None, "2-simplices (node triples); default all triangles", "list of triples or None"
    )
    ring_method: str = parameter(
        "auto", "ring coupling: FFT, shifted sums or dense matrix", "auto|fft|roll|dense"
    )

    def __post_init__(self) -> None:
        n = require_int("N", self.N, ge=2, le=MAX_POINTS)
        r = require_int("R", self.R, ge=0, le=MAX_POINTS)  # with an adjacency too: stored
        for name in ("c", "k", "mu", "sigma", "sigma2"):
            require_real(name, getattr(self, name))
        require_real("a", self.a, ge=0.0, lt=1.0)
        require_real("b", self.b, ge=0.0)
        if self.sigma2_ring is not None:
            require_real("sigma2_ring", self.sigma2_ring)
        require_real("k_spread", self.k_spread, ge=0.0)
        require_real("noise", self.noise, ge=0.0)
        require_choice("higher_order", self.higher_order, HIGHER_ORDER_FORMS)
        require_choice("ring_norm", self.ring_norm, RING_NORMS)
        require_choice("ring_method", self.ring_method, RING_METHODS)
        if self.adjacency is None:
            if 2 * r > n - 2:
                raise ValueError(
                    f"parameter 'R' must be an integer with 0 <= R <= (N-2)/2 = {(n - 2) / 2:g} "
                    f"at N={n} (distinct neighbours on a ring of N-1 = {n - 1} nodes), got R={r}"
                )
        else:
            adj = _matrix("adjacency", self.adjacency, n)
            object.__setattr__(self, "adjacency", tuple(map(tuple, adj.tolist())))
            if self.mu != 0.0 or self.sigma != 0.0:
                raise ValueError(
                    "parameters 'mu' and 'sigma' must be 0 with a custom 'adjacency' (its "
                    f"entries are the coupling weights), got mu={self.mu}, sigma={self.sigma}"
                )
        if self.simplices is not None:
            tri = np.asarray(self.simplices)
            if (
                tri.ndim != 2
                or tri.shape[1] != 3
                or not np.issubdtype(tri.dtype, np.integer)
                or tri.min(initial=0) < 0
                or tri.max(initial=0) >= n
                or any(len(set(row)) != 3 for row in tri.tolist())
            ):
                raise ValueError(
                    "parameter 'simplices' must be a list of triples of distinct node indices "
                    f"in 0..{n - 1}, got {self.simplices!r}"
                )
            object.__setattr__(self, "simplices", tuple(map(tuple, tri.tolist())))


class ChialvoRingStar(System):
    """Chialvo neuron maps on a ring-star graph (see the module docstring)."""

    name = "chialvo_ring_star"
    summary = "Chialvo neuron maps on a ring-star graph, pairwise + higher-order (map, dt = 1)"
    field_names = ("x", "y")
    initial_conditions = ("random", "near_sync")
    Params = ChialvoRingStarParams
    blowup_threshold = 1e6
    default_dt = 1.0
    methods = ("map",)
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "chaotic": {"b": 0.18, "k": 0.03},
        "smallest_ring_star": {
            "N": 4,
            "R": 1,
            "b": 0.18,
            "k": 0.03,
            "mu": 0.01,
            "sigma": 0.01,
            "sigma2": 0.02,
            "ring_norm": "none",
        },
    }

    @cached_property
    def grid(self) -> NodeGrid:
        """The graph: dense ``N x N`` adjacency and weights (checked to fit in memory with
        the stepper's dense matrices and the triangle list before they are made)."""
        p = self.params
        matrices = 4 * 8 * p.N**2  # adjacency, weights, the stepper's matrix, temporaries
        triangles = 0 if p.simplices is not None else 200 * p.N * (p.R + 1) ** 2
        require_fits(
            f"parameter 'N' = {p.N} (a graph of {p.N} nodes is held as dense N x N matrices)",
            matrices + triangles,
            [("N x N matrices", matrices), ("triangle list", triangles)],
        )
        if p.adjacency is not None:
            adjacency = np.array(p.adjacency)
            weights = adjacency
        else:
            adjacency = ring_star_adjacency(p.N, p.R, 1.0, 1.0)
            ring = p.sigma / (2 * p.R) if (p.ring_norm == "2R" and p.R > 0) else p.sigma
            weights = ring_star_adjacency(p.N, p.R, p.mu, ring)
        triangles = (
            graph_triangles(adjacency)
            if p.simplices is None
            else np.array(p.simplices, dtype=np.int64).reshape(-1, 3)
        )
        return NodeGrid(adjacency, weights, triangles)

    @property
    def node_map(self) -> ChialvoMap:
        """The uncoupled node's map (for fixed points, bifurcations, the MSF)."""
        p = self.params
        return ChialvoMap(p.a, p.b, p.c, p.k)

    def make_stepper(self, dt: float, method: str | None = None) -> ChialvoStepper:
        require_choice("method", method or self.methods[0], self.methods)
        if dt != 1.0:
            raise ValueError(
                f"parameter 'dt' must be 1 for a map (one step = one iteration), got {dt!r}"
            )
        return ChialvoStepper(self)

    def sweep_stepper(self, values: dict[str, Any]) -> ChialvoStepper:
        """A stepper whose parameters differ per trajectory: ``values[name]`` has one entry
        per batch element, for names in :data:`SWEEPABLE`; the batch must match them."""
        return ChialvoStepper(self, values)

    def sweep(
        self,
        values: dict[str, Any],
        n_iter: int,
        n_transient: int = 0,
        seed: int = 0,
        initial: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Iterate one trajectory per parameter value, all as one batch.

        ``values[name]`` (names in :data:`SWEEPABLE`, equal lengths ``B``) give each
        trajectory its parameters; trajectory ``i`` starts from the initial family
        ``initial`` drawn with ``SeedSequence(seed).spawn(B)[i]`` (as in
        :func:`pdesim.simulate`). Returns ``x, y`` shaped ``(B, n_iter, N)``: the
        iterates ``n_transient + 1 .. n_transient + n_iter``. An escaping orbit raises
        :class:`pdesim.SimulationDiverged` with its iteration.
        """
        n_iter = require_int("n_iter", n_iter, ge=1)
        n_transient = require_int("n_transient", n_transient, ge=0)
        stepper = self.sweep_stepper(values)
        if stepper.batch is None:
            raise ValueError("parameter 'values' must name at least one swept parameter")
        name = initial or self.initial_conditions[0]
        seeds = np.random.SeedSequence(require_int("seed", seed, ge=0)).spawn(stepper.batch)
        state = stepper.to_state(
            np.array([self.initial_condition(name, np.random.default_rng(s)) for s in seeds])
        )
        out = np.empty((stepper.batch, n_iter, 2, self.params.N))
        with np.errstate(over="ignore", invalid="ignore"):
            for n in range(n_transient + n_iter):
                stepper.step(state, float(n))
                ok = stepper.finite(state)
                if not ok.all():
                    raise SimulationDiverged(int(np.argmin(ok)), float(n + 1), "orbit escaped")
                if n >= n_transient:
                    out[:, n - n_transient] = state
        return out[:, :, 0], out[:, :, 1]

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        """Jacobian ``(2N, 2N)`` of one (noise-free) iteration at a state ``(2, N)``; the
        variables are ordered ``x_0 .. x_{N-1}, y_0 .. y_{N-1}``."""
        x, y = np.asarray(state, dtype=float)
        p = self.params
        e = np.exp(y - x)
        eye = np.eye(p.N)
        top = np.hstack(
            [
                np.diag(x * (2 - x) * e) + self.make_stepper(1.0).coupling_jacobian(x),
                np.diag(x * x * e),
            ]
        )
        return np.vstack([top, np.hstack([-p.b * eye, p.a * eye])])

    def synchronous_fixed_points(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Network fixed points with every node at a fixed point of the single map (the
        couplings vanish there), each with the eigenvalues of :meth:`jacobian`.

        Needs identical nodes (``k_spread = 0``).
        """
        if self.params.k_spread != 0:
            raise ValueError(
                "synchronous fixed points need identical nodes: parameter 'k_spread' must be 0, "
                f"got {self.params.k_spread}"
            )
        found = []
        for point in fixed_points(self.node_map):
            state = np.array([[point.x], [point.y]]) * np.ones((2, self.params.N))
            found.append((state, np.linalg.eigvals(self.jacobian(state))))
        return found

    def _initial_random(self, rng: np.random.Generator) -> np.ndarray:
        """``x, y`` independent per node, uniform on ``[0, 1)``."""
        return rng.uniform(0.0, 1.0, size=(2, self.params.N))

    def _initial_near_sync(self, rng: np.random.Generator) -> np.ndarray:
        """One uniform ``[0, 1)`` state for all nodes plus node-wise noise of std 1e-3."""
        common = rng.uniform(0.0, 1.0, size=(2, 1))
        return common + 1e-3 * rng.standard_normal((2, self.params.N))


class ChialvoStepper:
    """One map iteration per :meth:`step` on states ``(batch, 2, N)`` (updated in place)."""

    def __init__(self, system: ChialvoRingStar, sweep: dict[str, Any] | None = None) -> None:
        p = system.params
        self.system = system
        self.threshold = system.blowup_threshold
        grid = system.grid
        self.batch: int | None = None
        coeffs: dict[str, Any] = {name: getattr(p, name) for name in SWEEPABLE}
        for name, value in (sweep or {}).items():
            require_choice("sweep parameter", name, SWEEPABLE)
            arr = np.asarray(value, dtype=float)
            if arr.ndim != 1 or not np.isfinite(arr).all():
                raise ValueError(f"sweep values of {name!r} must be a finite 1-D array")
            if name == "a" and ((arr < 0) | (arr >= 1)).any():
                raise ValueError("sweep values of 'a' must lie in [0, 1)")
            if self.batch is not None and arr.size != self.batch:
                raise ValueError(f"sweep arrays differ in length: {name!r} has {arr.size}")
            self.batch = arr.size
            coeffs[name] = arr[:, None]
        ramp = 2 * np.arange(p.N) / max(p.N - 1, 1) - 1.0
        self.a, self.b, self.c = coeffs["a"], coeffs["b"], coeffs["c"]
        self.k = coeffs["k"] + p.k_spread * ramp
        self.mu, self.sigma, self.sigma2 = coeffs["mu"], coeffs["sigma"], coeffs["sigma2"]
        self.sigma2_ring = coeffs["sigma2"] if p.sigma2_ring is None else p.sigma2_ring
        self.custom = p.adjacency is not None
        if self.custom:
            self.diffusion = (grid.weights - np.diag(grid.weights.sum(axis=1))).T
        else:
            self.ring_scale = 1.0 / (2 * p.R) if (p.ring_norm == "2R" and p.R > 0) else 1.0
            self.R = p.R
            method = p.ring_method
            if method == "auto":
                large = "fft" if p.R >= _FFT_MIN_NEIGHBOURS else "roll"
                method = "dense" if p.N <= _DENSE_MAX_NODES else large
            self.ring_method = method
            if method == "dense":
                ring = ring_star_adjacency(p.N, p.R, 0.0, 1.0)[1:, 1:]
                self.ring_dense = (ring - np.diag(ring.sum(axis=1))).T
        self.cubic = p.higher_order == "cubic"
        tri = grid.triangles
        centre = (tri == 0).any(axis=1)
        self.triangles = [tri[centre], tri[~centre]]
        dense = p.N <= _DENSE_MAX_NODES
        self.scatter = [self._scatter(t, p.N, dense) for t in self.triangles]
        self.noise = p.noise
        self.rngs: list[np.random.Generator] = []

    @staticmethod
    def _scatter(tri: np.ndarray, n: int, dense: bool) -> np.ndarray | sp.csr_array:
        """``(3T, N)`` matrix adding vertex contributions ``(T, 3)`` (flattened) to nodes."""
        matrix = sp.csr_array(
            (np.ones(tri.size), (np.arange(tri.size), tri.ravel())), shape=(tri.size, n)
        )
        return matrix.toarray() if dense else matrix

    def to_state(self, fields: np.ndarray) -> np.ndarray:
        state = np.array(fields, dtype=np.float64)
        if self.batch is not None and state.shape[0] != self.batch:
            raise ValueError(
                f"a sweep over {self.batch} parameter values needs a batch of {self.batch} "
                f"trajectories, got {state.shape[0]}"
            )
        if self.noise > 0:
            self.rngs = [
                np.random.default_rng(np.frombuffer(s.tobytes(), dtype=np.uint32).tolist())
                for s in state
            ]
        return state

    def to_fields(self, state: np.ndarray, out: np.ndarray) -> None:
        out[...] = state

    def coupling(self, x: np.ndarray) -> np.ndarray:
        """Pairwise plus higher-order coupling of ``x`` ``(batch, N)``."""
        return self._pairwise(x) + self._higher_order(x)

    def _pairwise(self, x: np.ndarray) -> np.ndarray:
        if self.custom:
            return x @ self.diffusion
        out = np.empty_like(x)
        out[:, 0] = self._star_sum(x)
        out[:, 1:] = self.mu * (x[:, :1] - x[:, 1:])
        if self.R > 0:
            if self.ring_method == "dense":
                ring = x[:, 1:] @ self.ring_dense
            else:
                ring = ring_diffusion(x[:, 1:], self.R, self.ring_method)
            out[:, 1:] += (self.sigma * self.ring_scale) * ring
        return out

    def _higher_order(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        for tri, scatter, strength in zip(
            self.triangles, self.scatter, (self.sigma2, self.sigma2_ring), strict=True
        ):
            if tri.size == 0 or not np.any(strength):
                continue
            contrib = self._triadic(x[:, tri]).reshape(x.shape[0], -1)
            if isinstance(scatter, np.ndarray):
                out += strength * (contrib @ scatter)
            else:
                out += strength * (scatter.T @ contrib.T).T
        return out

    def coupling_jacobian(self, x: np.ndarray) -> np.ndarray:
        """``d coupling_i / d x_j`` at one state ``x`` ``(N,)`` (not for sweep steppers)."""
        if self.batch is not None:
            raise ValueError("coupling_jacobian needs a stepper without parameter sweeps")
        eye = np.eye(x.size)
        jac = self._pairwise(eye).T  # linear: column j is the coupling of the unit vector e_j
        if not self.cubic:
            return jac + self._higher_order(eye).T
        for tri, strength in zip(self.triangles, (self.sigma2, self.sigma2_ring), strict=True):
            for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):  # vertex i of each triangle
                ti, tj, tk = tri[:, i], tri[:, j], tri[:, k]
                xj, xk = x[tj], x[tk]
                np.add.at(jac, (ti, ti), -3 * strength * x[ti] ** 2)
                np.add.at(jac, (ti, tj), strength * (xj * xk + 0.5 * xk * xk))
                np.add.at(jac, (ti, tk), strength * (0.5 * xj * xj + xj * xk))
        return jac

    def _star_sum(self, x: np.ndarray) -> np.ndarray:
        mu = self.mu[:, 0] if np.ndim(self.mu) else self.mu
        return mu * (x[:, 1:].sum(axis=1) - (x.shape[1] - 1) * x[:, 0])

    def _triadic(self, xt: np.ndarray) -> np.ndarray:
        """Per-triangle vertex contributions ``h(x_i, x_j, x_k)``, ``xt`` ``(batch, T, 3)``."""
        xj, xk = xt[..., [1, 2, 0]], xt[..., [2, 0, 1]]
        if self.cubic:
            return 0.5 * xj * xk * (xj + xk) - xt**3
        return xj + xk - 2 * xt

    def step(self, state: np.ndarray, t: float) -> None:
        x, y = state[:, 0], state[:, 1]
        x_new = x * x * np.exp(y - x) + self.k + self.coupling(x)
        if self.noise > 0:
            x_new += self.noise * np.stack([rng.standard_normal(x.shape[1]) for rng in self.rngs])
        state[:, 1] = self.a * y - self.b * x + self.c
        state[:, 0] = x_new

    def finite(self, state: np.ndarray) -> np.ndarray:
        """False for trajectories that escaped: non-finite or beyond the blow-up threshold."""
        flat = state.reshape(state.shape[0], -1)
        return np.isfinite(flat).all(axis=1) & (np.abs(flat) <= self.threshold).all(axis=1)
