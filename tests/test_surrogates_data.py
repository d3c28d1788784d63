"""Windows of Well-layout datasets: indexing, strides, boundaries, splits, workers, The Well."""

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pdesim.io import write_run
from pdesim.simulate import Run
from pdesim.systems import make_system
from surrogates.data import (
    CACHE_BYTES,
    OPEN,
    PERIODIC,
    WALL,
    BatchPlan,
    MultiWindows,
    WellWindows,
    scan,
)

KS1D = ("ks1d", {"L": 22.0, "N": 32})
KS2D = ("ks2d", {"L": 10.0, "N": 16})
WALLS2D = ("keller_segel_indirect", {"N": 16, "width": 1.0})


def write_dataset(
    root: Path,
    system: tuple[str, dict] = KS1D,
    n_traj: int = 2,
    n_t: int = 14,
    splits: tuple[str, ...] = ("train", "valid"),
    files: int = 1,
    seed: int = 0,
    mean_drift: float = 0.0,
) -> Path:
    """A tiny dataset in The Well's layout, written by pdesim's own writer.

    Frames are smooth travelling waves with a random phase and speed per trajectory
    (one wave per field), so windows are distinguishable and the dynamics learnable;
    their spatial mean is constant, or grows by ``mean_drift`` per unit time.
    """
    name, params = system
    sys_ = make_system(name, **params)
    grid = sys_.grid
    rng = np.random.default_rng(seed)
    t = np.arange(n_t, dtype=np.float64) * 0.1
    coords = np.meshgrid(*grid.coords, indexing="ij")
    for split in splits:
        for f in range(files):
            fields = {}
            for k, field in enumerate(sys_.field_names):
                phase = rng.uniform(0, 2 * np.pi, (n_traj, 1))
                speed = rng.uniform(0.5, 1.5, (n_traj, 1))
                arg = sum(
                    2 * np.pi * c / length for c, length in zip(coords, grid.lengths, strict=True)
                )
                wave = np.sin(arg[None, None] + (phase - speed * t[None])[..., *[None] * grid.ndim])
                drift = mean_drift * t.reshape(1, -1, *[1] * grid.ndim)
                fields[field] = (1.0 + k) * wave + 2.0 + drift
            run = Run(
                system=name,
                fields=fields,
                t=t,
                grid=grid,
                params=params,
                dt=0.1,
                seed=seed,
                initial="test",
                wall_time=0.0,
                info={"n_traj": n_traj},
            )
            write_run(root / "data" / split / f"{name}_chunk_{f:03d}.hdf5", run)
    return root


