"""Rollouts and the reference forecasters: exact cases, clean stops, batch invariance, the twin."""

from dataclasses import replace

import numpy as np
import pytest

from pdesim import make_system, simulate
from pdesim.io import write_run
from surrogates.data import FileInfo
from surrogates.forecasters import DMD, Climatology, Persistence, Twin
from surrogates.rollout import Forecaster, rollout, trajectories


class Doubling(Forecaster):
    """u_{t+1} = 2 u_t; a negative trajectory goes NaN once it reaches -8 (at step 3)."""

    name = "doubling"
    n_context = 2

    def step(self, window):
        nxt = 2 * window[:, -1]
        nxt[window[:, -1, 0, 0] <= -8] = np.nan
        return nxt


def test_rollout_is_exact_and_stops_cleanly():
    context = np.ones((5, 3, 1, 4))
    context[1] *= -1
    context[3] *= -1
    r = rollout(Doubling(), context, 6, batch_size=2)
    assert r.stopped_at.tolist() == [6, 3, 6, 3, 6]
    expected = 2.0 ** np.arange(1, 7)
    np.testing.assert_array_equal(r.frames[0, :, 0, 0], expected)
    np.testing.assert_array_equal(r.frames[1, :3, 0, 0], -expected[:3])
    assert np.all(np.isnan(r.frames[1, 3:])) and np.all(np.isnan(r.frames[3, 3:]))
    # the batch size changes nothing
    other = rollout(Doubling(), context, 6, batch_size=5)
    np.testing.assert_array_equal(other.frames, r.frames)
    # an unbounded growth is stopped at the bound, not carried to overflow
    bounded = rollout(Doubling(), np.ones((1, 2, 1, 4)), 20, bound=100.0)
    assert bounded.stopped_at.tolist() == [6]  # 2^7 = 128 > 100


def test_rollout_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        rollout(Persistence(), np.ones((1, 1, 1, 4)), 0)
    with pytest.raises(ValueError, match="T >= 2"):
        rollout(Doubling(), np.ones((1, 1, 1, 4)), 3)


def test_persistence_and_climatology():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((3, 10, 2, 8))
    context = rng.standard_normal((2, 1, 2, 8))
    r = rollout(Persistence(), context, 4)
    np.testing.assert_array_equal(r.frames, np.repeat(context, 4, 1))
    r = rollout(Climatology(train), context, 2)
    np.testing.assert_allclose(r.frames[1, 1], train.mean((0, 1)))


def test_dmd_recovers_a_linear_system():
    """Travelling waves of 3 Fourier modes: a linear map of 6 POD coefficients."""
    n = 32
    x = 2 * np.pi * np.arange(n) / n
    rng = np.random.default_rng(1)

    def waves(n_traj, n_t):
        amp = rng.standard_normal((n_traj, 3, 1, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (n_traj, 3, 1, 1, 1))
        t = np.arange(n_t)[:, None, None]
        k = np.arange(1, 4)[:, None, None, None]
        return (amp * np.sin(k * (x - 0.3 * t) + phase)).sum(1)

    train = waves(4, 30)
    model = DMD(train, rank=6)
    test = waves(2, 12)
    r = rollout(model, test[:, :1], 11)
    np.testing.assert_allclose(r.frames, test[:, 1:], atol=1e-8)


@pytest.fixture(scope="module")
def ks_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ks")
    system = make_system("ks1d", L=22.0, N=32)
    run = simulate(system, 60.0, 0.25, 1.0, n_traj=2, seed=5, t_warmup=40.0)
    write_run(root / "data" / "test" / "ks1d_chunk_000.hdf5", run)
    return root


def test_twin_reproduces_the_solver_and_grows_from_its_noise(ks_dataset):
    split = trajectories(ks_dataset, "test")
    test = split.frames
    assert test.shape == (2, 21, 1, 32)
    info = split.info
    exact = rollout(Twin(info, np.ones(1), noise=0.0), test[:, :1], 20)
    np.testing.assert_allclose(exact.frames, test[:, 1:], atol=1e-4)
    whole = Twin(info, np.ones(1)).run(test[:, 0], 20)
    np.testing.assert_allclose(whole, exact.frames, atol=1e-10)
    std = test.std()
    noisy = rollout(Twin(info, np.array([std]), noise=1e-6, seed=1), test[:, :1], 20)
    err = np.abs(noisy.frames - exact.frames).max((2, 3))
    assert np.all(err[:, 0] < 1e-4 * std) and np.all(err[:, 0] > 0)
    with pytest.raises(ValueError, match="not written by pdesim"):
        plain = FileInfo(info.files[0].path, 2, 21, provenance=None)  # a Well file's
        Twin(replace(info, files=(plain,)), np.ones(1))


def test_twin_stores_frames_as_the_dataset_does(tmp_path):
    """2-D KS files hold u - <u> (its mean drifts): the twin's frames must too."""
    system = make_system("ks2d", L=16.0, N=16)
    run = simulate(system, 12.0, 0.1, 0.5, n_traj=1, seed=2, t_warmup=10.0)
    write_run(tmp_path / "data" / "test" / "ks2d_chunk_000.hdf5", run)
    split = trajectories(tmp_path, "test")
    test = split.frames
    assert np.abs(test.mean((2, 3, 4))).max() < 1e-6
    twin = Twin(split.info, np.ones(1), noise=0.0)
    r = rollout(twin, test[:, :1], 4)
    np.testing.assert_allclose(r.frames, test[:, 1:], atol=1e-4 * np.abs(test).max())
