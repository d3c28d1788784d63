"""Keller-Segel systems: flux operators, mass, dispersion relations, critical masses, limits.

References (see /work/shared/reference/numerics.md, sections 0.4 and 2):
* linear growth rates of the uniform state: minimal parabolic-elliptic
  ``sigma = -k^2 + chi nbar k^2 / (1 + k^2)``; indirect, eps = 0:
  ``sigma = -k^2 + chi nbar k^2 / ((1 + k^2)(1 + tau k^2))``; eps > 0: the largest
  eigenvalue of the 3x3 linearisation; threshold ``chi nbar = (1 + k^2)(1 + tau k^2)``;
* 2-D critical masses on a square with walls: 8 pi / chi (interior), 4 pi / chi (wall),
  2 pi / chi (corner);
* the indirect model with tau > 0 is bounded for every mass in 2-D, the classic
  parabolic-elliptic model blows up above 8 pi (interior).
"""

import dataclasses
import importlib
import math
import re

import h5py
import numpy as np
import pytest
import scipy.fft

import pdesim
from pdesim.cli import main
from pdesim.fft_backends import get_backend
from pdesim.fluxes import FluxOperators
from pdesim.grid import Grid
from pdesim.imex import IMEX
from pdesim.io import read_run, write_run
from pdesim.spectral import SpectralTransform

BACKENDS = ["pyfftw", "scipy"]


# --------------------------------------------------------------------------- operators


def _analytic_case(grid):
    """``n``, ``c``, ``grad c`` and ``div(n grad c)`` of trigonometric fields on ``grid``."""
    x, y = grid.mesh()
    base = np.pi if not grid.periodic else 2 * np.pi
    ax, ay = base / grid.lengths[0], base / grid.lengths[1]
    n = 1 + 0.3 * np.cos(2 * ax * x) * np.cos(ay * y)
    c = np.cos(ax * x) * (1 + 0.5 * np.cos(3 * ay * y))
    cx = -ax * np.sin(ax * x) * (1 + 0.5 * np.cos(3 * ay * y))
    cy = -1.5 * ay * np.cos(ax * x) * np.sin(3 * ay * y)
    nx = -0.6 * ax * np.sin(2 * ax * x) * np.cos(ay * y)
    ny = -0.3 * ay * np.cos(2 * ax * x) * np.sin(ay * y)
    lap_c = -(ax**2) * c - 4.5 * ay**2 * np.cos(ax * x) * np.cos(3 * ay * y)
    return n, c, (cx, cy), nx * cx + ny * cy + n * lap_c


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_gradient_and_flux_divergence_are_exact_on_trigonometric_fields(backend, boundary):
    grid = Grid((3.0, 5.0), (16, 24), boundary=boundary)
    n, c, grad_c, div = _analytic_case(grid)
    transform = SpectralTransform(grid, backend=backend)
    ops = FluxOperators(grid, transform, dealias="none")
    coeffs = transform.forward(np.stack([n, c])[None])
    grad = ops.gradient(coeffs[:, 1])
    np.testing.assert_allclose(grad[0, 0], grad_c[0], atol=1e-12)
    np.testing.assert_allclose(grad[1, 0], grad_c[1], atol=1e-12)
    result = transform.inverse(ops.flux_divergence(coeffs[:, 0], coeffs[:, 1]))
    np.testing.assert_allclose(result[0], div, atol=1e-11 * np.abs(div).max())


def test_flux_divergence_has_no_mean_mode_and_backends_agree():
    rng = np.random.default_rng(3)
    for boundary in ("neumann", "periodic"):
        grid = Grid((2.0, 3.0), (16, 12), boundary=boundary)
        fields = rng.random((3, 2, 16, 12))
        results = []
        for backend in BACKENDS:
            transform = SpectralTransform(grid, backend=backend)
            coeffs = transform.forward(fields)
            ops = FluxOperators(grid, transform)
            results.append(ops.flux_divergence(coeffs[:, 0], coeffs[:, 1]))
            assert np.all(results[-1][:, 0, 0] == 0.0)  # exactly, not to round-off
        np.testing.assert_allclose(results[0], results[1], atol=1e-12 * np.abs(results[1]).max())


