"""The chialvo_ring_star system: graph, couplings, batched sweeps, synchrony, files, CLI."""

import h5py
import numpy as np
import pytest

import pdesim
from pdesim.cli import main
from pdesim.diagnostics import kuramoto_order_parameter, network_cross_correlation
from pdesim.graph import diffusion_matrix, graph_triangles, ring_diffusion, ring_star_adjacency
from pdesim.io import read_fields, write_run
from pdesim.maps import ChialvoMap, master_stability_function, step
from pdesim.maps import fixed_points as node_fixed_points


def make(**params):
    return pdesim.make_system("chialvo_ring_star", **params)


def iterate(system, initial, n, stepper=None):
    """Every state of ``n`` iterations, shape ``(n + 1, batch, 2, N)``."""
    stepper = stepper or system.make_stepper(1.0)
    state = stepper.to_state(initial)
    out = [state.copy()]
    for i in range(n):
        stepper.step(state, float(i))
        out.append(state.copy())
    return np.array(out)


def random_initial(n_traj, n_nodes, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n_traj, 2, n_nodes))


def test_smallest_ring_star_is_the_complete_graph_k4():
    system = pdesim.make_system("chialvo_ring_star", preset="smallest_ring_star")
    adj = system.grid.adjacency
    np.testing.assert_array_equal(adj, np.ones((4, 4)) - np.eye(4))
    assert system.grid.triangles.tolist() == [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]
    assert system.grid.shape == (4,) and system.grid.axis_names == ("node",)


def test_ring_star_adjacency_counts_edges():
    n, r = 9, 3  # ring of 8 nodes, 3 neighbours per side
    adj = ring_star_adjacency(n, r, 1.0, 1.0)
    degree = adj.sum(axis=1)
    assert degree[0] == n - 1 and np.all(degree[1:] == 2 * r + 1)
    assert np.array_equal(adj, adj.T)
    # brute-force triangle count against the closed walks of length 3: trace(A^3) / 6
    assert len(graph_triangles(adj)) == round(np.trace(adj @ adj @ adj) / 6)


def test_uncoupled_nodes_follow_the_single_map():
    system = make(b=0.18, k=0.03, k_spread=0.01, N=5, R=1)
    states = iterate(system, random_initial(1, 5), 50)[:, 0]
    for node in range(5):
        k_i = 0.03 + 0.01 * (2 * node / 4 - 1)
        x, y = states[0, :, node]
        for n in range(1, 51):
            x, y = step(x, y, 0.89, 0.18, 0.28, k_i)
            assert states[n, 0, node] == pytest.approx(x, rel=1e-13, abs=1e-15)
            assert states[n, 1, node] == pytest.approx(y, rel=1e-13, abs=1e-15)


