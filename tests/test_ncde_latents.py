"""NCDE latents: per-patch latents of 2-D fields (shapes, shift equivariance, gradients,
missing data) and the graph and Fourier latents unchanged by their move to
:mod:`surrogates.models.ncde.latents`."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from test_ncde_models import _tiny_dataset

from surrogates.data import WALL, DatasetInfo, WellWindows
from surrogates.models.ncde import VARIANTS, NCDEConfig, NCDEForecaster
from surrogates.models.ncde.latents import (
    FourierLatent,
    GraphLatent,
    PatchLatent,
    make_latent,
    patch_adjacency,
)


@pytest.fixture(scope="module")
def ks2d_dataset(tmp_path_factory) -> Path:
    """2-D Kuramoto-Sivashinsky, 16 x 16, periodic, one field."""
    import pdesim

    system = pdesim.make_system("ks2d", L=16.0, N=16)
    return _tiny_dataset(tmp_path_factory.mktemp("ks2d"), system, 5.0, 10.0, 0.5)


@pytest.fixture(scope="module")
def chemotaxis_dataset(tmp_path_factory) -> Path:
    """Indirect Keller-Segel, 16 x 16, no-flux walls, three fields."""
    import pdesim

    system = pdesim.make_system("keller_segel_indirect", N=16, mass=18.85, width=0.8)
    return _tiny_dataset(tmp_path_factory.mktemp("chemotaxis"), system, 0.0, 0.1, 0.01)


def _windows(root: Path, n: int = 2, t: int = 4) -> tuple[DatasetInfo, torch.Tensor]:
    """``n`` windows ``(n, t, C, H, W)`` of the train split and the split's info."""
    ds = WellWindows(root, "train", t, 1)
    x = torch.stack([ds[i]["input_fields"].movedim(-1, 1) for i in range(0, 3 * n, 3)])
    info = ds.info
    ds.close()
    return info, x.to(torch.get_default_dtype())


def _model(info: DatasetInfo, variant: str = "ncde", **kw) -> NCDEForecaster:
    torch.manual_seed(0)
    cfg = NCDEConfig(variant=variant, hidden=16, width=32, patch=4, patch_dim=4, **kw)
    model = NCDEForecaster(cfg, info)
    with torch.no_grad():
        model.readout.weight.normal_(std=0.3)  # zero at initialisation
    return model


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("data", ["ks2d_dataset", "chemotaxis_dataset"])
def test_patch_latent_shapes_and_rollout(variant, data, request):
    info, x = _windows(request.getfixturevalue(data))
    fields = list(info.field_names)
    c = len(fields)
    model = _model(info, variant)
    assert isinstance(model.latent, PatchLatent) and model.latent.sites == 16
    delta, d = model(x, None, fields, fields)
    assert delta.shape == (2, 4, c, 16, 16) and d.shape == (2, 1, c, 1, 1)
    assert torch.isfinite(delta).all() and delta[:, -1].std() > 0
    frames = model.rollout(x, 3, None, fields, fields)
    assert frames.shape == (2, 3, c, 16, 16) and torch.isfinite(frames).all()
    x[:, 1] = float("nan")  # a missing frame
    x[0, 2, 0] = float("nan")  # a missing field
    assert torch.isfinite(model(x, None, fields, fields)[0]).all()


def test_bad_patch_is_refused():
    info = DatasetInfo("sq", "", "cartesian", ("x", "y"), (16, 24), ("u",), (), ((2, 2),) * 2, ())
    with pytest.raises(ValueError, match=r"patch=16 .*\(16, 24\)"):
        NCDEForecaster(NCDEConfig(patch=16), info)
    with pytest.raises(ValueError, match=r"patch=5 .*\(16, 24\)"):
        NCDEForecaster(NCDEConfig(patch=5), info)
    with pytest.raises(ValueError, match="patch_dim"):
        NCDEConfig(patch_dim=0)
    cube = DatasetInfo(
        "c", "", "cartesian", ("x", "y", "z"), (8,) * 3, ("u",), (), ((2, 2),) * 3, ()
    )
    with pytest.raises(ValueError, match="3-D"):
        NCDEForecaster(NCDEConfig(), cube)
    line = DatasetInfo("l", "", "cartesian", ("x",), (16,), ("u",), (), ((WALL, WALL),), ())
    with pytest.raises(ValueError, match="1-D"):
        NCDEForecaster(NCDEConfig(), line)


@pytest.mark.parametrize("variant", VARIANTS)
def test_periodic_patches_commute_with_shifts_by_a_patch(variant, ks2d_dataset, float64_torch):
    """Rolling the input by one patch rolls ``delta`` by one patch: the weights are shared
    across patches and the neighbour coupling wraps. With walls it does not hold."""
    info, x = _windows(ks2d_dataset)
    fields = list(info.field_names)
    model = _model(info, variant)
    delta = model(x, None, fields, fields)[0]
    for axis in (-1, -2):
        shifted = model(x.roll(4, axis), None, fields, fields)[0]
        assert torch.allclose(shifted, delta.roll(4, axis), rtol=0, atol=1e-10)
        assert not torch.allclose(shifted, delta, rtol=0, atol=1e-3)
    walls = dataclasses.replace(info, boundary_conditions=((WALL, WALL), (WALL, WALL)))
    model = _model(walls, variant)
    delta = model(x, None, fields, fields)[0]
    shifted = model(x.roll(4, -1), None, fields, fields)[0]
    assert not torch.allclose(shifted, delta.roll(4, -1), rtol=0, atol=1e-6)