def test_r2r_kinds_of_both_backends_match_scipy_definitions():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 6))
    fftw = get_backend("pyfftw")
    for kinds in [("dst2", "dct2"), ("dct2", "dst2"), ("dst3", "dct3"), ("dct3", "dst3")]:
        funcs = {"dct2": scipy.fft.dct, "dst2": scipy.fft.dst}
        inverse = {"dct3": scipy.fft.idct, "dst3": scipy.fft.idst}
        expected = x
        for axis, kind in zip((-2, -1), kinds, strict=True):
            expected = {**funcs, **inverse}[kind](expected, type=2, axis=axis)
        out = np.empty_like(x)
        fftw.execute_r2r(kinds, x.copy(), out)
        np.testing.assert_allclose(out, expected, atol=1e-12)


# --------------------------------------------------------------------------- conservation


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("keller_segel", {"eps_c": 1.0, "boundary": "neumann"}),
        ("keller_segel_indirect", {"eps": 0.1, "boundary": "periodic"}),
    ],
)
def test_mass_is_conserved_over_ten_thousand_steps(name, params):
    system = pdesim.make_system(name, N=32, width=0.4, mass=6 * np.pi, **params)
    run = pdesim.simulate(system, t_end=2.0, dt=2e-4, save_every=0.2, initial="bumps", seed=1)
    n = run.fields["n"][0]
    mass = system.grid.integrate(n)
    assert run.info["n_steps"] == 10_000
    assert abs(mass[0] - 6 * np.pi) < 1e-12 * 6 * np.pi  # the prescribed mass
    assert np.abs(mass / mass[0] - 1).max() < 1e-12
    assert np.abs(n[-1] - n[0]).max() > 0.1 * n[0].max()  # the density did move


# --------------------------------------------------------------------------- linear theory


def _cos_amplitude(grid, n, p=1):
    """Projection of ``n`` on ``cos(p pi x / L)`` (walls) or ``cos(2 p pi x / L)``."""
    x = grid.coords[0]
    k = (np.pi if not grid.periodic else 2 * np.pi) * p / grid.lengths[0]
    mode = np.cos(k * x)
    return (n * mode).sum(axis=-1) / (mode**2).sum()


def _indirect_matrix(k, chi_nbar, eps, tau):
    return np.array(
        [
            [-(k**2), chi_nbar * k**2, 0.0],
            [0.0, -(k**2 + 1) / eps, 1 / eps],
            [1 / eps, 0.0, -(tau * k**2 + 1) / eps],
        ]
    )


def _measured_rate(system, fields, method, t_end=2.0, dt=0.01):
    run = pdesim.simulate(system, t_end=t_end, dt=dt, save_every=t_end / 2, initial=fields[None])
    amp = _cos_amplitude(
        system.grid, run.fields["n"][0] - run.fields["n"][0].mean(axis=-1)[:, None]
    )
    return np.log(amp[2] / amp[1]) / (t_end / 2)


