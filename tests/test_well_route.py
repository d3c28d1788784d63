"""The Well's own tools on pdesim's data: its data module, its format checker, its files.

The format checker (``scripts/check_thewell_formatting.py`` of PolymathicAI/the_well)
is not part of the installed package, so :func:`well_checker` below restates its rules
(the assertions of its ``check_hdf5_format``), numpy-boolean arithmetic included: it
counts a scalar's dimensions as ``sample_varying + time_varying`` on the flags as h5py
reads them, and ``np.True_ + np.True_`` is ``np.True_`` (1), so a per-trajectory,
time-varying scalar of shape ``(n_traj, T)`` fails it.
"""

import h5py
import numpy as np
import pytest

import pdesim
from pdesim.cli import main
from pdesim.file_checks import check_file
from pdesim.io import UNLISTED_ATTR, read_run, write_run
from pdesim.stats import write_stats

well_data = pytest.importorskip("the_well.data")


def _bool(value) -> bool:
    return isinstance(value, bool | np.bool_)


def well_checker(path) -> None:
    """Raise AssertionError where The Well's format checker would (its rules, restated)."""
    with h5py.File(path, "r") as f:
        root = f.attrs
        for key in ("n_spatial_dims", "n_trajectories"):
            assert key in root and isinstance(root[key], int | np.integer), key
        for key in ("dataset_name", "grid_type"):
            assert key in root and isinstance(root[key], str), key
        for name in root["simulation_parameters"]:
            assert name in root, f"simulation parameter {name} not a root attribute"
        dims = f["dimensions"]
        assert "time" in dims and _bool(dims["time"].attrs["sample_varying"])
        spatial = dims.attrs["spatial_dims"]
        assert isinstance(spatial, list | np.ndarray) and isinstance(spatial[0], str)
        assert len(spatial) == root["n_spatial_dims"] > 0
        for d in spatial:
            for flag in ("sample_varying", "time_varying"):
                assert _bool(dims[d].attrs[flag]), f"/dimensions/{d} {flag}"
        for order in range(3):
            group = f[f"t{order}_fields"]
            names = group.attrs["field_names"]
            assert isinstance(names, list | np.ndarray)
            for name in names:
                ds, attrs, axis = group[name], group[name].attrs, 0
                assert _bool(attrs["sample_varying"]) and _bool(attrs["time_varying"])
                if attrs["sample_varying"]:
                    assert ds.shape[axis] == root["n_trajectories"], name
                    axis += 1
                if attrs["time_varying"]:
                    assert ds.shape[axis] == dims["time"].shape[-1], name
                    axis += 1
                dim_varying = attrs["dim_varying"]
                assert len(dim_varying) == len(spatial) and _bool(dim_varying[0])
                for d, varying in zip(spatial, dim_varying, strict=True):
                    if varying:
                        assert dims[d].shape[-1] == ds.shape[axis], f"{name} along {d}"
                        axis += 1
        scalars = f["scalars"]
        for name in scalars.attrs["field_names"]:
            attrs = scalars[name].attrs
            assert _bool(attrs["sample_varying"]) and _bool(attrs["time_varying"])
            rank = attrs["sample_varying"] + attrs["time_varying"]  # the checker's sum
            assert len(scalars[name].shape) == rank, f"/scalars/{name} must have {rank} dims"
        for key, bc in f["boundary_conditions"].items():
            attrs = bc.attrs
            assert "bc_type" in attrs and "associated_fields" in attrs, key
            assert _bool(attrs["sample_varying"]) and _bool(attrs["time_varying"])
            offset = attrs["sample_varying"] + attrs["time_varying"]
            assert isinstance(attrs["associated_dims"], list | np.ndarray), key
            assert len(attrs["associated_dims"]) > 0 and "mask" in bc
            for i, d in enumerate(attrs["associated_dims"]):
                assert d in spatial and bc["mask"].shape[offset + i] == dims[d].shape[-1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A dataset folder as ``pdesim data`` lays it out, with test_data's tiny ks1d runs
    (4/2/2 trajectories of 11 frames, N = 32) written by pdesim's writer and its
    ``stats.yaml`` (without the dask cluster of ``pdesim data``: seconds less)."""
    root = tmp_path_factory.mktemp("well_route") / "tiny"
    system = pdesim.make_system("ks1d", L=22.0, N=32)
    for split, files in (("train", 2), ("valid", 1), ("test", 1)):
        for k in range(files):
            run = pdesim.simulate(
                system, t_end=10.0, dt=0.25, save_every=1.0, n_traj=2, seed=10 * k + len(split)
            )
            write_run(root / "data" / split / f"tiny_chunk_{k:03d}.hdf5", run)
    write_stats(root)
    return root


@pytest.fixture(scope="module")
def ks2d(tmp_path_factory):
    run = pdesim.simulate(
        pdesim.make_system("ks2d", N=16, L=10.0), t_end=3.0, dt=0.25, save_every=1.0, n_traj=2
    )
    path = write_run(tmp_path_factory.mktemp("ks2d") / "ks2d.hdf5", run)
    return path, run


# -- The Well's data module ---------------------------------------------------------------


def test_the_wells_data_module_refuses_our_name_but_takes_our_folder(tiny):
    from surrogates.well import datamodule

    with pytest.raises(AssertionError, match="not in the expected list"):
        well_data.WellDataModule(str(tiny.parent), "tiny", batch_size=2, data_workers=0)
    module = datamodule(tiny, batch_size=2, n_steps_input=4, n_steps_output=1, data_workers=0)
    assert isinstance(module, well_data.WellDataModule)
    assert len(module.train_dataset) == 4 * (11 - 5 + 1)
    assert module.train_dataset.files_paths[0].endswith("data/train/tiny_chunk_000.hdf5")
    assert module.test_dataset.files_paths[0].endswith("data/test/tiny_chunk_000.hdf5")
    batch = next(iter(module.train_dataloader()))
    assert tuple(batch["input_fields"].shape) == (2, 4, 32, 1)
    assert tuple(batch["output_fields"].shape) == (2, 1, 32, 1)
    rollout = next(iter(module.rollout_val_dataloader()))
    assert tuple(rollout["output_fields"].shape) == (1, 11 - 4, 32, 1)
    with h5py.File(tiny / "data/valid/tiny_chunk_000.hdf5") as h5:
        stored = h5["t0_fields/u"][()]
    first = rollout["input_fields"][0, 0, :, 0].numpy()
    assert any(np.array_equal(first, trajectory[0]) for trajectory in stored)


def test_the_data_module_normalizes_with_our_stats_yaml(tiny):
    from surrogates.well import datamodule

    module = datamodule(
        tiny,
        batch_size=1,
        data_workers=0,
        use_normalization=True,
        normalization_type=well_data.normalization.ZScoreNormalization,
    )
    item = module.train_dataset[0]
    with h5py.File(tiny / "data/train/tiny_chunk_000.hdf5") as h5:
        u = h5["t0_fields/u"][0, 0]
    raw = module.train_dataset.norm.denormalize_flattened(item["input_fields"], "variable")
    np.testing.assert_allclose(raw[0, :, 0].numpy(), u, rtol=1e-5, atol=1e-5)


def test_one_split_as_a_well_dataset_and_a_folder_that_is_not_a_dataset(tiny, tmp_path):
    from surrogates.well import datamodule, dataset

    valid = dataset(tiny, "valid", n_steps_input=4, n_steps_output=1)
    assert len(valid) == 2 * (11 - 5 + 1) and tuple(valid[0]["input_fields"].shape) == (4, 32, 1)
    with pytest.raises(FileNotFoundError, match="no data/train folder"):
        datamodule(tmp_path)


# -- The Well's format checker on ks2d -----------------------------------------------------


def test_ks2d_files_pass_the_wells_checker_and_ours(ks2d):
    path, run = ks2d
    well_checker(path)
    assert check_file(path) == []
    with h5py.File(path) as h5:
        scalars = h5["scalars"]
        assert list(scalars.attrs["field_names"]) == ["L", "N"]
        assert list(scalars.attrs[UNLISTED_ATTR]) == ["u_mean"]
        u_mean = scalars["u_mean"][()]
        stored = h5["t0_fields/u"][()]
    assert u_mean.shape == (2, 4)
    np.testing.assert_allclose(u_mean, run.fields["u"].mean(axis=(-2, -1)), atol=1e-6)
    assert np.abs(stored.mean(axis=(-2, -1))).max() < 1e-5
    item = well_data.WellDataset(path=str(path.parent), n_steps_input=1, n_steps_output=1)[0]
    assert tuple(item["input_fields"].shape) == (1, 16, 16, 1)
    assert "input_scalars" not in item  # u_mean is not listed: no time-varying scalar
    assert tuple(item["constant_scalars"].shape) == (2,)  # L and N
    assert read_run(path).fields["u"].shape == (2, 4, 16, 16)


def test_ks2d_files_of_the_old_layout_still_read_and_validate(ks2d, tmp_path):
    """Files written before: u_mean listed in /scalars field_names. The Well's checker
    fails them (its boolean sum); pdesim's checks, its reader and WellDataset take them."""
    path = tmp_path / "old.hdf5"
    path.write_bytes(ks2d[0].read_bytes())
    with h5py.File(path, "r+") as h5:
        h5["scalars"].attrs["field_names"] = ["L", "N", "u_mean"]
        del h5["scalars"].attrs[UNLISTED_ATTR]
    with pytest.raises(AssertionError, match="u_mean must have True dims"):
        well_checker(path)
    assert check_file(path) == []
    assert main(["validate", str(path)]) == 0
    assert read_run(path).fields["u"].shape == (2, 4, 16, 16)
    item = well_data.WellDataset(path=str(tmp_path), n_steps_input=1, n_steps_output=1)[0]
    assert tuple(item["input_scalars"].shape) == (1, 1)


def test_validate_checks_the_unlisted_scalars_too(ks2d, tmp_path):
    path = tmp_path / "broken.hdf5"
    path.write_bytes(ks2d[0].read_bytes())
    with h5py.File(path, "r+") as h5:
        h5["scalars"].attrs[UNLISTED_ATTR] = ["u_mean", "u_max"]
        del h5["scalars/u_mean"].attrs["time_varying"]
    problems = check_file(path)
    assert "/scalars/u_mean: needs a boolean 'time_varying' attribute" in problems
    assert "/scalars/u_max is named in pdesim_unlisted but missing" in problems


# -- The Well's own files in pdesim validate -----------------------------------------------


def test_validate_accepts_a_file_of_the_wells_write_dummy_data(tmp_path, capsys):
    from the_well.utils.dummy_data import write_dummy_data

    path = tmp_path / "dummy.hdf5"
    write_dummy_data(str(path))
    notes: list[str] = []
    assert check_file(path, notes=notes) == []
    assert "/dimensions/x has no 'time_varying' attribute" in notes[1]
    assert any("'associated_dims' is the name 'x'" in note for note in notes)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"note {path}: /dimensions/x has no 'time_varying'" in out
    assert "all valid" in out
    # pdesim's own files are held to every rule
    with h5py.File(path, "r+") as h5:
        h5.attrs["pdesim_system"] = "ks2d"
    assert "/dimensions/x: needs a boolean 'time_varying' attribute" in check_file(path)