def test_ring_star_coupling_equals_the_graph_laplacian():
    """Star + ring terms against the dense weighted Laplacian of the same graph."""
    n, r, mu, sigma = 12, 2, 0.03, 0.2
    system = make(N=n, R=r, mu=mu, sigma=sigma)
    x = np.random.default_rng(1).standard_normal((3, n))
    weights = ring_star_adjacency(n, r, mu, sigma / (2 * r))
    expected = x @ diffusion_matrix(weights).T
    got = system.make_stepper(1.0).coupling(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize(("m", "r"), [(1000, 37), (999, 1), (64, 31)])
def test_fft_ring_laplacian_equals_the_direct_sum(m, r):
    x = np.random.default_rng(2).standard_normal((4, m))
    direct = x @ diffusion_matrix(ring_star_adjacency(m + 1, r, 0.0, 1.0))[1:, 1:].T
    scale = np.abs(direct).max()
    assert np.abs(ring_diffusion(x, r, "fft") - direct).max() < 1e-12 * scale
    assert np.abs(ring_diffusion(x, r, "roll") - direct).max() < 1e-12 * scale


def test_fft_and_direct_ring_methods_give_the_same_network_trajectory():
    params = {"N": 201, "R": 40, "b": 0.18, "k": 0.03, "mu": 0.002, "sigma": 0.3}
    initial = random_initial(2, 201)
    fft = iterate(make(ring_method="fft", **params), initial, 30)
    roll = iterate(make(ring_method="roll", **params), initial, 30)
    assert np.isfinite(fft).all() and np.abs(fft - roll).max() < 1e-10
    dense = iterate(make(ring_method="dense", **params), initial, 30)
    assert np.abs(fft - dense).max() < 1e-10


def test_linear_triadic_coupling_reduces_to_pairwise_on_k4():
    """Every K4 edge lies in two triangles: (sigma1, sigma2) == pairwise sigma1 + 2 sigma2."""
    s1, s2 = 0.01, 0.02
    base = {"N": 4, "R": 1, "b": 0.18, "k": 0.03, "ring_norm": "none"}
    higher = make(mu=s1, sigma=s1, sigma2=s2, **base)
    pairwise = make(mu=s1 + 2 * s2, sigma=s1 + 2 * s2, **base)
    initial = random_initial(3, 4, seed=5)
    a, b = iterate(higher, initial, 150), iterate(pairwise, initial, 150)
    diff = np.abs(a - b).max(axis=(1, 2, 3))
    assert diff[:20].max() < 1e-13  # round-off, then amplified by the chaotic dynamics
    assert diff.max() < 1e-9
    # the nodes are not synchronised from the start: the check is not trivial
    assert np.ptp(a[:, :, 0], axis=-1).max(axis=0).min() > 1e-2
    # without the ring triangle (sigma2_ring = 0) the edges 1-2, 1-3, 2-3 lie in one
    # triangle only: weights sigma1 + 2 sigma2 on spokes and sigma1 + sigma2 on the ring
    no_ring = make(mu=s1, sigma=s1, sigma2=s2, sigma2_ring=0.0, **base)
    mixed = make(mu=s1 + 2 * s2, sigma=s1 + s2, **base)
    assert np.abs(iterate(no_ring, initial, 50) - iterate(mixed, initial, 50)).max() < 1e-12


def test_cubic_higher_order_form():
    """Hand-computed sum over the triangles of K4 for one state."""
    system = make(N=4, R=1, sigma2=0.1, higher_order="cubic")
    x = np.array([[0.3, -0.2, 0.5, 0.9]])
    expected = np.zeros(4)
    for tri in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]:
        for i in tri:
            j, k = (v for v in tri if v != i)
            expected[i] += 0.5 * (x[0, j] ** 2 * x[0, k] + x[0, k] ** 2 * x[0, j]) - x[0, i] ** 3
    got = system.make_stepper(1.0).coupling(x)
    np.testing.assert_allclose(got[0], 0.1 * expected, rtol=1e-14)


def test_custom_adjacency_and_simplices():
    adj = np.zeros((5, 5))
    for i, j in [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4)]:
        adj[i, j] = adj[j, i] = 0.05 * (i + j)
    system = make(N=5, adjacency=adj.tolist(), simplices=[[0, 1, 2]], sigma2=0.02)
    x = np.random.default_rng(3).standard_normal((2, 5))
    expected = x @ diffusion_matrix(adj).T
    for i, (j, k) in zip((0, 1, 2), ((1, 2), (0, 2), (0, 1)), strict=True):
        expected[:, i] += 0.02 * (x[:, j] + x[:, k] - 2 * x[:, i])
    np.testing.assert_allclose(system.make_stepper(1.0).coupling(x), expected, atol=1e-15)


def test_a_batch_of_parameter_values_equals_one_run_per_value():
    base = make(N=7, R=2, b=0.18, k=0.03, mu=0.01, sigma=0.1, sigma2=0.01)
    k = np.linspace(0.02, 0.05, 5)
    sigma = np.linspace(0.0, 0.4, 5)
    initial = random_initial(5, 7, seed=4)
    batched = iterate(base, initial, 100, base.sweep_stepper({"k": k, "sigma": sigma}))
    for i in range(5):
        single = make(N=7, R=2, b=0.18, k=k[i], mu=0.01, sigma=sigma[i], sigma2=0.01)
        alone = iterate(single, initial[i : i + 1], 100)[:, 0]
        # equal up to round-off (matrix products may round differently per batch size)
        np.testing.assert_allclose(batched[:20, i], alone[:20], rtol=0, atol=1e-13)
        np.testing.assert_allclose(batched[:, i], alone, rtol=0, atol=1e-9)