def test_patch_adjacency_wraps_on_periodic_axes_only():
    a = patch_adjacency((3, 4), (True, False))  # site = 4 row + column
    assert torch.allclose(a.sum(1), torch.ones(12, dtype=a.dtype))
    assert torch.equal(a[0].nonzero().flatten(), torch.tensor([1, 4, 8]))  # no (0, 3)
    assert torch.allclose(a[0, [1, 4, 8]], torch.full((3,), 1 / 3, dtype=a.dtype))
    assert torch.allclose(a[5, [1, 4, 6, 9]], torch.full((4,), 0.25, dtype=a.dtype))
    assert torch.equal(patch_adjacency((1, 1), (False, False)), torch.zeros(1, 1, dtype=a.dtype))
    assert torch.equal(
        patch_adjacency((2, 1), (True, True)), torch.tensor([[0.5, 0.5]] * 2, dtype=a.dtype)
    )


def test_missing_values_hide_only_the_patches_that_read_them(ks2d_dataset):
    info, x = _windows(ks2d_dataset, n=1, t=1)
    latent = _model(info).latent
    x = x[:, 0]
    x[0, 0, 0, 0] = float("nan")  # the encoder's 3x3 layers read two points around it
    v = latent.encode(x).view(16, 2, 4)  # sites (4 x 4 patches), [own, neighbours], d
    own = torch.isnan(v[:, 0]).all(-1)
    near = torch.isnan(v[:, 1]).all(-1)
    hidden = [0, 3, 12, 15]  # patches (0, 0), (0, 3), (3, 0), (3, 3): wrapped corners
    assert own.nonzero().flatten().tolist() == hidden
    expected = (latent.mix[:, hidden] > 0).any(1)
    assert torch.equal(near, expected) and not near.all()
    assert torch.isfinite(v[~own, 0]).all() and torch.isfinite(v[~near, 1]).all()


def test_gradients_reach_the_patch_encoder_and_decoder(chemotaxis_dataset):
    info, x = _windows(chemotaxis_dataset)
    fields = list(info.field_names)
    model = _model(info, "slice")
    x[0, 1] = float("nan")  # missing data must not poison the gradients
    delta, _ = model(x, None, fields, fields)
    delta[:, -1].pow(2).mean().backward()
    lat = model.latent
    for module in (*lat.encoder, lat.to_patch, lat.from_patch, lat.to_fields):
        for name, p in module.named_parameters():
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_a_zero_readout_decodes_to_zero_change(ks2d_dataset):
    info, x = _windows(ks2d_dataset)
    model = NCDEForecaster(NCDEConfig(patch=4), info)
    assert torch.equal(model(x, None, ["u"], ["u"])[0], torch.zeros_like(x))


def test_fourier_latent_channels_are_unchanged():
    torch.manual_seed(0)
    info = DatasetInfo("w", "", "cartesian", ("x",), (32,), ("u", "v"), (), ((2, 2),), ())
    latent = make_latent(info, 2, NCDEConfig(n_modes=6))
    assert isinstance(latent, FourierLatent) and latent.sites == 1
    x = torch.randn(5, 2, 32)
    coef = torch.fft.rfft(x, norm="ortho")[..., :6]  # the formulas before the move
    old = torch.cat([coef.real, coef.imag], -1).flatten(1)
    assert torch.equal(latent.encode(x), old)
    v = torch.randn(5, 24)
    w = v.reshape(-1, 2, 2, 6)
    back = torch.fft.irfft(torch.complex(w[:, :, 0], w[:, :, 1]), n=32, norm="ortho")
    assert torch.equal(latent.decode(v), back)


def test_graph_latent_channels_are_unchanged():
    rng = np.random.default_rng(0)
    w = (rng.random((7, 7)) < 0.4) * rng.random((7, 7))
    w[3] = 0.0  # a node without neighbours
    info = DatasetInfo("g", "", "graph", ("node",), (7,), ("u", "v"), (), (), (), adjacency=w)
    latent = make_latent(info, 2, NCDEConfig())
    assert isinstance(latent, GraphLatent) and latent.sites == 1
    w32 = w.astype(np.float32)  # the formulas before the move
    deg = w32.sum(1, keepdims=True)
    mix = torch.from_numpy(w32 / np.where(deg > 0, deg, 1.0))
    x = torch.randn(5, 2, 7)
    old = torch.cat([x.flatten(1), (x @ mix.T).flatten(1)], 1)
    assert torch.equal(latent.encode(x), old)
    assert torch.equal(latent.decode(x.flatten(1)), x)


def test_cli_trains_a_patch_ncde_on_a_2d_dataset(ks2d_dataset, tmp_path):
    from surrogates.cli import main

    out = tmp_path / "run"
    argv = ["train", "--data", str(ks2d_dataset), "--model", "ncde", "--out", str(out)]
    argv += ["--steps", "2", "--batch-size", "2", "--val-every", "2", "--val-samples", "2"]
    argv += ["--drop-prob", "0.3", "--rollout-steps", "2", "--no-progress", "--threads", "1"]
    assert main(argv) == 0
    assert '"patch": 8' in (out / "config.json").read_text()
