"""Unbounded inputs (issue 16) are refused before anything is allocated or planned: the
step count of a run, its memory against the machine's, a recipe's settings, files and
size. Each check is guarded so that a broken one fails here instead of hanging or
allocating: the allocators are replaced by ones that fail the test."""

import importlib
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import pdesim
import pdesim.recipes as recipes
import pdesim.resources as resources
from pdesim.cli import main
from pdesim.io import WellWriter
from pdesim.recipes import MAX_FILES, MAX_PER_FILE, MAX_SETTINGS, RecipeError, load_recipe
from pdesim.resources import MAX_STEPS, GiB

#: The driver module (``pdesim.simulate`` the attribute is the function).
simulate_module = importlib.import_module("pdesim.simulate")
RECIPE = Path(__file__).resolve().parents[1] / "datasets" / "ks1d.toml"


class Stop(Exception):
    """Raised by a progress callback: the run got past its checks."""


def _stop(*_):
    raise Stop


@pytest.fixture
def no_allocation(monkeypatch):
    """A run that passes its checks would draw its initial fields: fail instead."""

    def refuse(*args, **kwargs):
        pytest.fail("the run allocated its initial fields")

    monkeypatch.setattr(simulate_module, "_initial_fields", refuse)


@pytest.fixture
def memory(monkeypatch):
    """The machine has this many bytes free (8 GiB unless a test sets ``.bytes``)."""
    state = SimpleNamespace(bytes=8 * GiB)
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: state.bytes)
    return state


# -- steps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t_end", "dt", "shown"),
    [(1.0, 1e-300, "1e+300"), (1.0, 5e-324, "inf"), (1e6, 1e-4, "1e+10")],
)
def test_a_run_of_too_many_steps_is_refused_naming_dt(no_allocation, t_end, dt, shown):
    with pytest.raises(ValueError) as error:
        pdesim.simulate(pdesim.make_system("ks1d"), t_end=t_end, dt=dt, save_every=t_end)
    message = str(error.value)
    assert message.startswith("parameter 'dt' = ")
    assert f"{shown} steps per trajectory" in message and str(MAX_STEPS) in message


def test_a_checkpoint_interval_no_float_can_count_is_a_value_error():
    with pytest.raises(ValueError, match=r"'checkpoint_every'.*more than a float can count"):
        pdesim.simulate(
            pdesim.make_system("ks1d"),
            t_end=1.0,
            dt=0.25,
            save_every=0.25,
            checkpoint="c.npz",
            checkpoint_every=1e308,
            progress=_stop,
        )


# -- memory -----------------------------------------------------------------------------------


def test_a_billion_trajectories_are_refused_at_once(no_allocation, memory, tmp_path):
    ks1d = pdesim.make_system("ks1d")
    with pytest.raises(ValueError) as error:
        pdesim.simulate(ks1d, t_end=1.0, dt=0.25, save_every=0.25, n_traj=10**9)
    message = str(error.value)
    assert message.startswith("parameter 'n_traj' = 1000000000 with 5 saved frames kept in memory")
    assert "WellWriter" in message and "GiB of memory" in message
    assert "more than the 8 GiB available on this machine" in message
    # Streamed to a file, the initial fields alone are still too many.
    with pytest.raises(ValueError, match=r"^parameter 'n_traj' = 1000000000: needs about 477 GiB"):
        sink = WellWriter(tmp_path / "x.h5")
        pdesim.simulate(ks1d, t_end=1.0, dt=0.25, save_every=0.25, n_traj=10**9, sink=sink)


def test_frames_kept_in_memory_are_counted_and_a_file_sink_is_not(memory, tmp_path):
    ks1d = pdesim.make_system("ks1d")  # 64 points: 512 bytes a frame, float64
    memory.bytes = 1 * GiB
    run = dict(t_end=1e5, dt=0.25, save_every=0.25, n_traj=8, progress=_stop)
    with pytest.raises(ValueError, match=r"'n_traj' = 8 with 400001 saved frames kept in memory"):
        pdesim.simulate(ks1d, **run)
    with pytest.raises(Stop):  # the same run into a file passes its checks and starts
        pdesim.simulate(ks1d, **run, sink=WellWriter(tmp_path / "x.h5"))


def test_a_grid_or_batch_too_large_names_N_or_batch_size(no_allocation, memory, tmp_path):
    with pytest.raises(ValueError, match=r"^parameter 'N' = 1048576 \(1048576 x 1048576 points\)"):
        pdesim.simulate(pdesim.make_system("ks2d", N=2**20), t_end=1.0, dt=0.25, save_every=1.0)
    ks2d = pdesim.make_system("ks2d", N=2048)  # 32 MiB a trajectory
    with pytest.raises(ValueError, match=r"^parameter 'batch_size' = 1000: needs about"):
        sink = WellWriter(tmp_path / "unused.h5")
        pdesim.simulate(
            ks2d, t_end=1.0, dt=0.25, save_every=1.0, n_traj=1000, batch_size=1000, sink=sink
        )


def test_a_graph_too_large_for_its_dense_matrices_names_N(memory):
    memory.bytes = 1 * GiB
    system = pdesim.make_system("chialvo_ring_star", N=2**15)  # 8 GiB a matrix
    with pytest.raises(ValueError, match=r"^parameter 'N' = 32768 \(a graph of 32768 nodes"):
        system.grid  # noqa: B018 (the property builds the matrices)


