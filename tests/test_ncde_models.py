"""NCDE forecasters: shapes, causality, missing data, latents, training with dropped frames."""

import math
from pathlib import Path

import pytest
import torch

from surrogates.data import PERIODIC, DatasetInfo, WellWindows
from surrogates.models import MODELS
from surrogates.models.ncde import VARIANTS, NCDEConfig, NCDEForecaster
from surrogates.train import TrainConfig, vrmse


def _tiny_dataset(root: Path, system, t_warmup: float, t_end: float, dt: float) -> Path:
    """A small Well-layout dataset (train and valid splits) written by pdesim itself."""
    import pdesim
    from pdesim.io import WellWriter
    from pdesim.stats import write_stats

    for split, seed in (("train", 1), ("valid", 2)):
        path = root / "data" / split / f"{system.name}.hdf5"
        pdesim.simulate(
            system,
            t_end=t_end,
            dt=dt,
            save_every=dt,
            t_warmup=t_warmup,
            n_traj=4,
            seed=seed,
            sink=WellWriter(path),
        )
    write_stats(root)
    return root


@pytest.fixture(scope="module")
def chialvo_dataset(tmp_path_factory) -> Path:
    import pdesim

    system = pdesim.make_system(
        "chialvo_ring_star", preset="chaotic", N=12, R=2, mu=0.005, sigma=0.01
    )
    return _tiny_dataset(tmp_path_factory.mktemp("chialvo"), system, 200.0, 300.0, 1.0)


@pytest.fixture(scope="module")
def ks1d_dataset(tmp_path_factory) -> Path:
    import pdesim

    system = pdesim.make_system("ks1d", L=22.0, N=64)
    return _tiny_dataset(tmp_path_factory.mktemp("ks1d"), system, 50.0, 100.0, 0.25)


def _ring(n=32, name="waves"):
    return DatasetInfo(name, "", "cartesian", ("x",), (n,), ("u",), (), ((PERIODIC, PERIODIC),), ())


@pytest.mark.parametrize("variant", VARIANTS)
def test_outputs_are_causal_and_nan_tolerant(variant):
    torch.manual_seed(0)
    model = NCDEForecaster(NCDEConfig(variant=variant, hidden=16, width=32, n_modes=6), _ring())
    with torch.no_grad():
        model.readout.weight.normal_(std=0.1)
    x = torch.randn(3, 6, 1, 32)
    delta, d = model(x, None, ["u"], ["u"])
    assert delta.shape == (3, 6, 1, 32) and d.shape == (3, 1, 1, 1)
    y = x.clone()
    y[:, 4:] += 1.0  # change the future of knot 3: the states up to knot 3 stay
    other, _ = model(y, None, ["u"], ["u"])
    assert not torch.allclose(other[:, 4:], delta[:, 4:])
    z1 = model.states(_channels(model, x))
    z2 = model.states(_channels(model, y))
    assert torch.allclose(z1[:, :4], z2[:, :4], atol=1e-5)
    x[:, 1, 0, :] = float("nan")  # a missing frame
    x[0, 2, 0, :5] = float("nan")  # part of a frame
    out, _ = model(x, None, ["u"], ["u"])
    assert torch.isfinite(out).all()


def _channels(model, x):
    """The control channels of ``x`` with fixed scales (so causality is tested on z)."""
    from surrogates.models.ncde.paths import observation_channels

    b, t = x.shape[:2]
    lat = model.latent.encode(x.flatten(0, 1)).view(b, t, -1)
    return observation_channels(torch.arange(t, dtype=x.dtype) / (t - 1), lat)


def test_fourier_latent_round_trips_band_limited_fields():
    model = NCDEForecaster(NCDEConfig(n_modes=6), _ring())
    x = torch.linspace(0, 2 * math.pi, 33)[:-1]
    u = (1 + torch.sin(x) - 0.3 * torch.cos(5 * x))[None, None]
    v = model.latent.encode(u)
    assert v.shape == (1, 12)
    assert torch.allclose(model.latent.decode(v), u, atol=1e-5)


