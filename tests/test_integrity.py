"""Data integrity (issue 16, items 4 and 5): content checksums that validate, resume and
the surrogates' readers check; byte-identical files from identical runs and
``validate --compare``; a full disk as one clean error with no temporary file left;
``validate`` and ``show`` on damaged or odd files without a traceback."""

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_data import write_recipe

import pdesim
from pdesim import files
from pdesim.cli import main
from pdesim.data import generate
from pdesim.file_checks import (
    NO_CHECKSUM,
    DamagedFileError,
    check_dataset,
    check_file,
    compare_paths,
    has_checksums,
    verify_content,
)
from pdesim.io import DIGEST_ATTR, WALL_TIME_ATTR, WellWriter, content_digest, write_run
from pdesim.recipes import load_recipe
from surrogates.data import WellWindows

TRAIN = "data/train/tiny_chunk_000.hdf5"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The tiny dataset of test_data, generated once (one worker), and its recipe."""
    folder = tmp_path_factory.mktemp("made")
    recipe = write_recipe(folder)
    summary = generate(load_recipe(recipe), folder, workers=1)
    assert summary.ok and summary.files_written == 4
    return folder / "tiny"


def _copy(made: Path, tmp_path: Path) -> Path:
    """A copy of the dataset under ``tmp_path/tiny``, its recipe beside it."""
    write_recipe(tmp_path)
    shutil.copytree(made, tmp_path / "tiny")
    return tmp_path / "tiny"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_bit(path: Path, chunk: int = 3) -> None:
    """Flip one bit inside a chunk of ``/t0_fields/u``, in the file's bytes."""
    with h5py.File(path) as h5:
        offset = h5["t0_fields/u"].id.get_chunk_info(chunk).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset + 7)
        byte = f.read(1)[0]
        f.seek(offset + 7)
        f.write(bytes([byte ^ 0x08]))


def scale_half(path: Path) -> None:
    """A valid-looking rewrite: the first half of the trajectories scaled by 0.5 (HDF5
    writes new chunk checksums, so only the stored digest can tell)."""
    with h5py.File(path, "r+") as h5:
        ds = h5["t0_fields/u"]
        half = ds.shape[0] // 2 or 1
        ds[:half] = ds[:half] * 0.5


def damage_chunk_index(path: Path) -> None:
    """Overwrite the entries of the chunk index (the v1 B-tree of raw-data chunks)."""
    data = path.read_bytes()
    at = data.find(b"TREE\x01")
    assert at > 0
    with open(path, "r+b") as f:
        f.seek(at + 24)
        f.write(b"\xff" * 64)


def _small_file(path: Path, system: str = "ks1d", **params) -> Path:
    run = pdesim.simulate(
        pdesim.make_system(system, **params), t_end=4.0, dt=0.25, save_every=1.0, n_traj=2
    )
    return write_run(path, run)


# -- content checksums -------------------------------------------------------------------


def test_a_good_file_carries_fletcher32_and_a_digest_and_passes(made):
    path = made / TRAIN
    assert check_file(path) == [] and verify_content(path, strict=True) == []
    assert has_checksums(path)
    with h5py.File(path) as h5:
        ds = h5["t0_fields/u"]
        assert ds.fletcher32 and ds.chunks == (1, 1, 32)
        assert ds.attrs[DIGEST_ATTR] == content_digest(ds)  # the writer's, computed as it wrote


def test_time_varying_scalars_carry_checksums_too(tmp_path):
    path = _small_file(tmp_path / "ks2d.h5", "ks2d", N=16, L=10.0)
    with h5py.File(path) as h5:
        ds = h5["scalars/u_mean"]
        assert ds.fletcher32 and ds.attrs[DIGEST_ATTR] == content_digest(ds)
    with h5py.File(path, "r+") as h5:
        h5["scalars/u_mean"][0, 1] = 123.0
    assert any("/scalars/u_mean: content checksum mismatch" in p for p in check_file(path))