def test_the_cli_refuses_a_grid_that_does_not_fit_in_one_line(no_allocation, memory, capsys):
    assert main(["run", "ks2d", "--set", "N=1048576", "--t-end", "1", "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "parameter 'N' = 1048576" in lines[0] and "GiB" in lines[0]
    assert main(["run", "ks1d", "--set", "N=2147483648", "--t-end", "1", "--quiet"]) == 2
    assert "'N' must be an even integer >= 16 and <= 1048576" in capsys.readouterr().err


def test_available_memory_reads_meminfo_and_a_cgroup_limit(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 500 kB\n")
    assert resources._meminfo_available(str(meminfo)) == 500 * 1024
    assert resources._meminfo_available(str(tmp_path / "missing")) is None
    monkeypatch.setattr(resources, "_meminfo_available", lambda: 500 * 1024)
    monkeypatch.setattr(resources, "_cgroup_available", lambda: None)
    assert resources.available_memory_bytes() == 500 * 1024
    monkeypatch.setattr(resources, "_cgroup_available", lambda: 100)
    assert resources.available_memory_bytes() == 100
    monkeypatch.undo()
    assert resources.available_memory_bytes() > 0  # the real machine's


def test_require_fits_names_the_request_the_estimate_and_the_machine(memory):
    memory.bytes = 2 * GiB
    resources.require_fits("anything", 2 * GiB)  # fits exactly
    with pytest.raises(ValueError) as error:
        resources.require_fits("parameter 'x' = 3", 3 * GiB, [("a", 2 * GiB), ("b", 1 * GiB)])
    assert str(error.value) == (
        "parameter 'x' = 3: needs about 3 GiB of memory (a 2 GiB; b 1 GiB), more than the "
        "2 GiB available on this machine"
    )
    memory.bytes = None  # unknown: nothing is refused
    resources.require_fits("anything", math.inf)


# -- recipes ----------------------------------------------------------------------------------


def _recipe(tmp_path: Path, old: str, new: str) -> Path:
    text = RECIPE.read_text()
    assert old in text
    path = tmp_path / "ks1d.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.fixture
def no_planning(monkeypatch):
    """Sampling ranges or listing shards means the bounds were not checked first."""

    def refuse(*args, **kwargs):
        pytest.fail("the recipe was expanded before its bounds were checked")

    monkeypatch.setattr(recipes, "_expand_parameter", refuse)
    monkeypatch.setattr(recipes.Recipe, "shards", refuse)


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("train = 112", "train = 1000000000", "sizes.small.train", f"more than the {MAX_FILES}"),
        (
            "L = 22.0",
            "L = {range = [20.0, 24.0], samples = 100000000}",
            "parameters.L.samples",
            f"100000000 parameter settings, more than the {MAX_SETTINGS}",
        ),
        (
            "L = 22.0",
            "L = [20.0, 21.0]\nnu = {range = [1.0, 2.0], samples = 6000}",
            "parameters.nu.samples",
            "12000 parameter settings",
        ),
        ("dt = 0.25", "dt = 1e-9", "run.dt", "2.5e+12 steps per trajectory"),
    ],
)
def test_a_recipe_too_large_is_refused_before_planning(tmp_path, no_planning, old, new, key, words):
    path = _recipe(tmp_path, old, new)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    message = str(error.value)
    assert message.startswith(f"{path}: [{key}] ") and words in message, message


def test_a_file_of_too_many_trajectories_is_refused(tmp_path, no_planning):
    path = _recipe(tmp_path, "train = 112", f"train = {MAX_PER_FILE + 1}\nper_file = 20000")
    path.write_text(path.read_text().replace("per_file = 16\n", "", 1))
    with pytest.raises(RecipeError, match=r"\[sizes.small.per_file\] gives files of 10001"):
        load_recipe(path)


def test_a_dataset_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    recipe = load_recipe(RECIPE)
    size = recipe.estimated_bytes()
    # 160 trajectories x 2401 frames x 64 points x 4 bytes
    assert size == 160 * 2401 * 64 * 4
    out = tmp_path / "ks1d"

    def free(nbytes):
        monkeypatch.setattr(resources.shutil, "disk_usage", lambda _: SimpleNamespace(free=nbytes))

    free(size)
    recipe.require_disk(out)
    free(size - 1)
    with pytest.raises(ValueError) as error:
        recipe.require_disk(out)
    assert str(error.value).startswith(
        f"{RECIPE}: [sizes.small] 160 trajectories x 2401 frames: needs about 0.0916 GiB on "
        f"disk, more than the 0.0916 GiB free under {str(tmp_path)!r}"
    )
    (out / "data" / "train").mkdir(parents=True)  # files already there are not counted twice
    (out / "data" / "train" / "ks1d_chunk_000.hdf5").write_bytes(b"x" * 10)
    recipe.require_disk(out)


def test_shipped_recipes_are_within_the_bounds():
    for path in sorted(RECIPE.parent.glob("*.toml")):
        for size in ("small", "full"):
            recipe = load_recipe(path, size)
            assert len(recipe.shards()) <= MAX_FILES
            assert np.isfinite(recipe.estimated_bytes())


def test_generate_refuses_a_dataset_larger_than_the_free_disk_before_any_work(
    tmp_path, monkeypatch
):
    """pdesim data checks the free disk before it takes the lock, plans or starts a
    cluster: nothing is created."""
    from pdesim.data import generate

    monkeypatch.setattr(resources.shutil, "disk_usage", lambda _: SimpleNamespace(free=1000))
    with pytest.raises(ValueError, match=r"needs about .* GiB on disk, more than the"):
        generate(load_recipe(RECIPE), tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
