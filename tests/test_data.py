"""Datasets: recipes, deterministic parallel generation, resume, faults, validation, The Well."""

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import pdesim
from pdesim.cli import main
from pdesim.data import generate
from pdesim.file_checks import check_dataset, check_file
from pdesim.recipes import RecipeError, load_recipe
from pdesim.stats import compute_stats, read_stats, write_stats

RECIPE = """
name = "tiny"
system = "ks1d"
description = "test data"
seed = 11

[parameters]
L = 22.0
N = 32

[run]
dt = 0.25
t_warmup = 10.0
t_duration = 10.0
save_every = 1.0
dt_halvings = 1

[sizes.small]
train = 4
valid = 2
test = 2
per_file = 2
"""

#: Attributes that legitimately differ between two generations of the same data.
VOLATILE = {"pdesim_wall_time", "pdesim_host"}


def write_recipe(folder: Path, text: str = RECIPE, **replace: str) -> Path:
    for old, new in replace.items():
        text = text.replace(old, new)
    path = folder / "tiny.toml"
    path.write_text(text)
    return path


def contents(dataset: Path) -> dict[str, object]:
    """Every dataset and attribute of every file, wall time and host aside."""
    found: dict[str, object] = {}
    for path in sorted(dataset.glob("data/*/*.hdf5")):
        with h5py.File(path) as h5:
            key = path.relative_to(dataset).as_posix()
            found[key + "@"] = {k: str(v) for k, v in h5.attrs.items() if k not in VOLATILE}

            def visit(name, node, key=key):
                if isinstance(node, h5py.Dataset):
                    found[f"{key}/{name}"] = node[()].tobytes()

            h5.visititems(visit)
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny dataset generated once with two workers."""
    folder = tmp_path_factory.mktemp("reference")
    summary = generate(load_recipe(write_recipe(folder)), folder, workers=2)
    assert summary.ok and summary.files_written == 4 and summary.trajectories == 8
    return folder / "tiny"


def test_dataset_layout_and_validation(reference):
    assert sorted(p.relative_to(reference).as_posix() for p in reference.glob("data/*/*")) == [
        "data/test/tiny_chunk_000.hdf5",
        "data/train/tiny_chunk_000.hdf5",
        "data/train/tiny_chunk_001.hdf5",
        "data/valid/tiny_chunk_000.hdf5",
    ]
    assert (reference / "README.md").read_text().startswith("# tiny (small)")
    assert (reference / "preview.png").stat().st_size > 10_000
    report = check_dataset(reference)
    assert not any(report.values()), report
    with h5py.File(reference / "data/train/tiny_chunk_001.hdf5") as h5:
        assert json.loads(h5.attrs["pdesim_spawn_keys"]) == [[2], [3]]
        assert h5["t0_fields/u"].chunks == (1, 1, 32)
        assert "fftw" in json.loads(h5.attrs["pdesim_versions"])


def test_trajectories_match_a_plain_simulation_with_their_spawn_keys(reference):
    system = pdesim.make_system("ks1d", L=22.0, N=32)
    run = pdesim.simulate(
        system,
        t_end=20.0,
        dt=0.25,
        save_every=1.0,
        t_warmup=10.0,
        seed=11,
        n_traj=2,
        first_trajectory=2,
        batch_size=2,
    )
    with h5py.File(reference / "data/train/tiny_chunk_001.hdf5") as h5:
        stored = h5["t0_fields/u"][()]
    # Same random start; the last bits may differ by FFT planner, not more.
    np.testing.assert_allclose(stored, run.fields["u"], rtol=0, atol=1e-5)


def test_stats_yaml_agrees_with_numpy_on_the_train_split(reference):
    data = np.concatenate(
        [h5py.File(p)["t0_fields/u"][()] for p in sorted(reference.glob("data/train/*.hdf5"))]
    ).astype(np.float64)
    stats = read_stats(reference)
    assert stats["mean"]["u"] == pytest.approx(data.mean(), abs=1e-12)
    assert stats["std"]["u"] == pytest.approx(data.std(), rel=1e-10)
    assert stats["rms"]["u"] == pytest.approx(np.sqrt((data**2).mean()), rel=1e-10)
    delta = np.diff(data, axis=1)
    assert stats["std_delta"]["u"] == pytest.approx(delta.std(), rel=1e-10)
    assert stats["rms_delta"]["u"] == pytest.approx(np.sqrt((delta**2).mean()), rel=1e-10)


def test_one_worker_gives_bit_identical_files(reference, tmp_path):
    summary = generate(load_recipe(write_recipe(tmp_path)), tmp_path, workers=1)
    assert summary.ok
    assert contents(tmp_path / "tiny") == contents(reference)


def test_rerun_skips_complete_files_and_stale_hash_regenerates(reference, tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    generate(recipe, tmp_path, workers=1)
    again = generate(recipe, tmp_path, workers=1)
    assert again.files_written == 0 and again.files_skipped == 4
    changed = load_recipe(
        write_recipe(tmp_path, **{'description = "test data"': 'description = "edited"'})
    )
    assert changed.hash != recipe.hash
    stale = generate(changed, tmp_path, workers=1)
    assert stale.files_written == 4 and stale.files_skipped == 0
    with h5py.File(tmp_path / "tiny/data/valid/tiny_chunk_000.hdf5") as h5:
        assert h5.attrs["pdesim_recipe_hash"] == changed.hash


def test_diverging_trajectories_are_retried_at_smaller_dt(tmp_path):
    # dt = 4 diverges for KS; dt = 2 does not.
    text = RECIPE.replace("dt = 0.25", "dt = 4.0").replace("save_every = 1.0", "save_every = 4.0")
    text = text.replace("t_warmup = 10.0", "t_warmup = 200.0").replace(
        "t_duration = 10.0", "t_duration = 200.0"
    )
    summary = generate(load_recipe(write_recipe(tmp_path, text)), tmp_path, workers=1)
    assert summary.ok and summary.trajectories == 8 and not summary.excluded
    with h5py.File(tmp_path / "tiny/data/train/tiny_chunk_000.hdf5") as h5:
        assert json.loads(h5.attrs["pdesim_dt_per_trajectory"]) == [2.0, 2.0]
        assert np.isfinite(h5["t0_fields/u"][()]).all()


def test_diverging_trajectories_without_retries_are_excluded_and_reported(tmp_path, capsys):
    text = RECIPE.replace("dt = 0.25", "dt = 5.0").replace("save_every = 1.0", "save_every = 5.0")
    text = (
        text.replace("t_warmup = 10.0", "t_warmup = 500.0")
        .replace("t_duration = 10.0", "t_duration = 100.0")
        .replace("dt_halvings = 1", "dt_halvings = 0")
    )
    path = write_recipe(tmp_path, text)
    summary = generate(load_recipe(path), tmp_path, workers=1)
    assert summary.trajectories == 0 and summary.files_written == 0
    assert len(summary.excluded) == 8
    first = summary.excluded[0]
    assert first["seed"] == 11 and first["params"] == {"L": 22.0, "N": 32}
    assert first["time"] > 0 and "non-finite" in first["reason"]
    assert not list((tmp_path / "tiny").glob("data/*/*"))
    # Every split is empty: the run failed, and says which split and why.
    assert not summary.ok
    assert {f["split"]: f["error"] for f in summary.failures} == {
        split: f"split '{split}' is empty: the recipe asks {n} trajectories ({n} diverged and "
        "were excluded)"
        for split, n in (("train", 4), ("valid", 2), ("test", 2))
    }
    assert main(["data", str(path), "--workers", "1", "--quiet"]) == 1
    assert "split 'valid' is empty: the recipe asks 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"seed = 11": "seed = 11\ncolour = 3"}, r"\[colour\] unknown key"),
        ({'system = "ks1d"': 'system = "ks3d"'}, r"\[system\] unknown system 'ks3d'"),
        ({"N = 32": "N = 31"}, r"\[parameters\] parameter 'N' must be an even integer"),
        ({"save_every = 1.0": "save_every = 0.3"}, r"'run.save_every' must be a positive whole"),
        ({"train = 4": "train = 0"}, r"\[sizes.small.train\] needs at least one"),
        ({"dt = 0.25": "dt = -1.0"}, r"'run.dt'"),
        ({"dt_halvings = 1": "dt_halvings = 1\nsubsteps = 2"}, r"\[run.substeps\] unknown key"),
        ({"N = 32": "N = {range = [40, 30], samples = 2}"}, r"\[parameters.N.range\] needs low"),
    ],
)
def test_bad_recipes_fail_before_any_work_naming_the_key(tmp_path, edit, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write_recipe(tmp_path, **edit))
    assert not (tmp_path / "tiny").exists()


def test_a_recipe_with_an_old_parameter_name_names_the_new_one(tmp_path):
    shipped = Path(__file__).parents[1] / "datasets" / "rd_spiral.toml"
    old = tmp_path / "rd_spiral.toml"
    old.write_text(shipped.read_text().replace("\nN = 64\n", "\nn = 64\n"))
    with pytest.raises(
        RecipeError, match=r"\[parameters\] parameter 'n' of system 'rd_spiral' is now called 'N'"
    ):
        load_recipe(old)
    assert load_recipe(shipped).settings[0]["N"] == 64


def test_missing_size_and_invalid_toml_are_reported(tmp_path):
    with pytest.raises(RecipeError, match=r"\[sizes.full\] is not defined"):
        load_recipe(write_recipe(tmp_path), size="full")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)


def test_sweeps_and_ranges_make_one_setting_per_value(tmp_path):
    edits = {"L = 22.0": "L = {range = [20.0, 30.0], samples = 2}", "N = 32": "N = [32, 48]"}
    recipe = load_recipe(write_recipe(tmp_path, **edits))
    assert len(recipe.settings) == 4
    lengths = sorted({s["L"] for s in recipe.settings})
    assert len(lengths) == 2 and all(20.0 <= v <= 30.0 for v in lengths)
    assert load_recipe(write_recipe(tmp_path, **edits)).settings == recipe.settings  # seeded
    shards = recipe.shards()
    assert len({s.relative_path for s in shards}) == len(shards) == 4 * (2 + 1 + 1)
    assert shards[0].filename.startswith("tiny_L_2") and "_N_32_" in shards[0].filename
    with pytest.raises(RecipeError, match="'N' must be an even integer"):
        load_recipe(write_recipe(tmp_path, **{"N = 32": "N = [32.5]"}))
    indices = [s.first_trajectory for s in recipe.shards()]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    from pdesim.recipes import planned_trajectories

    assert planned_trajectories(recipe.raw, recipe.size) == {
        split: 4 * count for split, count in recipe.counts.items()
    }


def test_the_well_reads_our_dataset(reference):
    the_well = pytest.importorskip("the_well.data")
    dataset = the_well.WellDataset(
        path=str(reference), well_split_name="train", n_steps_input=4, n_steps_output=1
    )
    item = dataset[0]
    assert tuple(item["input_fields"].shape) == (4, 32, 1)
    assert tuple(item["output_fields"].shape) == (1, 32, 1)
    with h5py.File(reference / "data/train/tiny_chunk_000.hdf5") as h5:
        u = h5["t0_fields/u"][0, :5]
    np.testing.assert_array_equal(item["input_fields"][..., 0].numpy(), u[:4])
    np.testing.assert_array_equal(item["output_fields"][0, ..., 0].numpy(), u[4])
    assert len(dataset) == 4 * (11 - 5 + 1)


def test_validate_reports_broken_files(reference, tmp_path, capsys):
    import shutil

    copy = tmp_path / "tiny"
    shutil.copytree(reference, copy)
    target = copy / "data/train/tiny_chunk_000.hdf5"
    with h5py.File(target, "a") as h5:
        del h5.attrs["grid_type"]
        h5["t0_fields/u"][1, 3, 5] = np.nan
    assert "root attribute 'grid_type' is missing" in check_file(target)
    with h5py.File(target, "a") as h5:
        h5.attrs["grid_type"] = "cartesian"
    assert any("non-finite" in p for p in check_file(target))
    assert main(["validate", str(copy)]) == 1
    assert "trajectory 1 has non-finite values" in capsys.readouterr().out
    other = tmp_path / "other"
    shutil.copytree(reference, other)
    stats = read_stats(other)
    stats["mean"]["u"] += 0.5
    (other / "stats.yaml").write_text(yaml.safe_dump(stats))
    assert main(["validate", str(other)]) == 1
    assert "stats.yaml mean[u]" in capsys.readouterr().out


LOCK = ".pdesim-data.lock"


def _lock_record(pid: int, host: str | None = None) -> str:
    return json.dumps(
        {
            "pid": pid,
            "host": host or platform.node(),
            "started": "2026-01-01T00:00:00+00:00",
            "recipe": "tiny",
            "recipe_hash": "0123456789abcdef",
        }
    )


def test_a_run_is_refused_while_another_holds_the_output_directory(tmp_path, capsys):
    path = write_recipe(tmp_path)
    recipe = load_recipe(path)
    out = tmp_path / "tiny"
    out.mkdir()
    lock = out / LOCK
    lock.write_text(_lock_record(os.getpid()))  # a live process on this host
    message = rf"lock file {re.escape(str(lock))} names pid {os.getpid()} on host .*still running"
    with pytest.raises(FileExistsError, match=message):
        generate(recipe, tmp_path, workers=1)
    assert not (out / "data").exists()  # refused before any planning
    assert lock.read_text() == _lock_record(os.getpid())  # and the holder's lock left alone
    assert main(["data", str(path), "--workers", "1", "--quiet"]) == 1
    assert f"the lock file {lock} names pid {os.getpid()}" in capsys.readouterr().err
    lock.write_text(_lock_record(1, host="elsewhere"))
    with pytest.raises(FileExistsError, match=r"host 'elsewhere'.*cannot tell.*rm '"):
        generate(recipe, tmp_path, workers=1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(_lock_record(dead.pid))
    (out / (LOCK + ".break")).write_text(_lock_record(os.getpid()))  # a takeover under way
    with pytest.raises(FileExistsError, match=r"taking over the stale lock file"):
        generate(recipe, tmp_path, workers=1)
    assert not (out / "data").exists()


def test_a_stale_lock_is_taken_over_and_every_exit_releases_the_lock(
    reference, tmp_path, monkeypatch
):
    shutil.copytree(reference, tmp_path / "tiny")
    recipe = load_recipe(write_recipe(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "tiny" / LOCK
    lock.write_text(_lock_record(dead.pid))  # left by a killed run
    summary = generate(recipe, tmp_path, workers=1)  # complete already: no cluster
    assert summary.ok and summary.files_skipped == 4
    assert not lock.exists()

    def interrupted(*args, **kwargs):
        assert lock.exists()
        raise KeyboardInterrupt

    monkeypatch.setattr("pdesim.data.plan", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(recipe, tmp_path, workers=1)
    assert not lock.exists()


def test_validate_fails_naming_the_files_of_another_recipe_hash(reference, tmp_path, capsys):
    copy = tmp_path / "tiny"
    shutil.copytree(reference, copy)
    with h5py.File(copy / "data/valid/tiny_chunk_000.hdf5", "a") as h5:
        h5.attrs["pdesim_recipe_hash"] = "0123456789abcdef"  # another seed's file, say
    (problem,) = check_dataset(copy)["dataset"]
    assert "2 recipe hashes" in problem and "data/train" not in problem
    assert "these others: data/valid/tiny_chunk_000.hdf5 (0123456789abcdef)" in problem
    assert main(["validate", str(copy)]) == 1
    assert "2 recipe hashes" in capsys.readouterr().out


def test_validate_fails_on_a_split_short_of_what_the_recipe_asks(reference, tmp_path, capsys):
    copy = tmp_path / "tiny"
    shutil.copytree(reference, copy)
    shutil.rmtree(copy / "data/valid")
    (copy / "data/train/tiny_chunk_001.hdf5").unlink()
    write_stats(copy)  # so that only the counts are wrong
    assert check_dataset(copy)["dataset"] == [
        "split 'train' has 2 of the 4 trajectories the recipe asks",
        "split 'valid' is empty: the recipe asks 2 trajectories",
    ]
    assert main(["validate", str(copy)]) == 1
    assert "split 'valid' is empty" in capsys.readouterr().out


def test_generate_removes_or_replaces_only_files_it_made(reference, tmp_path):
    copy = tmp_path / "tiny"
    shutil.copytree(reference, copy)
    recipe = load_recipe(write_recipe(tmp_path))
    backup = copy / "data/train/tiny_chunk_000_backup.hdf5"
    shutil.copy(copy / "data/train/tiny_chunk_000.hdf5", backup)
    before = contents(copy)
    notes = copy / "data/valid/tiny_notes.hdf5"
    notes.write_bytes(b"not HDF5")
    with pytest.raises(FileExistsError) as refused:
        generate(recipe, tmp_path, workers=1)
    message = str(refused.value)
    assert f"{backup} is a copy or a renamed file: it was written as data/train/" in message
    assert f"{notes} cannot be read as HDF5" in message
    assert notes.read_bytes() == b"not HDF5"
    notes.unlink()
    assert contents(copy) == before  # nothing removed, nothing rewritten
    backup.rename(tmp_path / backup.name)
    # A file this dataset made under a name the recipe no longer wants is removed.
    extra = copy / "data/train/tiny_chunk_002.hdf5"
    shutil.copy(copy / "data/train/tiny_chunk_001.hdf5", extra)
    with h5py.File(extra, "a") as h5:
        h5.attrs["pdesim_shard"] = "data/train/tiny_chunk_002.hdf5"
    summary = generate(recipe, tmp_path, workers=1)
    assert summary.ok and summary.files_skipped == 4 and not extra.exists()
    # A file pdesim did not make, under a name the recipe wants, is not overwritten.
    target = copy / "data/test/tiny_chunk_000.hdf5"
    with h5py.File(target, "a") as h5:
        del h5.attrs["pdesim_recipe_hash"]
    with pytest.raises(FileExistsError, match=r"tiny_chunk_000.hdf5 carries no pdesim data"):
        generate(recipe, tmp_path, workers=1)
    assert target.exists()


def test_show_writes_png_and_gif(reference, tmp_path):
    file = reference / "data/valid/tiny_chunk_000.hdf5"
    assert main(["show", str(file), "--traj", "1", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["show", str(file), "--out", str(tmp_path / "a.gif")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 5_000 and (tmp_path / "a.gif").exists()
    assert main(["show", str(file), "--traj", "5", "--out", str(tmp_path / "b.png")]) == 2


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_generator_resumes_to_identical_files(reference, tmp_path):
    recipe = write_recipe(tmp_path)
    cmd = [sys.executable, "-m", "pdesim.cli", "data", str(recipe), "--workers", "1", "--quiet"]
    process = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for(lambda: any((tmp_path / "tiny").glob("data/*/*.hdf5")))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for path in (tmp_path / "tiny").glob("data/*/*.hdf5"):
        assert check_file(path) == []  # whatever exists is complete
    summary = generate(load_recipe(recipe), tmp_path, workers=1)
    assert summary.ok and summary.files_skipped >= 1
    assert not list((tmp_path / "tiny").glob("data/*/.*.tmp"))
    assert contents(tmp_path / "tiny") == contents(reference)


@pytest.mark.slow
def test_killed_worker_is_retried_and_the_dataset_completes(reference, tmp_path):
    from dask.distributed import LocalCluster

    recipe = load_recipe(write_recipe(tmp_path))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        result = {}
        thread = threading.Thread(
            target=lambda: result.update(
                summary=generate(recipe, tmp_path, scheduler=cluster.scheduler_address)
            )
        )
        thread.start()
        _wait_for(
            lambda: (
                any((tmp_path / "tiny").glob("data/*/*.tmp"))
                or any((tmp_path / "tiny").glob("data/*/.*.tmp"))
            )
        )
        nanny = next(iter(cluster.workers.values()))
        os.kill(nanny.process.process.pid, signal.SIGKILL)
        thread.join(timeout=300)
    assert result["summary"].ok
    assert contents(tmp_path / "tiny") == contents(reference)


def test_stats_of_an_empty_split_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no HDF5 files"):
        compute_stats(tmp_path)


def test_the_summary_names_the_output_folder_from_the_working_directory(
    tmp_path, monkeypatch, capsys
):
    """Workers get absolute paths; the user reads the folder as given, relative to the
    working directory when it lies inside it."""
    monkeypatch.chdir(tmp_path)
    recipe = write_recipe(tmp_path)
    assert main(["data", str(recipe), "--out", "out", "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("tiny (small) -> out/tiny: 4 files written")