@pytest.mark.parametrize("method", ["imex_sbdf2", "etdrk4"])
@pytest.mark.parametrize(
    ("name", "params", "boundary"),
    [
        ("keller_segel", {"eps_c": 0.0}, "neumann"),
        ("keller_segel", {"eps_c": 0.0}, "periodic"),
        ("keller_segel_indirect", {"eps": 0.0, "tau": 1.0}, "neumann"),
        ("keller_segel_indirect", {"eps": 0.1, "tau": 1.0}, "neumann"),
        ("keller_segel_indirect", {"eps": 1.0, "tau": 0.5}, "neumann"),
        ("keller_segel", {"eps_c": 1.0}, "neumann"),
    ],
)
def test_growth_rate_matches_the_dispersion_relation(name, params, boundary, method):
    length, nbar, chi, delta = 4.0, 3.0, 1.0, 1e-6
    system = pdesim.make_system(
        name, dim=1, L=length, N=32, width=0.4, chi=chi, boundary=boundary, **params
    )
    k = (np.pi if boundary == "neumann" else 2 * np.pi) / length
    eps = params.get("eps", params.get("eps_c"))
    tau = params.get("tau", 0.0)
    if eps == 0:  # tau = 0 gives the minimal model's sigma = -k^2 + chi nbar k^2 / (1 + k^2)
        sigma = -(k**2) + chi * nbar * k**2 / ((1 + k**2) * (1 + tau * k**2))
        vector = None
    else:
        if name == "keller_segel":
            matrix = np.array([[-(k**2), chi * nbar * k**2], [1 / eps, -(k**2 + 1) / eps]])
        else:
            matrix = _indirect_matrix(k, chi * nbar, eps, tau)
        values, vectors = np.linalg.eig(matrix)
        sigma, vector = values.real.max(), vectors[:, values.real.argmax()].real
    mode = np.cos(k * system.grid.coords[0])
    fields = np.full((system.n_fields, 32), nbar)
    if vector is None:  # signals slaved to n: on the elliptic manifold
        fields[0] += delta * mode
    else:  # start on the growing eigenvector, so no transient pollutes the rate
        fields += delta * (vector / vector[0])[:, None] * mode
    rate = _measured_rate(system, fields, method)
    assert rate == pytest.approx(sigma, rel=0.01)
    assert abs(sigma) > 0.05  # a genuine growth rate, not a trivially small one


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_instability_threshold_is_the_same_for_every_eps(eps):
    """Uniform state unstable iff chi nbar > (1 + k1^2)(1 + tau k1^2), whatever eps."""
    length, tau = 4.0, 1.0
    k = np.pi / length
    threshold = (1 + k**2) * (1 + tau * k**2)
    system = pdesim.make_system(
        "keller_segel_indirect", dim=1, L=length, N=32, width=0.4, eps=eps, tau=tau
    )
    mode = np.cos(k * system.grid.coords[0])
    fields = np.empty((2, 3, 32))
    for i, nbar in enumerate((0.97 * threshold, 1.03 * threshold)):
        fields[i] = nbar  # c = w = n on the uniform state
        fields[i, 0] += 1e-6 * mode
    run = pdesim.simulate(system, t_end=60.0, dt=0.05, save_every=20.0, n_traj=2, initial=fields)
    n = run.fields["n"]
    amp = _cos_amplitude(system.grid, n - n.mean(axis=-1, keepdims=True))
    below, above = amp[0, 3] / amp[0, 2], amp[1, 3] / amp[1, 2]
    assert below < 1.0 < above
    # the same threshold from the 3x3 linearisation: det = 0 does not involve eps
    if eps > 0:
        assert np.linalg.eigvals(_indirect_matrix(k, threshold, eps, tau)).real.max() == (
            pytest.approx(0.0, abs=1e-12)
        )


# --------------------------------------------------------------------------- time stepping


def _nonlinear_1d_reference(method, dt, t_end=0.5):
    system = pdesim.make_system(
        "keller_segel_indirect", dim=1, N=64, eps=0.5, tau=0.5, mass=30.0, width=0.3
    )
    run = pdesim.simulate(
        system, t_end=t_end, dt=dt, save_every=t_end, initial="centre", method=method
    )
    return run.fields["n"][0, -1]


def test_imex_orders_against_an_etdrk4_reference():
    reference = _nonlinear_1d_reference("etdrk4", 1e-3)
    for method, order in (("imex_euler", 1.0), ("imex_sbdf2", 2.0)):
        errors = [
            np.abs(_nonlinear_1d_reference(method, dt) - reference).max()
            for dt in (0.01, 0.005, 0.0025)
        ]
        observed = np.log2(np.array(errors[:-1]) / errors[1:])
        assert np.all(np.abs(observed - order) < 0.15), (method, observed)


def test_imex_is_exact_in_the_elliptic_limit_and_asymptotic_preserving():
    kwargs = {"dim": 2, "N": 32, "width": 0.4, "mass": 10.0, "tau": 0.7}
    limit = pdesim.make_system("keller_segel_indirect", eps=0.0, **kwargs)
    run = pdesim.simulate(limit, t_end=0.05, dt=1e-3, save_every=0.05, initial="bumps")
    n, c, w = (run.fields[f][0, -1] for f in "ncw")
    # residuals of 0 = tau Δw - w + n and 0 = Δc - c + w, with numpy's own DCT
    k2 = limit.grid.k_squared

    def laplacian(u):
        return scipy.fft.idctn(-k2 * scipy.fft.dctn(u, type=2), type=2)

    assert np.abs(0.7 * laplacian(w) - w + n).max() < 1e-12 * n.max()
    assert np.abs(laplacian(c) - c + w).max() < 1e-12 * n.max()
    # a tiny eps with a step 1e5 times larger stays stable and O(eps) close to the limit
    tiny = pdesim.make_system("keller_segel_indirect", eps=1e-8, **kwargs)
    run_tiny = pdesim.simulate(tiny, t_end=0.05, dt=1e-3, save_every=0.05, initial="bumps")
    for name in "ncw":
        difference = np.abs(run_tiny.fields[name][0, -1] - run.fields[name][0, -1]).max()
        assert difference < 1e-5 * np.abs(run.fields[name][0, -1]).max()