def test_chialvo_nodes_latent_carries_the_adjacency(chialvo_dataset):
    ds = WellWindows(chialvo_dataset, "train", 4, 1)
    model = MODELS["ncde"]("tiny", [ds.info])
    mix = model.latent.mix
    assert mix.shape == (12, 12) and torch.allclose(mix.sum(1), torch.ones(12))
    x = ds[0]["input_fields"].movedim(-1, 1)  # (T, C, nodes)
    v = model.latent.encode(x)
    assert torch.equal(v[:, :24], x.flatten(1))
    assert torch.allclose(v[:, 24:], (x @ mix.T).flatten(1))
    ds.close()


def test_unsupported_grids_and_options_are_refused():
    bcs = ((2, 2),) * 3
    info = DatasetInfo("d3", "", "cartesian", ("x", "y", "z"), (8, 8, 8), ("u",), (), bcs, ())
    with pytest.raises(ValueError, match="graphs, periodic 1-D grids and 2-D cartesian grids only"):
        NCDEForecaster(NCDEConfig(), info)
    with pytest.raises(ValueError, match="variant"):
        NCDEConfig(variant="gru")
    with pytest.raises(ValueError, match="drop_prob"):
        TrainConfig(data=["x"], out="y", model="walrus", drop_prob=0.5)
    with pytest.raises(ValueError, match="drop_prob"):
        TrainConfig(data=["x"], out="y", model="ncde", drop_prob=1.0)


def _waves(n, t, generator):
    """Travelling waves ``sin(k (x - c t) + phi)`` on a 32-point ring."""
    x = torch.linspace(0, 2 * math.pi, 33)[:-1]
    k = torch.randint(1, 3, (n, 1, 1), generator=generator).float()
    c = 0.3 + 0.4 * torch.rand(n, 1, 1, generator=generator)
    phi = 2 * math.pi * torch.rand(n, 1, 1, generator=generator)
    times = torch.arange(t).float()[None, :, None]
    return torch.sin(k * (x - c * times) + phi)[:, :, None]  # (n, t, 1, 32)


def test_trained_with_half_the_frames_dropped_beats_persistence():
    """Trained with drop_prob 0.5; evaluated on windows with half their frames missing."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is fastest on a loaded machine
    try:
        ours, persistence = _train_on_dropped_frames()
    finally:
        torch.set_num_threads(threads)
    assert ours < 0.5 * persistence, (ours, persistence)


def _train_on_dropped_frames() -> tuple[float, float]:
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = NCDEForecaster(
        NCDEConfig(variant="ncde", hidden=16, width=32, n_modes=4, drop_prob=0.5), _ring()
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        u = _waves(16, 6, g)
        window, target = u[:, :5], u[:, 5]
        delta, d = model(window, None, ["u"], ["u"])
        loss = (delta[:, -1] - (target - window[:, -1]) / d[:, 0]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    u = _waves(64, 6, torch.Generator().manual_seed(1))
    window, target = u[:, :5].clone(), u[:, 5]
    drop = torch.rand(64, 4, generator=g) < 0.5
    window[:, :4][drop] = float("nan")
    with torch.no_grad():
        delta, d = model(window, None, ["u"], ["u"])
    pred = window[:, -1] + d[:, 0] * delta[:, -1]
    ours = vrmse(pred, target).mean()
    return float(ours), float(vrmse(window[:, -1], target).mean())


def test_cli_trains_an_ncde_variant_with_dropped_frames(ks1d_dataset, tmp_path):
    from surrogates.cli import main

    out = tmp_path / "run"
    argv = ["train", "--data", str(ks1d_dataset), "--model", "slice", "--out", str(out)]
    argv += ["--steps", "3", "--batch-size", "4", "--val-every", "3", "--val-samples", "4"]
    argv += ["--drop-prob", "0.5", "--rollout-steps", "2", "--no-progress", "--threads", "1"]
    assert main(argv) == 0
    config = (out / "config.json").read_text()
    assert '"drop_prob": 0.5' in config and '"variant": "slice"' in config
    assert main([*argv, "--resume", "--steps", "4"]) == 0
