"""Fused kernels agree with the numpy expressions they replace, for every operand kind."""

import numpy as np
import pytest

from pdesim import kernels
from pdesim.integrators import ETDRK4


def _array(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


@pytest.mark.parametrize(
    ("state", "coef", "lead"),
    [
        (np.complex128, np.float64, 1),
        (np.complex128, np.complex128, 1),
        (np.float64, np.float64, 1),
        (np.complex128, np.float64, 3),  # one coefficient row per trajectory
    ],
)
def test_etdrk4_kernels_match_numpy(state, coef, lead):
    rng = np.random.default_rng(0)
    u, nu, na, nb, nc, a = (_array(rng, (3, 10), state) for _ in range(6))
    e, e2, q, f1, f2, f3 = (_array(rng, (lead, 10), coef) for _ in range(6))
    out = np.empty_like(u)
    kernels.linear_combination(u, e2, nu, q, out)
    np.testing.assert_allclose(out, e2 * u + q * nu, rtol=1e-14)
    kernels.scale(u, e2, out)
    np.testing.assert_allclose(out, e2 * u, rtol=1e-15)
    kernels.etdrk4_third_stage(a, e2, q, nb, nu, out)
    np.testing.assert_allclose(out, e2 * a + q * (2 * nb - nu), rtol=1e-14)
    expected = e * u + f1 * nu + f2 * (na + nb) + f3 * nc
    kernels.etdrk4_update(u, e, f1, nu, f2, na, nb, f3, nc)
    np.testing.assert_allclose(u, expected, rtol=1e-13)


def test_field_kernels_match_numpy():
    rng = np.random.default_rng(1)
    x = _array(rng, (2, 12), np.complex128)
    k0, k1 = (_array(rng, (1, 12), np.float64) for _ in range(2))
    out0, out1 = np.empty_like(x), np.empty_like(x)
    kernels.derivative_pair(x, k0, k1, out0, out1)
    np.testing.assert_allclose(out0, 1j * k0 * x, rtol=1e-15)
    np.testing.assert_allclose(out1, 1j * k1 * x, rtol=1e-15)
    g0, g1, h0, h1 = (_array(rng, (2, 12), np.float64) for _ in range(4))
    expected_squares, expected_products = g0**2 + g1**2, g0 * h0 + g1 * h1
    out = np.empty_like(g0)
    kernels.sum_of_squares(g0, g1, out)
    np.testing.assert_allclose(out, expected_squares, rtol=1e-15)
    kernels.product_sum(g0, h0, g1, h1, g0)  # in place on an operand
    np.testing.assert_allclose(g0, expected_products, rtol=1e-15)


def test_rows_is_a_view_or_an_error():
    x = np.zeros((2, 3, 4, 5))
    view = kernels.rows(x[:, :1])  # one field of several: still a view
    view[...] = 1.0
    assert x[:, 0].sum() == 40 and x[:, 1:].sum() == 0
    with pytest.raises(AttributeError):
        kernels.rows(x[:, :, ::2])


def test_per_trajectory_operators_step_like_separate_runs():
    rng = np.random.default_rng(2)
    linear = -rng.uniform(0.1, 50.0, size=(3, 1, 8))  # one operator per trajectory

    def quadratic(state, t, out):
        np.multiply(state, state, out=out)
        out *= -0.1

    u = _array(rng, (3, 1, 8), np.complex128)
    separate = u.copy()
    batched = ETDRK4(linear, quadratic, 0.05)
    for n in range(10):
        batched.step(u, 0.05 * n)
    for i in range(3):
        one = ETDRK4(linear[i], quadratic, 0.05)
        state = separate[i : i + 1]
        for n in range(10):
            one.step(state, 0.05 * n)
    np.testing.assert_allclose(u, separate, rtol=1e-14)


def test_linear_operator_that_does_not_fit_the_batch_is_refused():
    stepper = ETDRK4(-np.ones((2, 1, 4)), lambda s, t, out: out.fill(0.0), 0.1)
    with pytest.raises(ValueError, match="does not fit"):
        stepper.step(np.zeros((3, 1, 4), complex), 0.0)
