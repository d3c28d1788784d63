"""ETDRK4: coefficients, exactness on linear problems and measured convergence order."""

import numpy as np
import pytest

import pdesim
from pdesim.integrators import ETDRK4, etdrk4_coefficients


def _zero(state, t, out):
    out.fill(0.0)


def test_coefficients_match_closed_forms_and_small_z_limits():
    h = 0.3
    lam = np.array([-40.0, -3.0, -0.5, 0.0, 1e-9, 0.7])
    c = etdrk4_coefficients(lam, h)
    z = h * lam[[0, 1, 2, 5]]
    ez = np.exp(z)
    closed = {
        "Q": h * (np.exp(z / 2) - 1) / z,
        "f1": h * (-4 - z + ez * (4 - 3 * z + z**2)) / z**3,
        "f2x2": 2 * h * (2 + z + ez * (z - 2)) / z**3,
        "f3": h * (-4 - 3 * z - z**2 + ez * (4 - z)) / z**3,
    }
    for name, expected in closed.items():
        np.testing.assert_allclose(getattr(c, name)[[0, 1, 2, 5]], expected, rtol=1e-10)
    # z -> 0: Q -> h/2, f1 = f2 = f3 -> h/6 (where the closed forms cancel catastrophically)
    for i in (3, 4):
        np.testing.assert_allclose(
            [c.Q[i], c.f1[i], c.f2x2[i] / 2, c.f3[i]], [h / 2, h / 6, h / 6, h / 6], rtol=1e-8
        )


def test_linear_step_is_the_exact_exponential():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    rng = np.random.default_rng(0)
    u = system.transform.forward(system.initial_condition("random", rng)[None])
    dt = 0.25
    k = 2 * np.pi * np.arange(33) / 22.0
    expected = np.exp(dt * (k**2 - k**4)) * u
    ETDRK4(system.linear_operator(), _zero, dt).step(u, 0.0)
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_constant_forcing_is_integrated_exactly():
    # u' = lam u + f has the solution e^{lam t} u0 + f (e^{lam t} - 1) / lam.
    lam = np.array([[-50.0, -1.0, 0.3 + 2j]])
    force = np.array([[2.0, -1.0, 0.5j]])

    def constant(state, t, out):
        out[...] = force

    u = np.ones((1, 1, 3), dtype=complex)
    stepper = ETDRK4(lam, constant, 0.1)
    for n in range(20):
        stepper.step(u, n * 0.1)
    e = np.exp(lam * 2.0)
    np.testing.assert_allclose(u[0], e + force * (e - 1) / lam, rtol=1e-12)


def _final_state(system, dt, t_end, initial):
    run = pdesim.simulate(system, t_end=t_end, dt=dt, save_every=t_end, initial=initial)
    return run.fields["u"][0, -1]


def _observed_orders(system, dts, t_end, initial, dt_ref):
    reference = _final_state(system, dt_ref, t_end, initial)
    errors = [np.abs(_final_state(system, dt, t_end, initial) - reference).max() for dt in dts]
    return np.log2(np.array(errors[:-1]) / np.array(errors[1:])), errors


def test_fourth_order_on_viscous_burgers():
    system = pdesim.make_system("burgers", nu=0.01, L=2 * np.pi, N=64)
    orders, errors = _observed_orders(system, [0.1, 0.05, 0.025, 0.0125], 1.0, "sine", 1 / 1024)
    assert orders.min() >= 3.7, (orders, errors)


def test_stiff_order_on_kuramoto_sivashinsky():
    system = pdesim.make_system("ks1d", L=22.0, N=64)
    dts = [0.5, 0.25, 0.125, 0.0625, 0.03125]
    orders, errors = _observed_orders(system, dts, 10.0, "kassam_trefethen", 1 / 512)
    assert orders.min() >= 2.8, (orders, errors)
    assert orders.max() < 4.6, (
        orders,
        errors,
    )  # a much larger "order" would mean a wrong reference


def test_etdrk4_rejects_bad_steps():
    with pytest.raises(ValueError, match="'dt'"):
        ETDRK4(np.zeros(3), _zero, 0.0)
    with pytest.raises(TypeError, match="'dt'"):
        ETDRK4(np.zeros(3), _zero, "0.1")


def _quadratic(state, t, out):
    np.multiply(state, state, out=out)
    out *= 0.1


def test_a_folded_nonlinear_scale_equals_scaling_the_nonlinear_term():
    # du/dt = L u + S N(u): S in the coefficients or applied to N give the same steps
    # (a complex S on a real L, as the 1-D advection term's -i k / 2 gives)
    rng = np.random.default_rng(1)
    lam = -rng.uniform(0.0, 30.0, (1, 16))
    scale = rng.uniform(-2.0, 2.0, (1, 16)) + 1j * rng.uniform(-2.0, 2.0, (1, 16))
    u0 = (rng.standard_normal((3, 1, 16)) + 1j * rng.standard_normal((3, 1, 16))) * 0.5

    def scaled(state, t, out):
        _quadratic(state, t, out)
        out *= scale

    folded, applied = u0.copy(), u0.copy()
    with_scale = ETDRK4(lam, _quadratic, 0.05, nonlinear_scale=scale)
    plain = ETDRK4(lam, scaled, 0.05)
    for n in range(10):
        with_scale.step(folded, 0.05 * n)
        plain.step(applied, 0.05 * n)
    np.testing.assert_allclose(folded, applied, rtol=1e-13, atol=1e-15)


def test_etdrk4_rejects_a_bad_nonlinear_scale():
    with pytest.raises(TypeError, match="'nonlinear_scale'"):
        ETDRK4(np.zeros(3), _zero, 0.1, nonlinear_scale=np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"'nonlinear_scale'.*broadcast"):
        ETDRK4(np.zeros(3), _zero, 0.1, nonlinear_scale=np.ones(4))
