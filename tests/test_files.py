"""The one atomic writer: a complete new file or the old one, never a temporary left."""

import h5py
import pytest

from pdesim import files
from pdesim.files import atomic_path, atomic_write_text, temporary_path


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_write_fsyncs_the_file_then_its_directory(tmp_path, fsyncs):
    atomic_write_text(tmp_path / "a.txt", "new\n")
    assert fsyncs == [False, True]  # the file's data, then the rename in its directory
    assert _listing(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "new\n"


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "a.txt"
    path.write_text("old\n")
    with pytest.raises(error), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise error
    assert _listing(tmp_path) == ["a.txt"] and path.read_text() == "old\n"


def test_a_failed_rename_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old\n")

    def refuse(src, dst):
        raise OSError("no rename")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="no rename"):
        atomic_write_text(path, "new\n")
    assert _listing(tmp_path) == ["a.txt"] and path.read_text() == "old\n"


def test_writers_that_open_the_path_themselves(tmp_path):
    path = tmp_path / "sub" / "a.hdf5"  # the folder is created
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5["x"] = [1, 2, 3]
    with h5py.File(path, "r") as h5:
        assert list(h5["x"][()]) == [1, 2, 3]
    assert _listing(path.parent) == ["a.hdf5"]


def test_temporary_names_are_hidden_unique_and_beside_the_target(tmp_path):
    names = {temporary_path(tmp_path / "a.hdf5") for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert name.parent == tmp_path and name.match(".a.hdf5.*.tmp") and not name.exists()