@pytest.fixture(scope="module")
def ks1d(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ks1d"), files=2)


@pytest.mark.parametrize("cache_bytes", [CACHE_BYTES, 0])
def test_windows_are_the_stored_frames_at_every_stride(ks1d, cache_bytes):
    ds = WellWindows(
        ks1d, "train", n_steps_input=3, n_steps_output=2, max_dt_stride=3, cache_bytes=cache_bytes
    )
    assert ds.cached == (cache_bytes > 0)
    raw = []
    for path in sorted((ks1d / "data" / "train").glob("*.hdf5")):
        with h5py.File(path) as h5:
            raw.append(h5["t0_fields/u"][()])
    # every (file, trajectory, start, stride) whose 5 frames fit in the 14 stored steps
    assert len(ds) == 2 * 2 * sum(14 - 4 * s for s in (1, 2, 3))
    assert set(ds.index[:, 3]) == {1, 2, 3}
    for i in range(0, len(ds), 7):
        f, traj, start, stride = ds.index[i]
        sample = ds[i]
        frames = raw[f][traj, start : start + 5 * stride : stride]
        np.testing.assert_array_equal(sample["input_fields"][..., 0].numpy(), frames[:3])
        np.testing.assert_array_equal(sample["output_fields"][..., 0].numpy(), frames[3:])
        assert int(sample["dt_stride"]) == stride
    assert sample["boundary_conditions"].tolist() == [[PERIODIC, PERIODIC]]


def test_the_cache_holds_splits_within_its_budget_and_samples_never_alias_it(ks1d):
    split_bytes = 2 * 2 * 14 * 32 * 4  # files x trajectories x frames x points x float32
    assert WellWindows(ks1d, "train", cache_bytes=split_bytes).cached
    assert not WellWindows(ks1d, "train", cache_bytes=split_bytes - 1).cached
    ds = WellWindows(ks1d, "train", n_steps_input=3)
    first = ds[5]["input_fields"].clone()
    ds[5]["input_fields"].mul_(0)  # a consumer writing into its sample
    torch.testing.assert_close(ds[5]["input_fields"], first, rtol=0, atol=0)
    assert ds._trajectories
    assert pickle.loads(pickle.dumps(ds))._trajectories == {}  # the cache never travels


def test_full_trajectory_mode(ks1d):
    ds = WellWindows(ks1d, "valid", n_steps_input=4, full_trajectory=True)
    assert len(ds) == 4  # one sample per trajectory: 2 files of 2
    sample = ds[1]
    assert sample["input_fields"].shape == (4, 32, 1)
    assert sample["output_fields"].shape == (10, 32, 1)


def test_boundaries_channels_and_scalars(tmp_path):
    walls = scan(write_dataset(tmp_path / "walls", WALLS2D, splits=("train",)))
    assert walls.field_names == ("n", "c", "w")
    assert walls.boundary_conditions == ((WALL, WALL), (WALL, WALL))
    ks2d = scan(write_dataset(tmp_path / "ks2d", KS2D, splits=("train",)))
    # the time-varying scalar u_mean is not a field; the axes are periodic
    assert ks2d.field_names == ("u",) and ks2d.spatial_shape == (16, 16)
    assert ks2d.boundary_conditions == ((PERIODIC, PERIODIC), (PERIODIC, PERIODIC))
    assert OPEN not in np.ravel(ks2d.boundary_conditions)


def test_missing_dataset_split_and_bad_arguments(ks1d, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        WellWindows(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no test files"):
        WellWindows(ks1d, "test")
    with pytest.raises(ValueError, match="split='dev'"):
        WellWindows(ks1d, "dev")
    with pytest.raises(ValueError, match="max_dt_stride=0"):
        WellWindows(ks1d, min_dt_stride=1, max_dt_stride=0)
    with pytest.raises(ValueError, match="no window"):
        WellWindows(ks1d, n_steps_input=10, n_steps_output=5)


def test_files_of_a_split_must_agree(tmp_path):
    root = write_dataset(tmp_path / "mixed", splits=("train",))
    other = write_dataset(tmp_path / "other", ("ks1d", {"L": 22.0, "N": 64}), splits=("train",))
    (other / "data/train/ks1d_chunk_000.hdf5").rename(root / "data/train/ks1d_chunk_001.hdf5")
    with pytest.raises(ValueError, match="disagrees"):
        scan(root)


def test_files_opened_lazily_per_process(ks1d):
    ds = WellWindows(ks1d, "train", n_steps_input=2)
    expected = [ds[i]["input_fields"] for i in range(len(ds))]  # the parent opens files
    assert ds._handles
    assert pickle.loads(pickle.dumps(ds))._handles == {}  # handles never travel
    loader = DataLoader(ds, batch_size=5, num_workers=2)  # forked workers reopen
    got = torch.cat([b["input_fields"] for b in loader])
    torch.testing.assert_close(got, torch.stack(expected), rtol=0, atol=0)
    ds.close()


def test_batch_plan_shards_and_uniform_datasets():
    lengths = [10, 1000]
    one = BatchPlan(lengths, 8, seed=3)
    ranks = [BatchPlan(lengths, 8, seed=3, rank=r, world=2) for r in range(2)]
    picked = []
    for step in range(400):
        batch = one.batch(step)
        assert ranks[0].batch(step) + ranks[1].batch(step) == batch
        d = {int(np.searchsorted(one.offsets, i, side="right") - 1) for i in batch}
        assert len(d) == 1  # one dataset per batch
        picked.append(d.pop())
    # uniform over datasets whatever their sizes: 400 draws, 5 sigma = 0.125
    assert abs(np.mean(picked) - 0.5) < 0.125
    resumed = BatchPlan(lengths, 8, seed=3, start_step=5, n_steps=2)
    assert list(resumed) == [one.batch(5), one.batch(6)]
    with pytest.raises(ValueError, match="not divisible by 3"):
        BatchPlan(lengths, 8, world=3)


def test_multi_windows_tags_the_dataset(ks1d, tmp_path):
    walls = write_dataset(tmp_path / "walls", WALLS2D, splits=("train",))
    sets = [WellWindows(ks1d), WellWindows(walls)]
    multi = MultiWindows(sets)
    assert len(multi) == len(sets[0]) + len(sets[1])
    last = multi[len(multi) - 1]
    assert int(last["dataset_index"]) == 1 and last["input_fields"].shape[-1] == 3


def test_reads_the_wells_dummy_file_like_welldataset(tmp_path):
    dummy = pytest.importorskip("the_well.utils.dummy_data")
    datasets = pytest.importorskip("the_well.data.datasets")
    folder = tmp_path / "dummy" / "data" / "train"
    folder.mkdir(parents=True)
    dummy.write_dummy_data(str(folder / "dummy.hdf5"))
    ours = WellWindows(tmp_path / "dummy", "train", n_steps_input=2, n_steps_output=1)
    theirs = datasets.WellDataset(path=str(folder), n_steps_input=2, n_steps_output=1)
    assert ours.info.field_names == ("field_x", "field_y")
    assert ours.info.constant_field_names == ("constant_field",)
    assert len(ours) == len(theirs)
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        for key in ("input_fields", "output_fields", "constant_fields", "boundary_conditions"):
            torch.testing.assert_close(a[key], b[key].to(a[key].dtype), rtol=0, atol=0)
