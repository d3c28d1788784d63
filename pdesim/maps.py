"""The single Chialvo neuron map: fixed points, Jacobian, bifurcations, Lyapunov exponents.

The map (Chialvo, Chaos Solitons Fractals 5 (1995) 461)::

    x' = x^2 exp(y - x) + k          (x: activation, k: bias)
    y' = a y - b x + c               (y: recovery; a < 1 its time constant)

with Jacobian ``J = [[x (2 - x) e^{y-x}, x^2 e^{y-x}], [-b, a]]``. A fixed point has
``y* = (c - b x*) / (1 - a)`` and ``x*`` a root of ``g(x) = x^2 exp(y*(x) - x) + k - x``.

Codimension-1 bifurcations of a fixed point along a parameter are where an
eigenvalue of ``J`` reaches the unit circle: ``+1`` (saddle-node, where two fixed
points meet and the number of fixed points changes), ``-1`` (period doubling) or a
complex pair with ``|lambda| = 1`` (Neimark-Sacker, birth of an invariant circle).
They are located by sign changes of the test functions ``det(J - I)``,
``det(J + I)`` and ``det J - 1`` (the last with complex eigenvalues) along a grid of
parameter values and refined by bisection.

Everything that iterates is vectorised over a batch of parameter values, so a
bifurcation diagram over 1000 values of ``k`` is one array iteration.

The master stability function of the node for coupling through ``x`` is the largest
Lyapunov exponent of ``xi' = (J(s_n) - alpha E) xi``, ``E = [[1, 0], [0, 0]]``, along
an orbit ``s_n`` of the uncoupled map: a network ``x_i' = F(x_i, y_i) - (L x)_i`` with
Laplacian ``L`` has a stable synchronous state where ``Lambda(alpha) < 0`` for every
non-zero Laplacian eigenvalue ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from pdesim.validation import require_choice, require_int, require_real

PARAMETERS = ("a", "b", "c", "k")
BIFURCATION_KINDS = ("saddle-node", "period-doubling", "neimark-sacker")


@dataclass(frozen=True)
class ChialvoMap:
    """Parameters of one Chialvo map; see the module docstring for the equations.

    ``a`` in [0, 1) (recovery time constant), ``b`` >= 0 (activation dependence of
    recovery), ``c`` (recovery offset), ``k`` (bias). Defaults: the canonical
    oscillatory neuron a = 0.89, b = 0.6, c = 0.28, k = 0.04.
    """

    a: float = 0.89
    b: float = 0.6
    c: float = 0.28
    k: float = 0.04

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", require_real("a", self.a, ge=0.0, lt=1.0))
        object.__setattr__(self, "b", require_real("b", self.b, ge=0.0))
        object.__setattr__(self, "c", require_real("c", self.c))
        object.__setattr__(self, "k", require_real("k", self.k))

    def with_value(self, name: str, value: float) -> ChialvoMap:
        """A copy with parameter ``name`` (one of a, b, c, k) set to ``value``."""
        require_choice("param", name, PARAMETERS)
        return replace(self, **{name: value})


def step(x: np.ndarray, y: np.ndarray, a, b, c, k) -> tuple[np.ndarray, np.ndarray]:
    """One iteration ``(x, y) -> (x^2 e^{y-x} + k, a y - b x + c)``; parameters broadcast."""
    return x * x * np.exp(y - x) + k, a * y - b * x + c


def jacobian(x, y, a, b) -> np.ndarray:
    """``J(x, y)`` shaped ``(..., 2, 2)`` for broadcastable ``x, y, a, b``."""
    e = np.exp(np.asarray(y, dtype=float) - x)
    x, a, b = np.broadcast_arrays(np.asarray(x, dtype=float), a, b)
    e = np.broadcast_to(e, x.shape)
    return np.stack([np.stack([x * (2 - x) * e, x * x * e], -1), np.stack([-b, a], -1)], -2).astype(
        float
    )


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point, its Jacobian eigenvalues and the largest eigenvalue modulus."""

    x: float
    y: float
    eigenvalues: np.ndarray

    @property
    def modulus(self) -> float:
        return float(np.abs(self.eigenvalues).max())

    @property
    def stable(self) -> bool:
        return self.modulus < 1.0


def _g(x: float, m: ChialvoMap) -> float:
    y = (m.c - m.b * x) / (1.0 - m.a)
    return x * x * np.exp(y - x) + m.k - x


def _dg(x: float, m: ChialvoMap) -> float:
    s = 1.0 + m.b / (1.0 - m.a)
    y = (m.c - m.b * x) / (1.0 - m.a)
    return (2 * x - s * x * x) * np.exp(y - x) - 1.0