@pytest.mark.parametrize("damage", [flip_bit, scale_half], ids=["bit-flip", "half-scaled"])
def test_damage_fails_validate_is_regenerated_on_resume_and_refused_by_readers(
    made, tmp_path, capsys, damage
):
    dataset = _copy(made, tmp_path)
    target = dataset / TRAIN
    damage(target)
    problems = check_file(target)
    assert problems and all(p.startswith("/t0_fields/u") for p in problems[:1]), problems
    assert verify_content(target)
    assert main(["validate", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {target}: /t0_fields/u" in out

    # the surrogates' datasets refuse it, naming the file
    with pytest.raises(DamagedFileError, match=r"tiny_chunk_000\.hdf5"):
        WellWindows(dataset, "train", n_steps_input=2)

    # resume does not keep it as complete: it is generated again, and says so
    assert main(["data", str(tmp_path / "tiny.toml"), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 files written, 3 already complete" in out
    assert f"regenerated (damaged): {TRAIN}: /t0_fields/u" in out
    assert not any(check_dataset(dataset).values())
    assert _sha256(target) == _sha256(made / TRAIN)
    assert len(WellWindows(dataset, "train", n_steps_input=2)) > 0


def test_a_damaged_chunk_index_is_a_problem_not_a_crash(made, tmp_path, capsys):
    path = tmp_path / "index.hdf5"
    shutil.copy(made / TRAIN, path)
    damage_chunk_index(path)
    problems = check_file(path)
    assert len(problems) == 1 and problems[0].startswith("/t0_fields/u cannot be read"), problems
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {path}: /t0_fields/u cannot be read" in out


def test_files_without_checksums_pass_unless_strict_and_a_wrong_one_always_fails(
    made, tmp_path, capsys
):
    old = tmp_path / "old.hdf5"
    shutil.copy(made / TRAIN, old)
    with h5py.File(old, "r+") as h5:
        del h5["t0_fields/u"].attrs[DIGEST_ATTR]
    assert check_file(old) == [] and not has_checksums(old)
    assert check_file(old, strict=True) == [f"/t0_fields/u: {NO_CHECKSUM}"]
    assert main(["validate", str(old)]) == 0
    out = capsys.readouterr().out
    assert "note: 1 files store no content checksums" in out and "all valid" in out
    assert main(["validate", "--strict", str(old)]) == 1
    assert "no content checksum stored" in capsys.readouterr().out

    wrong = tmp_path / "wrong.hdf5"
    shutil.copy(made / TRAIN, wrong)
    with h5py.File(wrong, "r+") as h5:
        h5["t0_fields/u"].attrs[DIGEST_ATTR] = "0" * 64
    assert any("content checksum mismatch" in p for p in check_file(wrong))


def test_readers_verify_a_file_once_while_it_is_unchanged(made, tmp_path, monkeypatch):
    import surrogates.data as sdata

    dataset = _copy(made, tmp_path)
    calls = []
    real = sdata.verify_content
    monkeypatch.setattr(sdata, "verify_content", lambda path: calls.append(path) or real(path))
    WellWindows(dataset, "train", n_steps_input=2)
    WellWindows(dataset, "train", n_steps_input=2)
    assert len(calls) == 2  # two train files, each read once
    scale_half(dataset / TRAIN)  # a new mtime: read again, and refused
    with pytest.raises(DamagedFileError, match="content checksum mismatch"):
        WellWindows(dataset, "train", n_steps_input=2)


# -- byte-identical files ----------------------------------------------------------------


def test_two_identical_generations_give_byte_identical_files(made, tmp_path, capsys):
    summary = generate(load_recipe(write_recipe(tmp_path)), tmp_path, workers=2)
    assert summary.ok
    again = tmp_path / "tiny"
    names = sorted(p.relative_to(made).as_posix() for p in made.glob("data/*/*.hdf5"))
    assert names == sorted(p.relative_to(again).as_posix() for p in again.glob("data/*/*.hdf5"))
    for name in [*names, "stats.yaml"]:
        assert _sha256(made / name) == _sha256(again / name), name
    assert main(["validate", "--compare", str(made), str(again)]) == 0
    assert "same content" in capsys.readouterr().out


def test_two_identical_runs_give_byte_identical_files(tmp_path, capsys):
    outs = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for out in outs:
        assert (
            main(["run", "ks1d", "--t-end", "3", "--n-traj", "2", "--out", str(out), "--quiet"])
            == 0
        )
    assert "in " in capsys.readouterr().out  # the wall time is still told, on stdout
    assert _sha256(outs[0]) == _sha256(outs[1])
    with h5py.File(outs[0]) as h5:
        assert WALL_TIME_ATTR not in h5.attrs and "pdesim_host" not in h5.attrs


def test_compare_names_each_difference_and_ignores_what_may_differ(made, tmp_path, capsys):
    a, b = tmp_path / "a.hdf5", tmp_path / "b.hdf5"
    shutil.copy(made / TRAIN, a)
    shutil.copy(made / TRAIN, b)
    with h5py.File(a, "r+") as h5:  # an older file's wall time is allowed to differ
        h5.attrs[WALL_TIME_ATTR] = 1.5
    assert compare_paths(a, b) == []
    with h5py.File(b, "r+") as h5:
        h5["t0_fields/u"][0, 2, 3] += 1.0
        h5.attrs["pdesim_seed"] = 12
        h5.attrs["pdesim_versions"] = "{}"
    assert main(["validate", "--compare", str(a), str(b)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("3 differences")
    diffs = [line for line in lines if line.startswith("DIFF ")]
    assert len(diffs) == 3
    assert any("/t0_fields/u: values differ at 1 of" in line for line in diffs)
    assert any("/@pdesim_seed: 11 != 12" in line for line in diffs)
    assert main(["validate", "--compare", str(a), str(b), "--ignore", "pdesim_versions"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].endswith("2 differences")
    assert main(["validate", "--compare", str(a), str(tmp_path)]) == 2
    assert "two files or two folders" in capsys.readouterr().err


# -- full disk ---------------------------------------------------------------------------


def test_a_close_that_fails_is_not_retried_and_leaves_no_temporary(tmp_path, monkeypatch):
    calls = []
    real = h5py.File.close

    def failing(self):
        calls.append(self)
        real(self)
        raise OSError("Can't close file (file write failed: errno = 28, error message = ...)")

    writer = WellWriter(tmp_path / "x.h5")
    monkeypatch.setattr(h5py.File, "close", failing)
    system = pdesim.make_system("ks1d")
    with pytest.raises(OSError) as raised:
        pdesim.simulate(system, t_end=2.0, dt=0.25, save_every=1.0, sink=writer)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "x.h5")
    assert len(calls) == 1
    assert os.listdir(tmp_path) == []


def test_a_full_disk_while_writing_is_one_error_naming_the_file(tmp_path, monkeypatch):
    def full(self):
        raise OSError("Can't write data (file write failed: errno = 28, error message = 'No sp")

    monkeypatch.setattr(WellWriter, "_flush", full)
    with pytest.raises(OSError, match="No space left on device") as raised:
        pdesim.simulate(
            pdesim.make_system("ks1d"),
            t_end=2.0,
            dt=0.25,
            save_every=1.0,
            sink=WellWriter(tmp_path / "x.h5"),
        )
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "x.h5")
    assert os.listdir(tmp_path) == []


def test_atomic_path_names_the_file_on_a_full_disk(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(OSError) as raised, files.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert os.listdir(tmp_path) == []


@pytest.fixture
def tmpfs(tmp_path):
    """A 200 KiB tmpfs mounted at ``tmp_path/fs`` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "fs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def _fill(folder: Path, kib: int) -> None:
    for old in folder.iterdir():
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    try:
        (folder / "fill").write_bytes(b"\0" * (kib * 1024))
    except OSError:  # the fill itself found the disk full: it is as full as it gets
        pass


def _pdesim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pdesim.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "kib", [pytest.param(k, marks=pytest.mark.slow) for k in (0, 60, 120, 180, 200)] + [196]
)
def test_pdesim_run_on_a_full_disk_is_one_line_exit_1_and_leaves_nothing(tmpfs, kib):
    """The file (about 180 KiB, more with its reserve) never fits the 200 KiB tmpfs."""
    out = tmpfs / "a.h5"
    _fill(tmpfs, kib)
    done = _pdesim("run", "ks1d", "--t-end", "50", "--n-traj", "4", "--out", str(out), "--quiet")
    assert done.returncode == 1, (done.returncode, done.stderr)  # not a signal
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0] == f"pdesim: error: No space left on device: '{out}'", lines
    assert sorted(p.name for p in tmpfs.iterdir()) == ["fill"]


@pytest.mark.slow
def test_pdesim_data_on_a_full_disk_fails_and_leaves_no_temporary(tmpfs):
    """With room for less than the recipe's field data, pdesim data refuses before any
    work (exit 2, one line); with room for that but not for the files' reserved blocks,
    the shards fail while writing (exit 1). Neither leaves a temporary file or the lock,
    and no traceback reaches the terminal (the workers' logs included)."""
    recipe = write_recipe(tmpfs.parent)
    for kib, status in ((150, 1), (199, 2)):
        _fill(tmpfs, kib)
        done = _pdesim("data", str(recipe), "--out", str(tmpfs), "--workers", "1", "--quiet")
        assert done.returncode == status, (kib, done.returncode, done.stderr, done.stdout)
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        said = [line for line in done.stdout.splitlines() if "FAILED" in line]
        said += [line for line in done.stderr.splitlines() if line.startswith("pdesim: error:")]
        if status == 1:  # the shards' failures in the summary, or the lock file's one line
            assert any("No space left on device" in line for line in said), (kib, done.stdout)
        else:
            assert len(said) == 1 and "GiB on disk, more than the" in said[0], said
        left = [p for p in tmpfs.rglob("*") if p.name.endswith(".tmp")]
        assert left == [], left
        assert not (tmpfs / "tiny" / ".pdesim-data.lock").exists()


# -- validate and show on odd files --------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("time", "/dimensions has no 'time' dataset"),
        ("dimensions", "group /dimensions is missing"),
        ("truncate", "cannot open as HDF5"),
    ],
)
def test_validate_reports_damaged_layouts_without_a_traceback(
    made, tmp_path, capsys, edit, problem
):
    path = tmp_path / "odd.hdf5"
    shutil.copy(made / TRAIN, path)
    if edit == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    else:
        with h5py.File(path, "r+") as h5:
            del h5["dimensions/time" if edit == "time" else "dimensions"]
    problems = check_file(path)
    assert problem in problems[0], problems
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"FAIL {path}: {problem}" in captured.out and captured.err == ""


def _replace_field(path: Path, values: np.ndarray) -> None:
    with h5py.File(path, "r+") as h5:
        group = h5["t0_fields"]
        attrs = dict(group["u"].attrs)
        del group["u"]
        ds = group.create_dataset("u", data=values)
        for key, value in attrs.items():
            ds.attrs[key] = value


def test_show_warns_of_non_finite_values_and_still_draws(tmp_path, capsys):
    path = _small_file(tmp_path / "nan.h5")
    with h5py.File(path, "r+") as h5:
        ds = h5["t0_fields/u"]
        ds[1, 2, 3] = np.nan
        ds[1, 3, 4] = np.inf
        ds[0, 1, 1] = np.nan
    for out in ("a.png", "a.gif"):
        assert main(["show", str(path), "--traj", "1", "--out", str(tmp_path / out)]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("pdesim: warning: "), err
        assert "field 'u', trajectory 1: 2 of 320 values are not finite" in err[0]
        assert (tmp_path / out).stat().st_size > 0


def test_show_warns_of_other_types_and_refuses_what_it_cannot_draw(tmp_path, capsys):
    path = _small_file(tmp_path / "int.h5")
    with h5py.File(path) as h5:
        values = h5["t0_fields/u"][()]
    _replace_field(path, (values * 100).astype(np.int64))
    assert main(["show", str(path), "--out", str(tmp_path / "a.png")]) == 0
    assert "field 'u' is stored as int64, not float32" in capsys.readouterr().err
    _replace_field(path, values.astype(np.float64))
    assert main(["show", str(path), "--out", str(tmp_path / "b.png")]) == 0
    assert "stored as float64, not float32" in capsys.readouterr().err
    _replace_field(path, values.astype(np.complex64))
    assert main(["show", str(path), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field 'u' is stored as complex64" in err[0], err
    assert not (tmp_path / "c.png").exists()
