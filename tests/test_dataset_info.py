"""The dataset description: scan reads the frame interval, each file's provenance and a
graph's adjacency once; the twin and the latents read them from it; models open no file."""

import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_surrogates_data import KS1D, write_dataset

import pdesim
from pdesim.io import WellWriter
from surrogates.data import dataset_system, scan
from surrogates.forecasters import Twin

MODELS_DIR = Path(__file__).resolve().parent.parent / "surrogates" / "models"


@pytest.fixture
def ks1d(tmp_path):
    return write_dataset(tmp_path / "ks1d", KS1D, n_traj=2, n_t=6, splits=("test",))


def _file(root: Path) -> Path:
    return next((root / "data" / "test").glob("*.hdf5"))


def test_scan_fills_frame_interval_and_provenance(ks1d):
    info = scan(ks1d, "test")
    assert info.frame_interval == pytest.approx(0.1)
    assert info.provenance["system"] == "ks1d"
    assert info.provenance["params"] == {**KS1D[1], "dealias": "2/3"}
    assert info.provenance["dt"] == pytest.approx(0.1)
    assert info.files[0].provenance == info.provenance
    assert [s["params"] for s in info.settings()] == [info.provenance["params"]]
    assert info.adjacency is None
    assert dataset_system(info).name == "ks1d"


def test_a_well_file_not_written_by_pdesim_has_no_provenance(ks1d):
    with h5py.File(_file(ks1d), "r+") as h5:
        for key in [k for k in h5.attrs if k.startswith("pdesim_")]:
            del h5.attrs[key]
    info = scan(ks1d, "test")
    assert info.provenance == {} and info.files[0].provenance is None
    assert info.settings() == [] and info.frame_interval == pytest.approx(0.1)
    with pytest.raises(ValueError, match="not written by pdesim"):
        dataset_system(info)
    with pytest.raises(ValueError, match="not written by pdesim"):
        Twin(info, np.ones(1))


def test_a_parameter_sweep_has_several_settings_and_no_twin(ks1d):
    other = _file(ks1d).with_name("ks1d_chunk_001.hdf5")
    shutil.copy(_file(ks1d), other)
    with h5py.File(other, "r+") as h5:
        h5.attrs["pdesim_params"] = json.dumps({"L": 24.0, "N": 32})
    info = scan(ks1d, "test")
    assert [s["params"]["L"] for s in info.settings()] == [22.0, 24.0]
    with pytest.raises(ValueError, match="2 solver settings"):
        Twin(info, np.ones(1))


def test_files_must_agree_on_the_frame_interval(ks1d):
    other = _file(ks1d).with_name("ks1d_chunk_001.hdf5")
    shutil.copy(_file(ks1d), other)
    with h5py.File(other, "r+") as h5:
        h5["dimensions/time"][...] = 2 * h5["dimensions/time"][()]
    with pytest.raises(ValueError, match=r"frames 0\.2 apart.* 0\.1"):
        scan(ks1d, "test")


def test_a_graph_dataset_carries_its_adjacency(tmp_path):
    system = pdesim.make_system("chialvo_ring_star", preset="chaotic", N=12, R=2)
    path = tmp_path / "data" / "test" / "chialvo.hdf5"
    pdesim.simulate(system, 15.0, 1.0, 1.0, t_warmup=10.0, n_traj=2, seed=0, sink=WellWriter(path))
    info = scan(tmp_path, "test")
    with h5py.File(path) as h5:
        np.testing.assert_array_equal(info.adjacency, h5["graph/adjacency"][()])
    assert info.grid_type == "graph" and info.frame_interval == 1.0


def test_nothing_under_surrogates_models_opens_a_file():
    opens = re.compile(r"\bh5py\b|\bopen\(|np\.load\(|torch\.load\(|read_text\(|read_bytes\(")
    found = [
        f"{path.relative_to(MODELS_DIR)}:{n}: {line.strip()}"
        for path in sorted(MODELS_DIR.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if opens.search(line)
    ]
    assert found == []