def fixed_points(m: ChialvoMap, n_scan: int = 4001) -> list[FixedPoint]:
    """All fixed points of the map, ascending in ``x``, each residual below ~1e-15.

    Every fixed point has ``x >= k`` (``x^2 e^{y-x} >= 0``) and ``x <= k + max h``
    with ``h(x) = x^2 exp(y*(x) - x)``, which decays for large ``x``; the interval is
    scanned for sign changes of ``g``, each bracketed root found by Brent's method
    and polished by Newton steps. Tangential (double) roots are found only where ``g``
    changes sign, i.e. not exactly at a saddle-node point.
    """
    s = 1.0 + m.b / (1.0 - m.a)
    # h(x) = x^2 exp(c/(1-a) - s x) has its maximum on x >= 0 at x = 2/s; on [k, 0] it
    # is largest at x = k.
    x_neg = min(m.k, 0.0)
    h_max = max((2 / s) ** 2 * np.exp(m.c / (1 - m.a) - 2), _g(x_neg, m) - m.k + x_neg)
    hi = m.k + max(h_max, 0.0) + 1e-9
    xs = np.linspace(m.k - 1e-9, hi, n_scan)
    with np.errstate(over="ignore"):
        gs = np.array([_g(x, m) for x in xs])
    points = []
    for i in np.nonzero(np.sign(gs[:-1]) * np.sign(gs[1:]) <= 0)[0]:
        if gs[i] == 0.0 and i > 0 and gs[i - 1] == 0.0:
            continue
        x = xs[i] if gs[i] == 0.0 else brentq(_g, xs[i], xs[i + 1], args=(m,), xtol=1e-16)
        for _ in range(2):
            d = _dg(x, m)
            if d != 0.0:
                x = x - _g(x, m) / d
        y = (m.c - m.b * x) / (1.0 - m.a)
        if points and abs(points[-1].x - x) < 1e-12:
            continue
        points.append(FixedPoint(x, y, np.linalg.eigvals(jacobian(x, y, m.a, m.b))))
    return points


@dataclass(frozen=True)
class Bifurcation:
    """A codimension-1 bifurcation of a fixed point at ``param = value``."""

    kind: str
    param: str
    value: float
    x: float
    y: float
    eigenvalues: np.ndarray


def _test_functions(point: FixedPoint, m: ChialvoMap) -> dict[str, float]:
    """Zero where an eigenvalue is +1 / -1 / a complex pair on the unit circle."""
    jac = jacobian(point.x, point.y, m.a, m.b)
    tr, det = np.trace(jac), np.linalg.det(jac)
    complex_pair = tr * tr - 4 * det < 0
    return {
        "saddle-node": 1.0 - tr + det,
        "period-doubling": 1.0 + tr + det,
        "neimark-sacker": det - 1.0 if complex_pair else np.nan,
    }


def _nearest(points: list[FixedPoint], x: float) -> FixedPoint | None:
    if not points:
        return None
    return min(points, key=lambda p: abs(p.x - x))


def find_bifurcations(
    base: ChialvoMap,
    param: str,
    lo: float,
    hi: float,
    n_grid: int = 400,
    tol: float = 1e-12,
) -> list[Bifurcation]:
    """Saddle-node, period-doubling and Neimark-Sacker points of the fixed points.

    The parameter ``param`` (a, b, c or k) is scanned on ``n_grid`` values in
    ``[lo, hi]``. A saddle-node point is where the number of fixed points changes; a
    period-doubling / Neimark-Sacker point is where ``det(J + I)`` / ``det J - 1``
    (complex eigenvalues) changes sign along a fixed-point branch (branches are
    followed by continuity in ``x``). Each is refined by bisection to ``tol``.
    """
    require_choice("param", param, PARAMETERS)
    lo, hi = require_real("lo", lo), require_real("hi", hi, gt=lo)
    n_grid = require_int("n_grid", n_grid, ge=3)
    values = np.linspace(lo, hi, n_grid)
    maps = [base.with_value(param, v) for v in values]
    points = [fixed_points(m) for m in maps]
    found: list[Bifurcation] = []
    for i in range(n_grid - 1):
        left, right = points[i], points[i + 1]
        if len(left) != len(right):
            found.append(_refine_fold(base, param, values[i], values[i + 1], len(left), tol))
            continue
        for p, q in zip(left, right, strict=True):
            tl, tr_ = _test_functions(p, maps[i]), _test_functions(q, maps[i + 1])
            for kind in ("period-doubling", "neimark-sacker"):
                if np.isfinite(tl[kind]) and np.isfinite(tr_[kind]) and tl[kind] * tr_[kind] < 0:
                    found.append(
                        _refine_crossing(base, param, kind, values[i], values[i + 1], p.x, tol)
                    )
    return found