def test_simulate_runs_a_map_with_odd_node_count():
    system = make(N=7, R=2, b=0.18, k=0.03, sigma=0.1, mu=0.01)
    run = pdesim.simulate(system, t_end=500, dt=1.0, save_every=5.0, t_warmup=100, n_traj=3)
    assert run.fields["x"].shape == (3, 81, 7)
    np.testing.assert_array_equal(run.t, np.arange(100.0, 501.0, 5.0))
    # frames are the iterates: the same run saved every iteration contains them
    dense = pdesim.simulate(system, t_end=500, dt=1.0, save_every=1.0, n_traj=3)
    np.testing.assert_array_equal(run.fields["x"], dense.fields["x"][:, 100::5])


def test_noise_is_reproducible_and_independent_of_batching():
    system = make(b=0.18, k=0.03, noise=1e-3)
    one = pdesim.simulate(system, t_end=100, dt=1.0, save_every=1.0, n_traj=3, batch_size=1)
    three = pdesim.simulate(system, t_end=100, dt=1.0, save_every=1.0, n_traj=3, batch_size=3)
    np.testing.assert_array_equal(one.fields["x"], three.fields["x"])
    quiet = pdesim.simulate(make(b=0.18, k=0.03), t_end=100, dt=1.0, save_every=1.0, n_traj=3)
    increments = three.fields["x"][:, 1] - quiet.fields["x"][:, 1]
    assert 1e-5 < np.abs(increments).max() < 1e-2


def test_chaotic_nodes_synchronise_in_the_msf_stable_window():
    node = ChialvoMap(b=0.18, k=0.03)
    alphas = np.linspace(0.0, 0.8, 17)
    msf = master_stability_function(node, alphas, n_iter=10000)
    assert msf[0] > 0  # the node is chaotic
    alpha = alphas[np.argmin(msf)]  # deep inside the stable window Lambda < 0
    assert msf.min() < -0.05
    # K4 with uniform weight sigma: Laplacian eigenvalues 0, 4 sigma (x3)
    common = {"preset": "smallest_ring_star", "sigma2": 0.0}
    synced = pdesim.make_system("chialvo_ring_star", mu=alpha / 4, sigma=alpha / 4, **common)
    free = pdesim.make_system("chialvo_ring_star", mu=0.0, sigma=0.0, **common)
    kwargs = {"t_end": 4000, "dt": 1.0, "save_every": 1.0, "t_warmup": 2000, "n_traj": 2}
    on, off = pdesim.simulate(synced, **kwargs), pdesim.simulate(free, **kwargs)
    for i in range(2):
        assert network_cross_correlation(on.fields["x"][i]) > 0.999
        assert network_cross_correlation(off.fields["x"][i]) < 0.5
        assert kuramoto_order_parameter(on.fields["x"][i], on.fields["y"][i]) > 0.999
        assert kuramoto_order_parameter(off.fields["x"][i], off.fields["y"][i]) < 0.8
    # an alpha where the MSF is positive does not synchronise
    weak = alphas[1]
    assert msf[1] > 0
    desync = pdesim.simulate(
        pdesim.make_system("chialvo_ring_star", mu=weak / 4, sigma=weak / 4, **common), **kwargs
    )
    assert network_cross_correlation(desync.fields["x"][0]) < 0.99


