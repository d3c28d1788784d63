"""Echo-state network: a known periodic answer, the ridge limits, stateful rollouts,
selection on a validation split and bad input."""

import numpy as np
import pytest

from surrogates.forecasters import Persistence
from surrogates.reservoir import EchoStateNetwork, select_reservoir
from surrogates.rollout import rollout

N = 32
X = 2 * np.pi * np.arange(N) / N
# nearly linear reservoir (small input scale) and a tiny ridge: a near-exact fit
SMALL = dict(size=256, spectral_radius=0.1, input_scale=0.01, ridge=1e-14, washout=10)


def waves(n_traj, n_t, seed):
    """u(x, t) = sum_k a_k sin(k x - w_k t + phi_k), k = 1..3, w_k = 0.3 k + 0.1 k^2:
    dispersive travelling waves (a linear map of 6 coefficients; the peak varies)."""
    rng = np.random.default_rng(seed)
    amp = rng.standard_normal((n_traj, 3, 1, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n_traj, 3, 1, 1, 1))
    t = np.arange(n_t)[:, None, None]
    k = np.arange(1, 4)[:, None, None, None]
    omega = 0.3 * k + 0.1 * k**2
    return (amp * np.sin(k * X - omega * t + phase)).sum(1)  # (n_traj, T, 1, N)


def relative_rms(pred, true):
    return float(np.sqrt(np.mean((pred - true) ** 2) / np.mean(true**2)))


@pytest.fixture(scope="module")
def fitted():
    return EchoStateNetwork(**SMALL).fit(waves(8, 200, seed=1))


def test_free_rollout_follows_travelling_waves(fitted):
    test = waves(4, 90, seed=2)
    w, n = fitted.n_context, 80
    truth = test[:, w : w + n]
    r = rollout(fitted, test[:, :w], n)
    assert r.stopped_at.tolist() == [n] * 4
    err = relative_rms(r.frames, truth)
    # the exact answer is the analytic wave; 2.4e-5 measured over 80 steps (1.6e-5 to
    # 3.6e-5 for other draws): tanh's curvature at input scale 0.01 is what is left
    assert err < 1e-4
    err_persistence = relative_rms(rollout(Persistence(), test[:, :w], n).frames, truth)
    assert err_persistence > 0.5 and err < 1e-4 * err_persistence
    # the first step after synchronisation is better still (2e-6: no accumulated error)
    assert relative_rms(r.frames[:, 0], truth[:, 0]) < 1e-5


def test_ridge_limits():
    rng = np.random.default_rng(3)
    train = rng.standard_normal((2, 31, 1, 8))  # 2 x 30 = 60 training states
    # tiny ridge, more reservoir nodes (200) than states: the training pairs are
    # interpolated, even for white-noise targets; checked by teacher forcing
    esn = EchoStateNetwork(size=200, spectral_radius=0.5, input_scale=0.5, ridge=1e-12, washout=1)
    esn.fit(train)
    assert esn.describe()["n_states"] == 60
    esn.begin(train[:, :1])
    pred = np.stack([esn.step(train[:, : t + 1]) for t in range(30)], 1)
    assert relative_rms(pred, train[:, 1:]) < 1e-6
    # a huge ridge shrinks the readout toward zero like 1 / beta: the prediction is the
    # training mean (a standardised output of 0)
    big = [EchoStateNetwork(200, 0.5, 0.5, ridge=b, washout=1).fit(train) for b in (1e8, 1e9)]
    norms = [np.linalg.norm(m.w_out) for m in big]
    assert norms[0] < 1e-5 * np.linalg.norm(esn.w_out)
    assert norms[0] / norms[1] == pytest.approx(10.0, rel=1e-3)
    big[0].begin(train[:, :1])
    np.testing.assert_allclose(big[0].step(train[:, :1]), train.mean(), atol=1e-5)
    # the cap on states: the first frames of every trajectory
    capped = EchoStateNetwork(200, 0.5, 0.5, washout=1).fit(train, max_states=20)
    assert capped.describe()["n_states"] == 20 and capped.describe()["frames_per_traj"] == 11