def test_imex_and_etdrk4_agree_for_order_one_eps():
    system = pdesim.make_system("keller_segel_indirect", dim=2, N=32, width=0.4, mass=20.0)
    results = [
        pdesim.simulate(
            system, t_end=0.1, dt=1e-3, save_every=0.1, initial="centre", method=method
        ).fields["n"][0, -1]
        for method in ("imex_sbdf2", "etdrk4")
    ]
    np.testing.assert_allclose(results[0], results[1], atol=1e-5 * results[1].max())


def test_imex_rejects_couplings_against_the_solve_order():
    with pytest.raises(ValueError, match="solved before"):
        IMEX((1.0, 1.0), np.ones((2, 4)), {(0, 1): 1.0}, lambda u, t, o: None, (0,), 0.1)
    with pytest.raises(ValueError, match="eps = 0"):
        IMEX((1.0, 0.0), np.zeros((2, 4)), {(1, 0): 1.0}, lambda u, t, o: None, (0,), 0.1)


# --------------------------------------------------------------------------- aggregation


_CRITICAL = {"centre": 8 * np.pi, "edge": 4 * np.pi, "corner": 2 * np.pi}


def _bump_run(name, where, mass, t_end, **params):
    system = pdesim.make_system(
        name, dim=2, L=4.0, N=64, width=0.3, background=0.0, mass=mass, **params
    )
    return system, pdesim.simulate(system, t_end=t_end, dt=2.5e-4, save_every=0.005, initial=where)


def _assert_blows_up(name, where, mass, **params):
    system = pdesim.make_system(
        name, dim=2, L=4.0, N=64, width=0.3, background=0.0, mass=mass, **params
    )
    peak0 = system.initial_condition(where, np.random.default_rng(0))[0].max()
    with pytest.raises(pdesim.SimulationDiverged) as info:
        pdesim.simulate(system, t_end=0.2, dt=2.5e-4, save_every=0.005, initial=where)
    error = info.value
    assert error.time < 0.1
    assert "non-finite" not in error.reason  # caught while still finite, no NaN written
    peak = float(re.search(r"max n = ([0-9.e+]+)", error.reason).group(1))
    assert peak > peak0  # aggregating, not spreading


@pytest.mark.parametrize("where", ["centre", "edge", "corner"])
def test_critical_mass_by_location_with_walls(where):
    critical = _CRITICAL[where]
    _, run = _bump_run("keller_segel", where, 0.7 * critical, t_end=0.2)
    n = run.fields["n"][0]
    assert n[-1].max() < 0.6 * n[0].max()  # spreading out: bounded
    _assert_blows_up("keller_segel", where, 1.3 * critical)


@pytest.mark.parametrize("params", [{"eps": 0.0, "tau": 1.0}, {"eps": 1.0, "tau": 1.0}])
def test_indirect_signalling_stays_bounded_at_mass_12_pi(params):
    _, run = _bump_run("keller_segel_indirect", "centre", 12 * np.pi, t_end=0.25, **params)
    peaks = run.fields["n"][0].max(axis=(-2, -1))
    assert peaks[-1] < 0.3 * peaks[0]
    assert np.all(np.diff(peaks[10:]) < 0)  # decaying after the initial transient


@pytest.mark.parametrize(
    ("name", "params"),
    [("keller_segel", {"eps_c": 0.0}), ("keller_segel_indirect", {"eps": 0.0, "tau": 0.0})],
)
def test_classic_model_blows_up_at_mass_12_pi(name, params):
    _assert_blows_up(name, "centre", 12 * np.pi, **params)


# --------------------------------------------------------------------------- limits