def _refine_crossing(
    base: ChialvoMap, param: str, kind: str, lo: float, hi: float, x: float, tol: float
) -> Bifurcation:
    def test(value: float) -> tuple[float, FixedPoint]:
        m = base.with_value(param, value)
        point = _nearest(fixed_points(m), x)
        return _test_functions(point, m)[kind], point

    f_lo, _ = test(lo)
    while hi - lo > tol * max(1.0, abs(lo)):
        mid = 0.5 * (lo + hi)
        f_mid, point = test(mid)
        if not np.isfinite(f_mid):
            break
        if f_mid * f_lo > 0:
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        x = point.x
    value = 0.5 * (lo + hi)
    _, point = test(value)
    return Bifurcation(kind, param, value, point.x, point.y, point.eigenvalues)


def _refine_fold(
    base: ChialvoMap, param: str, lo: float, hi: float, n_lo: int, tol: float
) -> Bifurcation:
    def count(value: float) -> list[FixedPoint]:
        return fixed_points(base.with_value(param, value))

    side_lo = count(lo)
    while hi - lo > tol * max(1.0, abs(lo)):
        mid = 0.5 * (lo + hi)
        pts = count(mid)
        if len(pts) == n_lo:
            lo, side_lo = mid, pts
        else:
            hi = mid
    many = side_lo if len(side_lo) > len(count(hi)) else count(hi)
    m = base.with_value(param, 0.5 * (lo + hi))
    # The colliding pair is the pair of neighbouring fixed points closest to each other.
    gaps = [many[j + 1].x - many[j].x for j in range(len(many) - 1)]
    j = int(np.argmin(gaps)) if gaps else 0
    x = 0.5 * (many[j].x + many[min(j + 1, len(many) - 1)].x)
    y = (m.c - m.b * x) / (1.0 - m.a)
    return Bifurcation(
        "saddle-node", param, 0.5 * (lo + hi), x, y, np.linalg.eigvals(jacobian(x, y, m.a, m.b))
    )


def _as_batch(base: ChialvoMap, param: str, values) -> dict[str, np.ndarray]:
    require_choice("param", param, PARAMETERS)
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0 or not np.isfinite(v).all():
        raise ValueError(
            f"parameter 'values' must be a non-empty 1-D array of finite numbers, got {values!r}"
        )
    if param == "a" and ((v < 0) | (v >= 1)).any():
        raise ValueError(f"parameter 'a' values must lie in [0, 1), got {v.min()} .. {v.max()}")
    coeffs = {name: np.full(v.shape, getattr(base, name)) for name in PARAMETERS}
    coeffs[param] = v
    return coeffs


@dataclass(frozen=True)
class BifurcationDiagram:
    """Orbit samples ``x[i, n]`` after a transient and Lyapunov exponents per value."""

    param: str
    values: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lyapunov: np.ndarray


def bifurcation_diagram(
    base: ChialvoMap,
    param: str,
    values,
    n_transient: int = 2000,
    n_keep: int = 200,
    n_lyapunov: int = 4000,
    x0: float = 0.1,
    y0: float = 0.1,
) -> BifurcationDiagram:
    """Iterate the map for every value at once; keep ``n_keep`` points after a transient.

    The leading Lyapunov exponent (per iteration) is averaged over ``n_lyapunov``
    iterations after the transient (see :func:`lyapunov_exponents`).
    """
    n_transient = require_int("n_transient", n_transient, ge=0)
    n_keep = require_int("n_keep", n_keep, ge=1)
    coeffs = _as_batch(base, param, values)
    x = np.full(coeffs["k"].shape, float(x0))
    y = np.full(coeffs["k"].shape, float(y0))
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_transient):
            x, y = step(x, y, coeffs["a"], coeffs["b"], coeffs["c"], coeffs["k"])
        xs = np.empty((x.size, n_keep))
        ys = np.empty((x.size, n_keep))
        for n in range(n_keep):
            xs[:, n], ys[:, n] = x, y
            x, y = step(x, y, coeffs["a"], coeffs["b"], coeffs["c"], coeffs["k"])
    _require_bounded(xs, coeffs[param], param)
    lyap = _lyapunov_from(xs[:, 0], ys[:, 0], coeffs, n_lyapunov)[:, 0]
    return BifurcationDiagram(param, np.asarray(values, dtype=float), xs, ys, lyap)


