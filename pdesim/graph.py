"""Graphs as spatial domains: the node "grid", ring-star adjacency, triangles, Laplacians.

A system living on the ``N`` nodes of a graph stores fields shaped
``(batch, field, node)``. :class:`NodeGrid` offers the attributes the driver, the
file writer and the plots read from a grid (one axis, named ``node``), plus the
graph itself: ``adjacency[i, j]`` is non-zero for an edge ``{i, j}`` (symmetric, zero
diagonal; 1 or a user-given weight), ``weights[i, j]`` the pairwise coupling
strength actually applied along it, and ``triangles`` the 2-simplices used by
higher-order couplings.

The diffusive (graph-Laplacian) coupling of a field ``x`` is
``(D x)_i = sum_j A_ij (x_j - x_i)``. On a ring of ``M`` nodes with ``R``
neighbours per side it is circulant, ``(D x)_i = sum_{d=1}^{R} (x_{i+d} + x_{i-d} - 2 x_i)``,
with eigenvalues ``sum_d 2 (cos(2 pi m d / M) - 1)``: :func:`ring_diffusion`
applies it with real FFTs in ``O(M log M)`` (``method="fft"``) or by shifted sums in
``O(M R)`` (``method="roll"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from pdesim.validation import require_choice, require_int

RING_METHODS = ("fft", "roll")


@dataclass(frozen=True, eq=False)
class NodeGrid:
    """The nodes of a graph, seen as a one-axis "grid" named ``node``.

    ``coords[0]`` is the node index; ``lengths``/``origin`` make ``[0, N)`` span it.
    ``boundary`` is ``"graph"`` and ``periodic`` False: a graph has no boundary.
    """

    adjacency: np.ndarray
    weights: np.ndarray
    triangles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    grid_type = "graph"
    axis_names = ("node",)
    boundary = "graph"
    periodic = False
    ndim = 1

    @property
    def n_nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def points(self) -> tuple[int]:
        return (self.n_nodes,)

    @property
    def shape(self) -> tuple[int]:
        return (self.n_nodes,)

    @property
    def size(self) -> int:
        return self.n_nodes

    @property
    def lengths(self) -> tuple[float]:
        return (float(self.n_nodes),)

    @property
    def origin(self) -> tuple[float]:
        return (0.0,)

    @cached_property
    def coords(self) -> tuple[np.ndarray]:
        return (np.arange(self.n_nodes, dtype=np.float64),)


def ring_star_adjacency(n_nodes: int, neighbours: int, star: float, ring: float) -> np.ndarray:
    """Weights of the ring-star graph: node 0 the centre, nodes 1..N-1 a ring.

    Every spoke ``{0, i}`` has weight ``star``; every ring edge ``{i, j}`` with ring
    distance ``1 <= d <= neighbours`` has weight ``ring``. Requires
    ``2 * neighbours <= N - 2`` so that the neighbours on the two sides are distinct.
    """
    n = require_int("N", n_nodes, ge=2)
    r = require_int("R", neighbours, ge=0, le=(n - 2) // 2)
    adj = np.zeros((n, n))
    adj[0, 1:] = adj[1:, 0] = star
    m = n - 1
    for i in range(m):
        for d in range(1, r + 1):
            j = (i + d) % m
            adj[1 + i, 1 + j] = adj[1 + j, 1 + i] = ring
    return adj


def graph_triangles(adjacency: np.ndarray) -> np.ndarray:
    """All 3-cliques ``i < j < k`` of the graph (its 2-simplices), shape ``(T, 3)``."""
    linked = np.asarray(adjacency) != 0
    found = []
    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        # the common neighbours k > j of the edge {i, j}, ascending (one vector per edge,
        # not a Python loop over nodes: a graph of 10**4 nodes takes seconds, not hours)
        ks = np.flatnonzero(linked[i, j + 1 :] & linked[j, j + 1 :]) + j + 1
        found.extend((int(i), int(j), int(k)) for k in ks)
    return np.array(found, dtype=np.int64).reshape(-1, 3)


def diffusion_matrix(adjacency: np.ndarray) -> np.ndarray:
    """``D = A - diag(A 1)``, so that ``D x = sum_j A_ij (x_j - x_i)`` (minus the Laplacian)."""
    adj = np.asarray(adjacency, dtype=float)
    return adj - np.diag(adj.sum(axis=1))


def ring_diffusion(x: np.ndarray, neighbours: int, method: str = "fft") -> np.ndarray:
    """``sum_{d=1}^{R} (x_{i+d} + x_{i-d} - 2 x_i)`` on a ring along the last axis of ``x``."""
    require_choice("method", method, RING_METHODS)
    m = x.shape[-1]
    r = require_int("R", neighbours, ge=0, le=max((m - 1) // 2, 0))
    if method == "roll":
        out = np.zeros_like(x)
        for d in range(1, r + 1):
            out += np.roll(x, d, axis=-1) + np.roll(x, -d, axis=-1) - 2 * x
        return out
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * ring_symbol(m, r), n=m, axis=-1)


@lru_cache(maxsize=32)
def ring_symbol(m: int, neighbours: int) -> np.ndarray:
    """Eigenvalues ``sum_{d=1}^{R} 2 (cos(2 pi q d / M) - 1)`` for ``q = 0 .. M // 2``
    (cached, read-only)."""
    q = np.arange(m // 2 + 1)[:, None]
    d = np.arange(1, neighbours + 1)[None, :]
    symbol = (2 * (np.cos(2 * np.pi * q * d / m) - 1)).sum(axis=1)
    symbol.flags.writeable = False
    return symbol