def _final_density(eps, initial_signal, t_end=0.5, dt=2.5e-4):
    system = pdesim.make_system(
        "keller_segel_indirect",
        dim=2,
        N=64,
        mass=10.0,
        width=0.3,
        eps=eps,
        tau=1.0,
        initial_signal=initial_signal,
    )
    run = pdesim.simulate(system, t_end=t_end, dt=dt, save_every=t_end, initial="centre")
    return system.grid, run.fields["n"][0, -1]


@pytest.mark.slow
def test_parabolic_elliptic_limit_is_first_order_in_eps_with_prepared_data():
    grid, limit = _final_density(0.0, "prepared")
    epsilons = (0.1, 0.05, 0.025, 0.0125)
    orders = {}
    for start in ("prepared", "zero"):
        errors = [
            np.sqrt(grid.integrate((_final_density(eps, start)[1] - limit) ** 2))
            for eps in epsilons
        ]
        orders[start] = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all((orders["prepared"] >= 0.9) & (orders["prepared"] <= 1.1)), orders
    # ill-prepared data have an initial layer: the order is reached only as eps -> 0
    assert orders["zero"][0] < 0.85, orders


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("keller_segel", {"chi": -1.0}, "'chi' must be"),
        ("keller_segel", {"eps_c": -0.1}, "'eps_c' must be"),
        ("keller_segel_indirect", {"eps": -1e-3}, "'eps' must be"),
        ("keller_segel_indirect", {"tau": -1.0}, "'tau' must be"),
        ("keller_segel", {"mass": 0.0}, "'mass' must be"),
        ("keller_segel_indirect", {"mass": -5.0}, "'mass' must be"),
        ("keller_segel", {"boundary": "open"}, "'boundary' must be one of periodic, neumann"),
        (
            "keller_segel",
            {"boundary": "walls"},
            "value 'walls' of parameter 'boundary' of system 'keller_segel' is now called "
            "'neumann'",
        ),
        (
            "keller_segel_indirect",
            {"boundary": "walls"},
            "value 'walls' of parameter 'boundary' of system 'keller_segel_indirect' is now "
            "called 'neumann'",
        ),
        ("keller_segel", {"dim": 3}, "'dim' must be"),
        ("keller_segel", {"N": 32, "width": 0.2}, "'width' must be >= 3 L / N"),
        ("keller_segel", {"initial_signal": "random"}, "'initial_signal' must be one of"),
    ],
)
def test_bad_parameters_are_rejected(name, params, message):
    with pytest.raises(ValueError, match=message):
        pdesim.make_system(name, **params)


def test_both_chemotaxis_systems_share_one_definition_of_the_domain():
    from pdesim.systems.chemotaxis import ChemotaxisParams

    shared = {f.name: f.metadata for f in dataclasses.fields(ChemotaxisParams)}
    for name, mass in (("keller_segel", 4 * np.pi), ("keller_segel_indirect", 12 * np.pi)):
        assert issubclass(pdesim.SYSTEMS[name].Params, ChemotaxisParams)
        table = {row["name"]: row for row in pdesim.SYSTEMS[name].parameter_table()}
        for field, meta in shared.items():
            assert (table[field]["doc"], table[field]["allowed"]) == (meta["doc"], meta["allowed"])
        assert table["mass"]["default"] == mass


def test_bad_initial_data_are_rejected():
    system = pdesim.make_system("keller_segel", dim=1, N=32, width=0.4)
    fields = system.initial_condition("centre", np.random.default_rng(0))[None].copy()
    fields[0, 0, 3] = -0.01
    with pytest.raises(ValueError, match=r"density n must be >= 0.*min n = -0.01"):
        pdesim.simulate(system, t_end=0.01, dt=1e-3, save_every=0.01, initial=fields)
    with pytest.raises(ValueError, match="mass integral of n must be > 0"):
        pdesim.simulate(system, t_end=0.01, dt=1e-3, save_every=0.01, initial=0 * fields)
    with pytest.raises(ValueError, match="'corner' needs dim = 2"):
        system.initial_condition("corner", np.random.default_rng(0))
    with pytest.raises(ValueError, match="'method' must be one of imex_sbdf2"):
        system.make_stepper(1e-3, "rk4")


