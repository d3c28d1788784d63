"""CDE solvers against a linear CDE with a closed form; SLiCE scans; log-ODE brackets."""

import itertools
import math

import pytest
import torch

from surrogates.models.ncde.logsig import bracket_term, levy_area, logode_solve, logode_step
from surrogates.models.ncde.paths import hermite, linear
from surrogates.models.ncde.slice import SLiCE, hadamard_matrix, scan_parallel, scan_sequential
from surrogates.models.ncde.solvers import cdeint

pytestmark = pytest.mark.usefixtures("float64_torch")


def _commuting(h=3, seed=0):
    """Two commuting matrices: polynomials of one random matrix."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(h, h, generator=g) / h
    return 0.7 * m, 0.3 * torch.eye(h) - 0.5 * m @ m


def _linear_field(mats):
    stack = torch.stack(mats, -1)  # (H, H, C)

    def field(z):  # f(z)[:, :, i] = M_i z
        return torch.einsum("hkc,bk->bhc", stack, z)

    return field


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk4", 4)])
def test_linear_cde_converges_at_the_solver_order(method, order):
    """dz = sum_i M_i z dX^i with commuting M_i: z(t) = expm(sum_i M_i (X^i(t) - X^i(0))) z0,
    on a Hermite cubic path (nonlinear in s on each interval)."""
    mats = _commuting()
    t = torch.tensor([0.0, 0.7, 1.5, 2.0])
    x = torch.stack([torch.sin(2 * t), t**2 - t], -1)[None]
    slopes = torch.stack([2 * torch.cos(2 * t), 2 * t - 1], -1)[None]
    path = hermite(t, x, slopes)
    z0 = torch.tensor([[1.0, -0.5, 0.25]])
    exact = torch.stack(
        [
            torch.linalg.matrix_exp(sum(m * (x[0, k, i] - x[0, 0, i]) for i, m in enumerate(mats)))
            @ z0[0]
            for k in range(4)
        ]
    )
    errors = []
    for n_sub in (4, 8, 16):
        z = cdeint(z0, _linear_field(mats), path, method, n_sub)
        errors.append(float((z[0] - exact).abs().max()))
    rates = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(abs(r - order) < 0.3 for r in rates), (errors, rates)


def test_cdeint_rejects_bad_options():
    path = linear(torch.arange(2.0), torch.zeros(1, 2, 1))
    with pytest.raises(ValueError, match="method"):
        cdeint(torch.zeros(1, 1), lambda z: z[..., None], path, "heun")
    with pytest.raises(ValueError, match="n_sub"):
        cdeint(torch.zeros(1, 1), lambda z: z[..., None], path, "rk4", 0)


@pytest.mark.parametrize("kind", ["diagonal", "block", "hadamard"])
def test_parallel_scan_equals_sequential_recurrence(kind):
    torch.manual_seed(0)
    layer = SLiCE(5, 3, 8, kind=kind, block_size=4)
    x, dx = torch.randn(4, 37, 5), torch.randn(4, 37, 3)
    h0 = torch.randn(4, 8)
    a, u = layer.transitions(x), layer.to_u(dx)
    par, seq = scan_parallel(a, u, h0, kind), scan_sequential(a, u, h0, kind)
    assert (par - seq).abs().max() < 1e-10
    # and both are the plain recurrence with the dense A
    if kind == "diagonal":
        dense = torch.diag_embed(a)
    elif kind == "block":
        dense = torch.stack([torch.stack([torch.block_diag(*m) for m in row]) for row in a])
    else:
        dense = a
    h = h0
    for k in range(37):
        h = (dense[:, k] @ h[..., None])[..., 0] + u[:, k]
    assert (h - par[:, -1]).abs().max() < 1e-10


@pytest.mark.parametrize("kind", ["diagonal", "block", "hadamard"])
def test_contractive_slice_stays_bounded_over_1e4_steps(kind):
    torch.manual_seed(1)
    layer = SLiCE(4, 4, 8, kind=kind, rho=0.99)
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(30.0)  # large weights: the parametrisation, not small init, bounds it
        x, dx = 10 * torch.randn(2, 10_000, 4), torch.randn(2, 10_000, 4)
        a = layer.transitions(x)
        norms = torch.linalg.matrix_norm(torch.diag_embed(a) if kind == "diagonal" else a, ord=2)
        assert float(norms.max()) <= 0.99 + 1e-12
        h = layer(x, dx)
        u = layer.to_u(dx).norm(dim=-1).max()
    assert torch.isfinite(h).all()
    assert float(h.norm(dim=-1).max()) <= float(u) / (1 - 0.99)


def test_hadamard_matrix_is_orthogonal():
    h = hadamard_matrix(8)
    assert torch.allclose(h @ h.T, torch.eye(8), atol=1e-12)
    with pytest.raises(ValueError, match="power of two"):
        hadamard_matrix(6)


def test_levy_area_of_a_rectangle_corner():
    x = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [2.0, 3.0]]])
    area = levy_area(x)[0]
    assert torch.allclose(area, torch.tensor([[0.0, 3.0], [-3.0, 0.0]]))


def _corner_errors(eps, sign):
    """Path e1 by a then e2 by b; exact flow expm(b M2) expm(a M1) z0."""
    g = torch.Generator().manual_seed(3)
    m1, m2 = torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g)
    field = _linear_field([m1, m2])
    a, b = eps, -1.3 * eps
    knots = torch.tensor([[[0.0, 0.0], [a, 0.0], [a, b]]])
    z0 = torch.tensor([[1.0, 0.5, -0.3]])
    exact = torch.linalg.matrix_exp(b * m2) @ torch.linalg.matrix_exp(a * m1) @ z0[0]
    area = sign * levy_area(knots)
    z = logode_step(field, z0, knots[:, -1] - knots[:, 0], area, n_sub=4)
    return float((z[0] - exact).abs().max())


def test_log_ode_bracket_sign_on_a_linear_cde():
    """Correct bracket sign: local error O(eps^3); flipped: O(eps^2) (BCH)."""
    eps = [0.1, 0.05, 0.025]
    right = [_corner_errors(e, 1.0) for e in eps]
    wrong = [_corner_errors(e, -1.0) for e in eps]
    rate = lambda errs: math.log2(errs[-2] / errs[-1])  # noqa: E731
    assert rate(right) > 2.7, right
    assert abs(rate(wrong) - 2) < 0.3, wrong
    assert right[-1] < 0.1 * wrong[-1]


def test_bracket_term_matches_matrix_commutator():
    g = torch.Generator().manual_seed(4)
    m1, m2 = torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g)
    z = torch.randn(2, 3, generator=g)
    area = torch.tensor([[0.0, 0.7], [-0.7, 0.0]]).expand(2, 2, 2)
    got = bracket_term(_linear_field([m1, m2]), z, area)
    assert torch.allclose(got, 0.7 * z @ (m2 @ m1 - m1 @ m2).T, atol=1e-12)


def test_logode_solve_equals_exact_flow_for_commuting_fields():
    """Commuting linear fields: brackets vanish and the log-ODE flow is the exact flow
    (up to the RK4 error of the window's ODE)."""
    mats = _commuting()
    knots = torch.randn(1, 6, 2, generator=torch.Generator().manual_seed(5)) * 0.3
    z0 = torch.tensor([[1.0, 2.0, -1.0]])
    z = logode_solve(_linear_field(mats), z0, knots, window=2, n_sub=8)
    for k in range(6):
        gen = sum(m * (knots[0, k, i] - knots[0, 0, i]) for i, m in enumerate(mats))
        assert torch.allclose(z[0, k], torch.linalg.matrix_exp(gen) @ z0[0], atol=1e-6)
