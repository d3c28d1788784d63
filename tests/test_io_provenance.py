"""Provenance: pdesim.io owns the attributes that say what made a file, and reads them back."""

import json

import h5py
import numpy as np
import pytest

import pdesim
from pdesim.data import SHARD_ENVIRONMENT, run_shard
from pdesim.io import (
    PARAMS_ATTR,
    SAVE_EVERY_ATTR,
    SYSTEM_ATTR,
    read_provenance,
    read_run,
    system_from_file,
    write_run,
)
from pdesim.recipes import load_recipe

RECIPE = """
name = "tiny"
system = "ks1d"
description = "provenance test"
seed = 5

[parameters]
L = 22.0
N = 32

[run]
dt = 0.25
t_warmup = 1.0
t_duration = 1.5
save_every = 0.5
method = "etdrk4"
dt_halvings = 0

[sizes.small]
train = 2
valid = 1
test = 1
per_file = 2
"""


@pytest.fixture
def run_file(tmp_path):
    system = pdesim.make_system("ks1d", L=22.0, N=32)
    run = pdesim.simulate(system, t_end=2.0, dt=0.25, save_every=0.5, n_traj=2, seed=3)
    return write_run(tmp_path / "run.hdf5", run), system


def test_a_simulated_file_round_trips_its_provenance(run_file):
    path, system = run_file
    prov = read_provenance(path)
    assert prov["system"] == "ks1d"
    assert prov["params"] == system.params_dict()
    assert prov["dt"] == 0.25 and prov["save_every"] == 0.5
    assert prov["method"] == system.methods[0]
    assert prov["seed"] == 3 and prov["first_trajectory"] == 0
    assert prov["version"] == pdesim.__version__
    assert prov["recipe_hash"] is None and prov["split"] is None  # not a dataset shard
    rebuilt = system_from_file(path)
    assert type(rebuilt) is type(system)
    assert rebuilt.params_dict() == system.params_dict()
    assert read_run(path).info["save_every"] == 0.5


def test_a_dataset_shard_round_trips_its_provenance(tmp_path, monkeypatch):
    for key, value in SHARD_ENVIRONMENT.items():  # run_shard sets them; restore afterwards
        monkeypatch.setenv(key, value)
    (tmp_path / "tiny.toml").write_text(RECIPE)
    recipe = load_recipe(tmp_path / "tiny.toml")
    shard = recipe.shards()[0]
    path = tmp_path / "shard.hdf5"
    run_shard(recipe, shard, str(path))
    prov = read_provenance(path)
    assert prov["system"] == "ks1d" and prov["params"] == {"L": 22.0, "N": 32, "dealias": "2/3"}
    assert prov["dt"] == 0.25 and prov["save_every"] == 0.5 and prov["method"] == "etdrk4"
    assert prov["seed"] == 5
    assert prov["recipe_hash"] == recipe.hash
    assert prov["recipe"] == recipe.raw
    assert prov["split"] == shard.split and prov["shard"] == shard.relative_path
    assert prov["spawn_keys"] == [[0], [1]]
    assert prov["fft"] == SHARD_ENVIRONMENT
    assert prov["excluded"] is None and prov["dt_per_trajectory"] is None
    assert system_from_file(path).params_dict() == prov["params"]


def test_save_every_of_older_files_comes_from_the_time_axis(run_file):
    path, _ = run_file
    with h5py.File(path, "r+") as h5:
        del h5.attrs[SAVE_EVERY_ATTR]
    assert read_provenance(path)["save_every"] == 0.5


def test_a_file_without_provenance_is_refused_naming_it(tmp_path):
    path = tmp_path / "foreign.hdf5"
    with h5py.File(path, "w") as h5:
        h5.attrs["dataset_name"] = "not_ours"
        h5.create_dataset("dimensions/time", data=np.arange(3.0))
    with pytest.raises(ValueError, match=f"{path.name}.*not written by pdesim.*{SYSTEM_ATTR}"):
        read_provenance(path)
    with pytest.raises(ValueError, match=f"{path.name}.*not written by pdesim"):
        system_from_file(path)


def test_stored_parameters_this_version_refuses_are_reported_with_the_file(run_file):
    path, _ = run_file
    with h5py.File(path, "r+") as h5:
        h5.attrs[PARAMS_ATTR] = json.dumps({"L": 22.0, "N": 15})
    with pytest.raises(ValueError, match=f"{path.name}.*ks1d.*'N'"):
        system_from_file(path)


@pytest.mark.parametrize(
    ("name", "params", "old", "message"),
    [
        ("rd_spiral", {"N": 32}, {"N": "n"}, "'n'.*now called 'N'"),
        ("keller_segel", {"boundary": "neumann"}, {"neumann": "walls"}, "'walls'.*'neumann'"),
    ],
)
def test_files_written_before_a_rename_rebuild_under_the_current_names(
    tmp_path, name, params, old, message
):
    system = pdesim.make_system(name, **params)
    run = pdesim.simulate(system, t_end=0.02, dt=0.01, save_every=0.01, n_traj=1, seed=1)
    path = write_run(tmp_path / "old.hdf5", run)
    stored = system.params_dict()
    spelled = {
        old.get(k, k): (old.get(v, v) if isinstance(v, str) else v) for k, v in stored.items()
    }
    with h5py.File(path, "r+") as h5:
        h5.attrs[PARAMS_ATTR] = json.dumps(spelled)
    assert system_from_file(path).params_dict() == stored
    with pytest.raises((TypeError, ValueError), match=message):
        pdesim.make_system(name, **spelled)