# --------------------------------------------------------------------------- initial data


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
@pytest.mark.parametrize("initial", ["bumps", "centre", "edge", "corner", "perturbed"])
def test_initial_conditions_have_the_prescribed_mass_and_are_seeded(boundary, initial):
    system = pdesim.make_system("keller_segel_indirect", N=32, width=0.4, boundary=boundary)
    first, again, other = (
        system.initial_condition(initial, np.random.default_rng(seed)) for seed in (1, 1, 2)
    )
    assert system.grid.integrate(first[0]) == pytest.approx(system.params.mass, rel=1e-13)
    assert first[0].min() >= 0
    np.testing.assert_array_equal(first, again)
    if initial in ("bumps", "perturbed"):
        assert not np.array_equal(first, other)
    assert system.spectral_tail(first[None, 0])[0] < 1e-8  # resolved
    if boundary == "neumann":  # prepared signals: 0 = tau Δw - w + n and 0 = Δc - c + w
        n, c, w = first
        k2 = system.grid.k_squared

        def laplacian(u):
            return scipy.fft.idctn(-k2 * scipy.fft.dctn(u, type=2), type=2)

        assert np.abs(laplacian(w) - w + n).max() < 1e-12 * n.max()
        assert np.abs(laplacian(c) - c + w).max() < 1e-12 * n.max()


def test_zero_signals_option_and_one_dimensional_runs():
    system = pdesim.make_system("keller_segel", dim=1, N=64, eps_c=1.0, initial_signal="zero")
    run = pdesim.simulate(system, t_end=0.5, dt=1e-3, save_every=0.1, n_traj=2, seed=3)
    assert np.all(run.fields["c"][:, 0] == 0)
    assert run.fields["c"][:, -1].max() > 0  # produced by the cells
    assert run.fields["n"].shape == (2, 6, 64)


def test_cli_runs_and_draws_a_log_scaled_density(tmp_path, capsys):
    png, gif = tmp_path / "ks.png", tmp_path / "ks.gif"
    args = ["run", "keller_segel", "--t-end", "0.002", "--dt", "1e-4", "--save-every", "0.001"]
    args += ["--set", "N=32", "--set", "width=0.4", "--set", "mass=8.0", "--quiet"]
    assert main([*args, "--plot", str(png), "--gif", str(gif), "--log-color", "n"]) == 0
    assert png.stat().st_size > 0 and gif.stat().st_size > 0
    assert main([*args, "--log-color", "q"]) == 2
    assert "--log-color 'q' is not a field of keller_segel" in capsys.readouterr().err


@pytest.mark.parametrize(("boundary", "tag"), [("neumann", "WALL"), ("periodic", "PERIODIC")])
def test_files_carry_the_boundary_tag_and_read_back(tmp_path, boundary, tag):
    system = pdesim.make_system("keller_segel", dim=1, N=32, width=0.4, boundary=boundary)
    run = pdesim.simulate(system, t_end=0.01, dt=1e-3, save_every=0.005, initial="centre")
    path = write_run(tmp_path / "ks.hdf5", run)
    with h5py.File(path, "r") as h5:
        tags = {g.attrs["bc_type"] for g in h5["boundary_conditions"].values()}
    assert tags == {tag}
    back = read_run(path)
    np.testing.assert_allclose(back.fields["n"], run.fields["n"], rtol=1e-6)


def test_sbdf2_run_resumed_from_a_checkpoint_is_bit_identical(tmp_path, monkeypatch):
    system = pdesim.make_system("keller_segel_indirect", N=32, width=0.4, mass=20.0, eps=0.1)
    kwargs = {"t_end": 0.04, "dt": 1e-3, "save_every": 0.01, "initial": "bumps", "seed": 2}
    whole = pdesim.simulate(system, **kwargs)
    ckpt = {"checkpoint": tmp_path / "run.ckpt.npz", "checkpoint_every": 0.01}
    calls = []
    # progress at saved frames only, however slow the machine (not every 0.5 s too)
    monkeypatch.setattr(importlib.import_module("pdesim.simulate"), "PROGRESS_SECONDS", math.inf)

    def interrupt(done, total):
        calls.append(done)
        if len(calls) == 3:  # at t = 0.02: the checkpoint of t = 0.01 holds an SBDF2 history
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pdesim.simulate(system, progress=interrupt, **ckpt, **kwargs)
    assert (tmp_path / "run.ckpt.npz").exists()
    resumed = pdesim.simulate(system, resume=True, **ckpt, **kwargs)
    for name in "ncw":
        np.testing.assert_array_equal(resumed.fields[name], whole.fields[name])