def test_escape_to_infinity_is_reported_with_its_iteration():
    system = make(b=0.18, k=0.03)
    initial = random_initial(3, 4)
    initial[1, 0, 2] = -800.0  # x^2 exp(y - x) overflows at the first iteration
    with pytest.raises(pdesim.SimulationDiverged) as info:
        pdesim.simulate(system, t_end=50, dt=1.0, save_every=10.0, n_traj=3, initial=initial)
    assert info.value.trajectory == 1 and info.value.time == 1.0
    # strong star coupling: the unstable mode 1 - N mu grows until the orbit escapes
    strong = make(b=0.18, k=0.03, mu=1.5)
    initial = random_initial(1, 4, seed=7)
    with pytest.raises(pdesim.SimulationDiverged) as info:
        pdesim.simulate(strong, t_end=100, dt=1.0, save_every=10.0, initial=initial)
    states = iterate(strong, initial, int(info.value.time))
    first_bad = np.nonzero(~(np.isfinite(states) & (np.abs(states) <= 1e6)).all(axis=(1, 2, 3)))
    assert info.value.time == first_bad[0][0] > 1
    assert "exceeds 1e+06" in info.value.reason  # the system names the cause


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"N": 1}, "'N'"),
        ({"N": 6, "R": 3}, r"'R'.*\(N-2\)/2"),
        ({"N": 3, "R": 1}, "'R'"),
        ({"higher_order": "quadratic"}, "'higher_order'"),
        ({"a": 1.0}, "'a'"),
        ({"b": -0.1}, "'b'"),
        ({"ring_norm": "mean"}, "'ring_norm'"),
        ({"noise": -1.0}, "'noise'"),
        ({"N": 3, "R": 0, "adjacency": [[0, 1], [1, 0]]}, "'adjacency'"),
        ({"N": 2, "R": 0, "adjacency": [[0, 1], [1, 0]], "mu": 0.1}, "'mu'"),
        ({"simplices": [[0, 1, 7]]}, "'simplices'"),
        ({"simplices": [[0, 1, 1]]}, "'simplices'"),
    ],
)
def test_bad_input_names_the_parameter(params, match):
    with pytest.raises(ValueError, match=match):
        make(**params)


def test_bad_sweeps_and_steps():
    system = make()
    with pytest.raises(ValueError, match="'dt'"):
        system.make_stepper(0.5)
    with pytest.raises(ValueError, match="sweep parameter"):
        system.sweep_stepper({"N": [4, 5]})
    stepper = system.sweep_stepper({"k": [0.01, 0.02]})
    with pytest.raises(ValueError, match="batch of 2"):
        stepper.to_state(random_initial(3, 4))
    with pytest.raises(TypeError, match="'R'"):
        make(R=1.5)


def test_graph_file_layout(tmp_path):
    system = pdesim.make_system("chialvo_ring_star", preset="smallest_ring_star", N=7, R=2)
    run = pdesim.simulate(system, t_end=20, dt=1.0, save_every=1.0, n_traj=2, seed=1)
    path = write_run(tmp_path / "net.h5", run)
    fields, _, attrs = read_fields(path)
    np.testing.assert_array_equal(fields["x"], run.fields["x"].astype(np.float32))
    assert attrs["grid_type"] == "graph" and attrs["n_spatial_dims"] == 1
    with h5py.File(path) as h5:
        assert list(h5["dimensions"].attrs["spatial_dims"]) == ["node"]
        np.testing.assert_array_equal(h5["dimensions/node"][()], np.arange(7))
        assert len(h5["boundary_conditions"]) == 0
        np.testing.assert_array_equal(h5["graph/adjacency"][()], system.grid.adjacency)
        np.testing.assert_array_equal(h5["graph/weights"][()], system.grid.weights)
        np.testing.assert_array_equal(h5["graph/triangles"][()], system.grid.triangles)
        assert not h5["graph/adjacency"].attrs["time_varying"]
        assert not h5["graph/adjacency"].attrs["sample_varying"]
        assert list(h5["t0_fields/x"].attrs["dim_varying"]) == [True]


