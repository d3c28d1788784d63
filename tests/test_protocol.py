"""The surrogate protocol: one window layout (constant fields included) and one advance
rule, shared by training, rollouts and every model."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, KS2D, write_dataset

from surrogates.data import WellWindows, scan
from surrogates.models import MODELS
from surrogates.protocol import Surrogate, advance, batch_window, channels, slide, target
from surrogates.rollout import ModelForecaster, rollout, trajectories


def add_constant_field(root: Path, name: str = "c") -> None:
    """Give every file of ``root`` a sample-varying constant t0 field ``name``, a
    different smooth profile per trajectory (as The Well stores e.g. a geometry)."""
    for path in sorted(root.glob("data/*/*.hdf5")):
        with h5py.File(path, "r+") as h5:
            n_traj = int(h5.attrs["n_trajectories"])
            x = h5["dimensions/x"][()]
            shift = np.arange(n_traj)[:, None]
            values = 2.0 + np.cos(2 * np.pi * x[None] / x.max() + shift)
            ds = h5["t0_fields"].create_dataset(name, data=values.astype(np.float32))
            ds.attrs["time_varying"] = False
            ds.attrs["sample_varying"] = True
            ds.attrs["dim_varying"] = np.array([True])
            group = h5["t0_fields"]
            group.attrs["field_names"] = [*group.attrs["field_names"], name]


@pytest.fixture(scope="module")
def with_constant(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("const"), KS1D, n_traj=3, n_t=8, splits=("test",))
    add_constant_field(root)
    return root


def test_rollouts_feed_the_constant_fields_as_training_does(with_constant):
    torch.manual_seed(0)
    info = scan(with_constant, "test")
    assert info.field_names == ("u",) and info.constant_field_names == ("c",)
    model = MODELS["walrus"]("tiny", [info], jitter=False).eval()
    with torch.no_grad():  # away from the near-zero output of a fresh model
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    # the training path: WellWindows samples -> batch_window -> model -> advance
    ds = WellWindows(with_constant, "test", n_steps_input=3, n_steps_output=1)
    starts = [i for i, row in enumerate(ds.index) if row[2] == 0]  # each trajectory's first
    batch = {k: torch.stack([ds[i][k] for i in starts]) for k in ds[0]}
    ds.close()
    window, _ = batch_window(batch, "cpu")
    assert window.shape == (3, 3, 2, 32)
    in_fields, out_fields = channels(info)
    with torch.no_grad():
        delta, d = model(window, batch["boundary_conditions"][0], in_fields, out_fields)
    expected = advance(window, delta, d).double().numpy()
    # the rollout path: trajectories -> ModelForecaster, one batch or one by one
    split = trajectories(with_constant, "test")
    np.testing.assert_array_equal(split.constants[:, 0], batch["constant_fields"][..., 0])
    forecaster = ModelForecaster(model, info, 3)
    for batch_size in (3, 1):
        r = rollout(forecaster, split.frames[:, :3], 2, batch_size, constants=split.constants)
        np.testing.assert_allclose(r.frames[:, 0], expected, rtol=1e-6, atol=1e-6)
    # the constants are per trajectory: feeding another trajectory's changes the forecast
    swapped = rollout(forecaster, split.frames[:, :3], 1, constants=split.constants[::-1])
    assert np.abs(swapped.frames[0, 0] - expected[0]).max() > 1e-3
    with pytest.raises(ValueError, match="constants of shape"):
        rollout(forecaster, split.frames[:, :3], 1, constants=split.constants[:2])


def test_advance_target_and_slide_are_one_rule():
    gen = torch.Generator().manual_seed(1)
    window = torch.randn(2, 4, 3, 8, generator=gen)  # 2 predicted fields + 1 constant
    delta = torch.randn(2, 4, 2, 8, generator=gen)
    d = torch.rand(2, 1, 2, 1, generator=gen) + 0.5
    nxt = advance(window, delta, d)
    torch.testing.assert_close(nxt, window[:, -1, :2] + d[:, 0] * delta[:, -1])
    # target inverts advance
    back = target(window[:, -1:, :2], nxt[:, None], d)
    torch.testing.assert_close(back[:, 0], delta[:, -1])
    moved = slide(window, nxt)
    torch.testing.assert_close(moved[:, :-1], window[:, 1:])
    torch.testing.assert_close(moved[:, -1, :2], nxt)
    torch.testing.assert_close(moved[:, -1, 2:], window[:, -1, 2:])  # constants kept


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_meets_the_protocol(name, tmp_path):
    ks = scan(write_dataset(tmp_path / "a", KS1D, n_traj=1, n_t=4, splits=("test",)), "test")
    other = scan(write_dataset(tmp_path / "b", KS2D, n_traj=1, n_t=4, splits=("test",)), "test")
    model = MODELS[name]("tiny", [ks])
    assert isinstance(model, Surrogate)
    model.check(ks)
    with pytest.raises(ValueError, match=r"2-D|spatial_dims"):  # a 1-D model, 2-D data
        model.check(other)
