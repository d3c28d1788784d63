"""The single Chialvo map: fixed points, Jacobian, bifurcations, Lyapunov exponents, MSF."""

import numpy as np
import pytest

from pdesim.diagnostics import zero_one_test
from pdesim.maps import (
    ChialvoMap,
    bifurcation_diagram,
    find_bifurcations,
    fixed_points,
    jacobian,
    lyapunov_exponents,
    master_stability_function,
    step,
)


def orbit(m: ChialvoMap, n: int, n_transient: int = 3000, x0: float = 0.1, y0: float = 0.1):
    x, y = x0, y0
    for _ in range(n_transient):
        x, y = step(x, y, m.a, m.b, m.c, m.k)
    out = np.empty((n, 2))
    for i in range(n):
        out[i] = x, y
        x, y = step(x, y, m.a, m.b, m.c, m.k)
    return out


@pytest.mark.parametrize("b", [0.6, 0.18])
@pytest.mark.parametrize("k", [-0.05, 0.0, 0.02, 0.03, 0.04, 0.1])
def test_fixed_points_satisfy_the_map(b, k):
    m = ChialvoMap(b=b, k=k)
    points = fixed_points(m)
    assert points
    for p in points:
        x, y = step(p.x, p.y, m.a, m.b, m.c, m.k)
        assert abs(x - p.x) < 1e-12 and abs(y - p.y) < 1e-12
    # three fixed points for b = 0.18 below the saddle-node point, one above
    if b == 0.18:
        assert len(points) == (3 if k <= 0.02 else 1)


def test_jacobian_matches_finite_differences():
    m = ChialvoMap(b=0.18, k=0.03)
    x, y, h = 0.7, 1.3, 1e-6
    fd = np.empty((2, 2))
    for col, (dx, dy) in enumerate([(h, 0.0), (0.0, h)]):
        plus = np.array(step(x + dx, y + dy, m.a, m.b, m.c, m.k))
        minus = np.array(step(x - dx, y - dy, m.a, m.b, m.c, m.k))
        fd[:, col] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(jacobian(x, y, m.a, m.b), fd, atol=1e-8)


def _modulus_near(m: ChialvoMap, x: float, kind: str) -> float:
    """Modulus of the eigenvalue that crosses, at the fixed point nearest x."""
    p = min(fixed_points(m), key=lambda q: abs(q.x - x))
    ev = p.eigenvalues
    if kind == "period-doubling":
        return float(np.abs(ev[np.argmin(ev.real)]))
    return float(np.abs(ev).max())


@pytest.fixture(scope="module")
def bifurcations_b06():
    return find_bifurcations(ChialvoMap(b=0.6), "k", -0.06, 0.13, n_grid=120)


@pytest.fixture(scope="module")
def bifurcations_b018():
    return find_bifurcations(ChialvoMap(b=0.18), "k", -0.06, 0.13, n_grid=120)


def test_detected_points_are_eigenvalue_crossings(bifurcations_b06, bifurcations_b018):
    kinds06 = [b.kind for b in bifurcations_b06]
    kinds018 = [b.kind for b in bifurcations_b018]
    assert kinds06 == ["period-doubling", "neimark-sacker", "neimark-sacker"]
    assert kinds018 == ["period-doubling", "saddle-node", "neimark-sacker"]
    for bif, base in [(b, ChialvoMap(b=0.6)) for b in bifurcations_b06] + [
        (b, ChialvoMap(b=0.18)) for b in bifurcations_b018
    ]:
        ev = bif.eigenvalues
        if bif.kind == "period-doubling":
            assert np.min(ev.real) == pytest.approx(-1.0, abs=1e-8)
        elif bif.kind == "neimark-sacker":
            assert np.all(np.abs(ev.imag) > 0.01)
            np.testing.assert_allclose(np.abs(ev), 1.0, atol=1e-8)
        else:  # at a fold the eigenvalue reaches +1 like sqrt(distance): tolerance 1e-5
            assert np.max(ev.real) == pytest.approx(1.0, abs=1e-5)
        if bif.kind == "saddle-node":
            continue
        # the crossing: the modulus is on opposite sides of 1 just before and after
        before = _modulus_near(base.with_value("k", bif.value - 1e-4), bif.x, bif.kind)
        after = _modulus_near(base.with_value("k", bif.value + 1e-4), bif.x, bif.kind)
        assert (before - 1.0) * (after - 1.0) < 0


def test_neimark_sacker_rest_state_then_invariant_circle(bifurcations_b06):
    k_ns = bifurcations_b06[1].value
    assert 0.02 < k_ns < 0.04
    rest = ChialvoMap(b=0.6, k=k_ns - 0.004)
    point = fixed_points(rest)[0]
    assert point.stable
    tail = orbit(rest, 200, n_transient=6000)
    assert np.abs(tail - [point.x, point.y]).max() < 1e-8
    circle = ChialvoMap(b=0.6, k=k_ns + 0.008)
    point = fixed_points(circle)[0]
    assert not point.stable
    tail = orbit(circle, 5000, n_transient=6000)
    distance = np.hypot(tail[:, 0] - point.x, tail[:, 1] - point.y)
    assert distance.min() > 1e-3  # stays away from the unstable focus
    # quasi-periodic: leading Lyapunov exponent zero, the 0-1 test says regular
    lyap = lyapunov_exponents(circle, "k", [circle.k], n_iter=20000, n_transient=5000)[0]
    assert abs(lyap[0]) < 2e-3 and lyap[1] < -0.05
    assert abs(zero_one_test(tail[:, 0])) < 0.1