def test_cli_run_plot_and_bifurcation(tmp_path, capsys):
    png = tmp_path / "net.png"
    argv = ["run", "chialvo_ring_star", "--preset", "chaotic", "--set", "N=9", "--set", "R=2"]
    argv += ["--t-end", "300", "--plot", str(png), "--quiet"]
    assert main(argv) == 0
    assert png.stat().st_size > 10_000
    bif = tmp_path / "bif.png"
    argv = ["bifurcation", "chialvo_ring_star", "--param", "k", "--range", "-0.06", "0.13"]
    argv += ["--n-values", "100", "--n-transient", "500", "--n-keep", "50", "--out", str(bif)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "neimark-sacker at k = 0.0302" in out and "period-doubling at k = -0.0472" in out
    assert bif.stat().st_size > 10_000
    argv = ["bifurcation", "chialvo_ring_star", "--param", "z", "--range", "0", "1"]
    assert main([*argv, "--out", "x"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"N": 4, "R": 1, "mu": 0.02, "sigma": 0.03, "sigma2": 0.01},
        {"N": 4, "R": 1, "mu": 0.02, "sigma2": 0.05, "sigma2_ring": 0.01, "higher_order": "cubic"},
        {"N": 9, "R": 3, "mu": 0.01, "sigma": 0.2, "sigma2": 0.004, "ring_method": "fft"},
    ],
)
def test_network_jacobian_matches_finite_differences(params):
    system = make(b=0.18, k=0.03, **params)
    n = system.params.N
    state = random_initial(1, n, seed=9)[0]
    stepper = system.make_stepper(1.0)
    h = 1e-6
    fd = np.empty((2 * n, 2 * n))
    for col in range(2 * n):
        plus, minus = state.copy(), state.copy()
        plus.flat[col] += h
        minus.flat[col] -= h
        plus, minus = plus[None], minus[None]
        stepper.step(plus, 0.0)
        stepper.step(minus, 0.0)
        fd[:, col] = (plus - minus).ravel() / (2 * h)
    np.testing.assert_allclose(system.jacobian(state), fd, atol=1e-8)


def test_synchronous_fixed_point_spectrum_is_the_msf_reduction():
    """K4, uniform pairwise s1 + linear triadic s2: the network Jacobian at a synchronous
    fixed point has the eigenvalues of J and, three times, of J - 4 (s1 + 2 s2) E."""
    s1, s2 = 0.01, 0.02
    system = make(N=4, R=1, b=0.18, k=0.01, mu=s1, sigma=s1, sigma2=s2, ring_norm="none")
    node = system.node_map
    points = system.synchronous_fixed_points()
    assert len(points) == 3
    for (state, eigenvalues), single in zip(points, node_fixed_points(node), strict=True):
        moved = state[None].copy()
        system.make_stepper(1.0).step(moved, 0.0)
        np.testing.assert_allclose(moved[0], state, atol=1e-12)
        jac = np.array([[single.x * (2 - single.x), single.x**2], [-node.b, node.a]])
        jac[0] *= np.exp(single.y - single.x)
        shifted = jac - np.diag([4 * (s1 + 2 * s2), 0.0])
        expected = np.concatenate([np.linalg.eigvals(jac), *[np.linalg.eigvals(shifted)] * 3])
        # every expected eigenvalue is matched by a distinct computed one
        remaining = list(eigenvalues)
        for value in expected:
            nearest = int(np.argmin(np.abs(np.array(remaining) - value)))
            assert abs(remaining.pop(nearest) - value) < 1e-10


def test_sweep_equals_simulate_per_value_and_reports_escapes():
    system = make(N=5, R=1, b=0.18, k=0.03, sigma=0.1)
    mu = np.array([0.0, 0.01, 0.02])
    x, y = system.sweep({"mu": mu}, n_iter=50, n_transient=20, seed=3)
    assert x.shape == (3, 50, 5)
    seeds = np.random.SeedSequence(3).spawn(3)
    for i in range(3):
        alone = make(N=5, R=1, b=0.18, k=0.03, sigma=0.1, mu=mu[i])
        initial = alone.initial_condition("random", np.random.default_rng(seeds[i]))[None]
        run = pdesim.simulate(alone, t_end=70, dt=1.0, save_every=1.0, t_warmup=21, initial=initial)
        np.testing.assert_allclose(x[i], run.fields["x"][0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y[i], run.fields["y"][0], rtol=1e-12, atol=1e-14)
    with pytest.raises(pdesim.SimulationDiverged) as info:
        system.sweep({"mu": [0.01, 1.5]}, n_iter=100)
    assert info.value.trajectory == 1 and info.value.time == int(info.value.time) > 1