def test_stopped_trajectories_batches_and_seeds(fitted):
    test = waves(5, 60, seed=4)
    w, n = fitted.n_context, 40
    peak = np.abs(test[:, w : w + n]).max((2, 3))  # the true peak of each frame
    big = int(np.argmax(peak.max(1)))
    bound = 0.5 * (peak[big, 0] + peak[big].max())  # crossed part-way, by one only
    assert np.delete(peak, big, 0).max() < bound
    r = rollout(fitted, test[:, :w], n, batch_size=5, bound=bound)
    expected = np.full(5, n)
    expected[big] = np.flatnonzero(peak[big] > bound)[0]
    np.testing.assert_array_equal(r.stopped_at, expected)
    assert 0 < expected[big] < n - 5
    for i in np.delete(np.arange(5), big):
        alone = rollout(fitted, test[i : i + 1, :w], n, bound=bound)
        np.testing.assert_array_equal(alone.frames[0], r.frames[i])
    for b in (1, 2, 3):
        other = rollout(fitted, test[:, :w], n, batch_size=b, bound=bound)
        np.testing.assert_array_equal(other.frames, r.frames)
        np.testing.assert_array_equal(other.stopped_at, r.stopped_at)
    train = waves(8, 200, seed=1)
    again = EchoStateNetwork(**SMALL).fit(train)
    np.testing.assert_array_equal(again.w_out, fitted.w_out)
    same = rollout(again, test[:, :w], n, bound=bound)
    np.testing.assert_array_equal(same.frames, r.frames)
    other = EchoStateNetwork(**SMALL, seed=1).fit(train)
    assert (other.adjacency != fitted.adjacency).nnz > 0
    assert not np.array_equal(other.in_weight, fitted.in_weight)
    assert not np.array_equal(rollout(other, test[:, :w], n).frames[0], r.frames[0])


def test_select_reservoir_picks_the_best_and_lists_all(monkeypatch):
    train, valid = waves(8, 200, seed=1), waves(4, 80, seed=5)
    grid = {
        "size": [4, 256],
        "spectral_radius": [0.5],
        "input_scale": [0.01],
        "washout": [10],
        "ridge": [1e-12, 1e-1],
    }
    runs = []
    prepare = EchoStateNetwork._prepare
    monkeypatch.setattr(
        EchoStateNetwork, "_prepare", lambda self, *a: runs.append(self.size) or prepare(self, *a)
    )
    best, report = select_reservoir(train, valid, horizon=40, grid=grid, n_starts=8)
    assert runs == [4, 256]  # one reservoir run serves both ridges
    combos = report["combinations"]
    listed = [(c["size"], c["ridge"]) for c in combos]
    assert listed == [(4, 1e-12), (4, 1e-1), (256, 1e-12), (256, 1e-1)]
    scores = [c["median_vpt"] for c in combos]
    # 4 nodes cannot carry a 6-dimensional linear map (VPT 0); 256 nodes with a tiny
    # ridge stay valid throughout (40, censored), a large ridge damps the waves (14)
    assert scores[2] == 40 and max(scores[:2]) < 10 and scores[3] < 30
    assert report["best"] == combos[2] and report["n_starts"] == 8
    assert best.size == 256 and best.ridge == 1e-12 and report["wall_seconds"] > 0
    # the returned model is the one scored: an independent VPT from a valid start
    start = 30
    r = rollout(best, valid[:, start - 10 : start], 40)
    truth = valid[:, start : start + 40]
    vrmse = np.sqrt(((r.frames - truth) ** 2).mean(-1) / truth.var(-1, ddof=1))[..., 0]
    assert vrmse.max() < 0.01


def test_bad_input():
    for kwargs, name in [
        ({"size": 0}, "size"),
        ({"spectral_radius": 0.0}, "spectral_radius"),
        ({"input_scale": -1.0}, "input_scale"),
        ({"ridge": -1e-3}, "ridge"),
        ({"washout": 0}, "washout"),
        ({"degree": 0}, "degree"),
    ]:
        with pytest.raises(ValueError, match=name):
            EchoStateNetwork(**kwargs)
    with pytest.raises(TypeError, match="size"):
        EchoStateNetwork(size=2.5)
    esn = EchoStateNetwork(size=16, washout=5)
    with pytest.raises(ValueError, match=r"train.*T >= 6"):
        esn.fit(np.zeros((2, 5, 1, 8)))
    with pytest.raises(ValueError, match="train"):
        esn.fit(np.zeros((5, 1, 8)))
    with pytest.raises(ValueError, match="max_states"):
        esn.fit(np.zeros((2, 10, 1, 8)), max_states=0)
    with pytest.raises(RuntimeError, match="before fit"):
        esn.begin(np.zeros((1, 5, 1, 8)))
    esn.fit(np.random.default_rng(0).standard_normal((2, 10, 1, 8)))
    with pytest.raises(ValueError, match="context"):
        esn.begin(np.zeros((1, 5, 1, 9)))
    train, valid = np.zeros((2, 30, 1, 8)), np.zeros((2, 30, 1, 8))
    with pytest.raises(ValueError, match="valid frame shape"):
        select_reservoir(train, np.zeros((2, 30, 1, 9)), 5, grid={"size": [8]})
    with pytest.raises(ValueError, match="valid"):
        select_reservoir(train, valid, 25, grid={"size": [8], "washout": [10]})
    with pytest.raises(ValueError, match="grid key"):
        select_reservoir(train, valid, 5, grid={"sizes": [8]})
    with pytest.raises(ValueError, match="spectral_radius"):
        select_reservoir(train, valid, 5, grid={"size": [8], "spectral_radius": [0.5, -1.0]})
    with pytest.raises(ValueError, match="horizon"):
        select_reservoir(train, valid, 0, grid={"size": [8]})