def test_saddle_node_rest_state_then_chaos(bifurcations_b018):
    k_sn = bifurcations_b018[1].value
    assert 0.015 < k_sn < 0.03
    below, above = ChialvoMap(b=0.18, k=k_sn - 0.003), ChialvoMap(b=0.18, k=k_sn + 0.008)
    assert len(fixed_points(below)) == 3 and len(fixed_points(above)) == 1
    rest = fixed_points(below)[0]
    assert rest.stable
    tail = orbit(below, 100, n_transient=5000, x0=rest.x + 0.005, y0=rest.y)
    assert np.abs(tail - [rest.x, rest.y]).max() < 1e-8
    assert not fixed_points(above)[0].stable
    chaos = orbit(above, 5000)
    assert zero_one_test(chaos[:, 0]) > 0.9
    assert lyapunov_exponents(above, "k", [above.k])[0, 0] > 0.02


def test_period_doubling_gives_a_period_two_orbit(bifurcations_b06):
    k_pd = bifurcations_b06[0].value
    tail = orbit(ChialvoMap(b=0.6, k=k_pd + 0.002), 10, n_transient=8000)
    assert np.abs(np.diff(tail[:, 0])).max() < 1e-9  # rest state
    tail = orbit(ChialvoMap(b=0.6, k=k_pd - 0.002), 10, n_transient=8000)
    np.testing.assert_allclose(tail[2:, 0], tail[:-2, 0], atol=1e-9)
    assert abs(tail[1, 0] - tail[0, 0]) > 1e-3


def test_lyapunov_exponents_at_a_stable_fixed_point_are_log_eigenvalue_moduli():
    m = ChialvoMap(b=0.6, k=0.02)
    point = fixed_points(m)[0]
    lyap = lyapunov_exponents(m, "k", [m.k], n_iter=20000, x0=point.x + 1e-3, y0=point.y)[0]
    expected = np.sort(np.log(np.abs(point.eigenvalues)))[::-1]
    np.testing.assert_allclose(lyap, expected, atol=2e-3)


def test_leading_exponent_matches_two_nearby_orbits():
    """Independent estimate: separation growth of two orbits, renormalised each step."""
    m = ChialvoMap(b=0.18, k=0.03)
    x, y = orbit(m, 1)[0]
    d0, n = 1e-9, 20000
    xp, yp = x + d0, y
    total = 0.0
    for _ in range(n):
        x, y = step(x, y, m.a, m.b, m.c, m.k)
        xp, yp = step(xp, yp, m.a, m.b, m.c, m.k)
        dist = np.hypot(xp - x, yp - y)
        total += np.log(dist / d0)
        xp, yp = x + (xp - x) * d0 / dist, y + (yp - y) * d0 / dist
    reference = total / n
    lyap = lyapunov_exponents(m, "k", [m.k], n_iter=n)[0, 0]
    assert lyap == pytest.approx(reference, abs=0.01)
    assert reference > 0.02


def test_bifurcation_diagram_is_batched_over_parameter_values():
    m = ChialvoMap(b=0.18)
    values = np.array([0.0, 0.03, 0.1])
    diagram = bifurcation_diagram(m, "k", values, n_transient=3000, n_keep=5, n_lyapunov=2000)
    assert diagram.x.shape == (3, 5)
    for row, k in zip(diagram.x, values, strict=True):
        np.testing.assert_allclose(row, orbit(m.with_value("k", k), 5)[:, 0], rtol=1e-12)
    assert diagram.lyapunov[1] > 0 > diagram.lyapunov[0]


def test_master_stability_function_at_zero_is_the_map_exponent():
    m = ChialvoMap(b=0.18, k=0.03)
    msf = master_stability_function(m, [0.0, 0.2, 0.4], n_iter=20000)
    lyap = lyapunov_exponents(m, "k", [m.k], n_iter=20000)[0, 0]
    assert msf[0] == pytest.approx(lyap, abs=1e-9)
    assert msf[0] > 0 and msf[1] < 0 and msf[2] < 0


def test_bad_map_input():
    with pytest.raises(ValueError, match="'a'"):
        ChialvoMap(a=1.0)
    with pytest.raises(ValueError, match="'param'"):
        find_bifurcations(ChialvoMap(), "q", 0.0, 1.0)
    with pytest.raises(ValueError, match="'hi'"):
        find_bifurcations(ChialvoMap(), "k", 0.1, 0.0)
    with pytest.raises(ValueError, match="escapes"):
        bifurcation_diagram(ChialvoMap(), "k", [-800.0], n_transient=10)