def _require_bounded(xs: np.ndarray, values: np.ndarray, param: str) -> None:
    bad = ~np.isfinite(xs).all(axis=1)
    if bad.any():
        raise ValueError(
            f"the orbit escapes to infinity for {param} = {values[np.argmax(bad)]:g}; "
            "choose a range of bounded dynamics"
        )


def _lyapunov_from(x, y, coeffs, n_iter: int) -> np.ndarray:
    """Both exponents per batch element: leading from one tangent vector, the sum from det J."""
    a, b, c, k = coeffs["a"], coeffs["b"], coeffs["c"], coeffs["k"]
    vx, vy = np.ones_like(x), np.zeros_like(x)
    lead = np.zeros_like(x)
    total = np.zeros_like(x)
    for _ in range(n_iter):
        e = np.exp(y - x)
        j11, j12 = x * (2 - x) * e, x * x * e
        vx, vy = j11 * vx + j12 * vy, -b * vx + a * vy
        norm = np.hypot(vx, vy)
        lead += np.log(norm)
        vx, vy = vx / norm, vy / norm
        with np.errstate(divide="ignore"):  # det J = 0 (orbit through x = 0): -inf
            total += np.log(np.abs(a * j11 + b * j12))
        x, y = step(x, y, a, b, c, k)
    return np.stack([lead / n_iter, (total - lead) / n_iter], axis=-1)


def lyapunov_exponents(
    base: ChialvoMap,
    param: str,
    values,
    n_iter: int = 20000,
    n_transient: int = 2000,
    x0: float = 0.1,
    y0: float = 0.1,
) -> np.ndarray:
    """Both Lyapunov exponents (per iteration) for every value of ``param``, shape ``(n, 2)``.

    The leading exponent is the mean of ``log |J v_n|`` for a renormalised tangent
    vector; the second follows from ``lambda_1 + lambda_2 = <log |det J|>`` and is
    ``-inf`` for an orbit through ``x = 0``, where ``det J = 0`` (e.g. the fixed point at
    ``k = 0``).
    """
    n_iter = require_int("n_iter", n_iter, ge=1)
    coeffs = _as_batch(base, param, values)
    x = np.full(coeffs["k"].shape, float(x0))
    y = np.full(coeffs["k"].shape, float(y0))
    for _ in range(require_int("n_transient", n_transient, ge=0)):
        x, y = step(x, y, coeffs["a"], coeffs["b"], coeffs["c"], coeffs["k"])
    _require_bounded(x[:, None], coeffs[param], param)
    return _lyapunov_from(x, y, coeffs, n_iter)


def master_stability_function(
    base: ChialvoMap,
    alphas,
    n_iter: int = 20000,
    n_transient: int = 2000,
    x0: float = 0.1,
    y0: float = 0.1,
) -> np.ndarray:
    """``Lambda(alpha)``: largest Lyapunov exponent of ``xi' = (J(s_n) - alpha E) xi``.

    ``s_n`` is one orbit of the uncoupled map (after ``n_transient`` iterations) and
    ``E = [[1, 0], [0, 0]]`` (coupling through ``x``); all ``alphas`` share the orbit.
    ``Lambda(0)`` is the map's own leading exponent.
    """
    alpha = np.asarray(alphas, dtype=float)
    if alpha.ndim != 1 or not np.isfinite(alpha).all():
        raise ValueError(
            f"parameter 'alphas' must be a 1-D array of finite numbers, got {alphas!r}"
        )
    n_iter = require_int("n_iter", n_iter, ge=1)
    x, y = float(x0), float(y0)
    for _ in range(require_int("n_transient", n_transient, ge=0)):
        x, y = step(x, y, base.a, base.b, base.c, base.k)
    vx, vy = np.ones_like(alpha), np.zeros_like(alpha)
    total = np.zeros_like(alpha)
    for _ in range(n_iter):
        e = np.exp(y - x)
        j11, j12 = x * (2 - x) * e - alpha, x * x * e
        vx, vy = j11 * vx + j12 * vy, -base.b * vx + base.a * vy
        norm = np.hypot(vx, vy)
        total += np.log(norm)
        vx, vy = vx / norm, vy / norm
        x, y = step(x, y, base.a, base.b, base.c, base.k)
    if not np.isfinite(x):
        raise ValueError(f"the orbit of {base} escapes to infinity")
    return total / n_iter
