"""Check files and datasets: The Well's format rules plus checks of the data itself.

Format (every rule of The Well's ``check_thewell_formatting.py``): the root
attributes and their types; each simulation parameter a root attribute (and, our
rule, a dataset in ``/scalars``); ``/dimensions`` with ``spatial_dims`` and a
dataset per axis carrying boolean ``sample_varying``/``time_varying``; the three
``t{0,1,2}_fields`` groups with ``field_names``, and per field the flags,
``dim_varying`` and shapes that agree with ``n_trajectories``, the time axis and
the spatial axes; ``/scalars`` with consistent ranks (also its datasets named in
``@pdesim_unlisted``, :data:`pdesim.io.UNLISTED_ATTR`); boundary groups with
``bc_type``, flags, ``associated_dims``/``associated_fields`` and a ``mask`` of the
right size.

Files pdesim did not write (no ``pdesim_system`` attribute: The Well's own, or its
``write_dummy_data`` test file) are held to what The Well's reader needs: the rules
that only pdesim's files follow, or that only the checker asks and ``WellDataset``
never reads, become notes (the ``notes`` list of :func:`check_file`), not problems.
They are: each simulation parameter a dataset in ``/scalars`` and a ``time_varying``
flag on ``/dimensions/time`` (our rules), a ``time_varying`` flag on each spatial
axis, ``associated_dims`` a list (a single name is read the same) and an
``associated_fields`` attribute on each boundary group. The data and content checks
are the same for every file.

Data: non-finite values, float32 fields, trajectories frozen in time or constant
in space and time, extreme outliers (beyond ``OUTLIER_SIGMAS`` standard deviations
of the file), and for a dataset: files of one name, dimension and resolution per
split, one recipe hash over all files, each file where it was written, every split
holding the trajectories its recipe asks (a dataset without a recipe: every split
non-empty), and a ``stats.yaml`` that agrees with the train split.

Content (:func:`verify_content`): every chunk of every field and time-varying scalar
dataset is read, so HDF5's fletcher32 checksums are verified and a damaged chunk or
chunk index is found, and each dataset's stored SHA-256 (``pdesim_sha256``) is
compared with its values. Files without stored checksums (older pdesim files, The
Well's own) pass unless ``strict``; a stored checksum that does not match always fails.

Nothing here raises on a damaged file: whatever cannot be read becomes a problem
string naming the dataset or the file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml

from pdesim.io import (
    DIGEST_ATTR,
    EXCLUDED_ATTR,
    RECIPE_ATTR,
    RECIPE_HASH_ATTR,
    SHARD_ATTR,
    SIZE_ATTR,
    SPLITS,
    SYSTEM_ATTR,
    UNLISTED_ATTR,
    VOLATILE_ATTRS,
    content_digest,
)
from pdesim.recipes import planned_trajectories
from pdesim.stats import STAT_KEYS, compute_stats, read_stats

OUTLIER_SIGMAS = 50.0
_ROOT = {"dataset_name": str, "grid_type": str, "n_spatial_dims": int, "n_trajectories": int}
_BC_TYPES = {"PERIODIC", "WALL", "OPEN"}
#: The problem of a dataset without a stored checksum, reported only when ``strict``.
NO_CHECKSUM = (
    "no content checksum stored (written before pdesim stored them, or not by pdesim); "
    "its values cannot be checked"
)
#: What HDF5 reading may raise on a damaged file (h5py's KeyError for a missing or
#: unreadable object, OSError/RuntimeError for unreadable bytes).
_READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError)


class DamagedFileError(ValueError):
    """A file whose content fails :func:`verify_content` (raised by readers that refuse it)."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def content_datasets(h5: h5py.File) -> list[h5py.Dataset]:
    """The datasets a content checksum covers: every field of ``/t0_fields``,
    ``/t1_fields``, ``/t2_fields`` and every time-varying dataset of ``/scalars``."""
    found = []
    for group in ("t0_fields", "t1_fields", "t2_fields", "scalars"):
        if group not in h5 or not isinstance(h5[group], h5py.Group):
            continue
        for node in h5[group].values():
            if not isinstance(node, h5py.Dataset):
                continue
            if group == "scalars" and not node.attrs.get("time_varying", False):
                continue
            found.append(node)
    return found


def has_checksums(path: str | os.PathLike) -> bool:
    """Whether every dataset :func:`content_datasets` names carries a stored checksum
    (False for a file that cannot be read; :func:`verify_content` says why)."""
    try:
        with h5py.File(path, "r") as h5:
            return all(DIGEST_ATTR in ds.attrs for ds in content_datasets(h5))
    except _READ_ERRORS:
        return False


def verify_content(path: str | os.PathLike, *, strict: bool = False) -> list[str]:
    """Problems with the stored values of ``path`` (empty list: intact).

    Reads every chunk of the datasets :func:`content_datasets` names: a chunk whose
    fletcher32 checksum fails, a damaged chunk index or a truncated file becomes a
    problem naming the dataset; a stored ``pdesim_sha256`` that differs from the values
    is a problem ("the values changed after the file was written"). A dataset without
    a stored checksum is a problem only when ``strict`` (:data:`NO_CHECKSUM`).
    Never raises for a damaged file; the one reader that resume, ``validate`` and the
    surrogates' datasets call.
    """
    try:
        h5 = h5py.File(path, "r")
    except _READ_ERRORS as exc:
        return [f"cannot open as HDF5: {_one_line(exc)}"]
    with h5:
        return _content_problems(h5, strict)[0]


def _content_problems(h5: h5py.File, strict: bool) -> tuple[list[str], bool]:
    """The problems of :func:`verify_content`, and whether every dataset could be read."""
    problems: list[str] = []
    readable = True
    try:
        datasets = content_datasets(h5)
    except _READ_ERRORS as exc:
        return [f"cannot be read: {_one_line(exc)}"], False
    for ds in datasets:
        where = ds.name
        try:
            stored = ds.attrs.get(DIGEST_ATTR)
            actual = content_digest(ds)
        except _READ_ERRORS as exc:
            problems.append(
                f"{where} cannot be read (a damaged chunk or chunk index): {_one_line(exc)}"
            )
            readable = False
            continue
        if stored is None:
            if strict:
                problems.append(f"{where}: {NO_CHECKSUM}")
        elif not isinstance(stored, str) or stored != actual:
            problems.append(
                f"{where}: content checksum mismatch (stored sha256 {str(stored)[:16]}, "
                f"the values give {actual[:16]}): the values changed after the file was written"
            )
    return problems, readable


def _is_bool(value: object) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_list(value: object) -> bool:
    return isinstance(value, list | np.ndarray)


def _flags(
    node: h5py.HLObject,
    label: str,
    problems: list[str],
    lenient: tuple[str, ...] = (),
    notes: list[str] | None = None,
) -> bool:
    """Whether ``node`` has both boolean flags; a missing flag named in ``lenient`` is
    a note (into ``notes``), not a problem."""
    ok = True
    for flag in ("sample_varying", "time_varying"):
        if flag in lenient and flag not in node.attrs and notes is not None:
            notes.append(f"{label} has no '{flag}' attribute (The Well's reader does not need it)")
        elif flag not in node.attrs or not _is_bool(node.attrs[flag]):
            problems.append(f"{label}: needs a boolean '{flag}' attribute")
            ok = False
    return ok


def written_by_pdesim(h5: h5py.File) -> bool:
    """Whether pdesim wrote the file (it carries the ``pdesim_system`` attribute)."""
    return SYSTEM_ATTR in h5.attrs


def _check_root(h5: h5py.File, problems: list[str], notes: list[str] | None = None) -> None:
    for key, kind in _ROOT.items():
        value = h5.attrs.get(key)
        if value is None:
            problems.append(f"root attribute '{key}' is missing")
        elif kind is int and not isinstance(value, int | np.integer):
            problems.append(f"root attribute '{key}' must be an integer, got {value!r}")
        elif kind is str and not isinstance(value, str):
            problems.append(f"root attribute '{key}' must be a string, got {value!r}")
    if "simulation_parameters" not in h5.attrs:
        problems.append("root attribute 'simulation_parameters' is missing")
        return
    for name in h5.attrs["simulation_parameters"]:
        if name not in h5.attrs:
            problems.append(f"simulation parameter '{name}' is not a root attribute")
        if "scalars" in h5 and name not in h5["scalars"]:
            message = f"simulation parameter '{name}' is not a dataset in /scalars"
            (problems if notes is None else notes).append(message)


def _check_dimensions(
    h5: h5py.File, problems: list[str], notes: list[str] | None = None
) -> list[str]:
    dims = h5["dimensions"]
    lenient = ("time_varying",) if notes is not None else ()
    if "time" not in dims:
        problems.append("/dimensions has no 'time' dataset")
    elif not isinstance(dims["time"], h5py.Dataset):
        problems.append("/dimensions/time is not a dataset")
    else:
        _flags(dims["time"], "/dimensions/time", problems, lenient, notes)
    spatial = dims.attrs.get("spatial_dims")
    if spatial is None or not _is_list(spatial) or not all(isinstance(d, str) for d in spatial):
        problems.append("/dimensions needs a 'spatial_dims' attribute: a list of strings")
        return []
    spatial = [str(d) for d in spatial]
    if len(spatial) != h5.attrs.get("n_spatial_dims", -1) or not spatial:
        problems.append(f"'spatial_dims' {spatial} does not match n_spatial_dims")
    for name in spatial:
        if name not in dims or not isinstance(dims[name], h5py.Dataset):
            problems.append(f"dimension '{name}' has no dataset in /dimensions")
        else:
            _flags(dims[name], f"/dimensions/{name}", problems, lenient, notes)
    return spatial


def _check_fields(h5: h5py.File, order: int, spatial: list[str], problems: list[str]) -> None:
    label = f"t{order}_fields"
    group = h5[label]
    names = group.attrs.get("field_names")
    if names is None or not _is_list(names):
        problems.append(f"/{label} needs a 'field_names' list")
        return
    for name in names:
        where = f"/{label}/{name}"
        if name not in group:
            problems.append(f"{where} is named in field_names but missing")
            continue
        ds = group[name]
        if not isinstance(ds, h5py.Dataset):
            problems.append(f"{where} is not a dataset")
            continue
        if not _flags(ds, where, problems):
            continue
        lengths = _axis_lengths(h5, spatial)
        expected: list[int | None] = []
        if ds.attrs["sample_varying"]:
            expected.append(int(h5.attrs["n_trajectories"]))
        if ds.attrs["time_varying"]:
            expected.append(lengths.get("time"))
        dim_varying = ds.attrs.get("dim_varying")
        if dim_varying is None or not _is_list(dim_varying) or len(dim_varying) != len(spatial):
            problems.append(f"{where} needs 'dim_varying': {len(spatial)} booleans")
            continue
        if not all(_is_bool(v) for v in dim_varying):
            problems.append(f"{where}: 'dim_varying' entries must be booleans")
        expected += [lengths.get(d) for d, v in zip(spatial, dim_varying, strict=True) if v]
        expected += [len(spatial)] * order
        # an axis without its dataset (already a problem) is not compared
        if len(ds.shape) != len(expected) or any(
            e is not None and e != n for e, n in zip(expected, ds.shape, strict=True)
        ):
            shown = tuple("?" if e is None else e for e in expected)
            problems.append(f"{where} has shape {ds.shape}, expected {shown}")
        if ds.dtype != np.float32:
            problems.append(f"{where} is {ds.dtype}, expected float32")


def _axis_lengths(h5: h5py.File, spatial: list[str]) -> dict[str, int]:
    """The length of each axis of ``/dimensions`` that has a dataset (time and ``spatial``)."""
    dims = h5["dimensions"]
    return {
        name: int(dims[name].shape[-1])
        for name in ("time", *spatial)
        if name in dims and isinstance(dims[name], h5py.Dataset) and dims[name].ndim
    }


def _check_scalars(h5: h5py.File, problems: list[str]) -> None:
    group = h5["scalars"]
    names = group.attrs.get("field_names")
    if names is None or not _is_list(names):
        problems.append("/scalars needs a 'field_names' list")
        return
    unlisted = group.attrs.get(UNLISTED_ATTR, [])
    if not _is_list(unlisted):
        problems.append(f"/scalars: '{UNLISTED_ATTR}' must be a list of dataset names")
        unlisted = []
    for name in [*names, *unlisted]:
        if name not in group:
            which = "field_names" if name in names else UNLISTED_ATTR
            problems.append(f"/scalars/{name} is named in {which} but missing")
            continue
        ds = group[name]
        if _flags(ds, f"/scalars/{name}", problems):
            rank = int(ds.attrs["sample_varying"]) + int(ds.attrs["time_varying"])
            if ds.ndim != rank:
                problems.append(f"/scalars/{name} has {ds.ndim} dimensions, expected {rank}")


def _check_boundaries(
    h5: h5py.File, spatial: list[str], problems: list[str], notes: list[str] | None = None
) -> None:
    for key, bc in h5["boundary_conditions"].items():
        where = f"/boundary_conditions/{key}"
        if str(bc.attrs.get("bc_type", "")).upper() not in _BC_TYPES:
            problems.append(f"{where}: 'bc_type' must be one of {sorted(_BC_TYPES)}")
        if not _flags(bc, where, problems):
            continue
        if "associated_fields" not in bc.attrs:
            message = f"{where} needs an 'associated_fields' attribute"
            (problems if notes is None else notes).append(message)
        dims = bc.attrs.get("associated_dims")
        if isinstance(dims, str) and notes is not None:
            notes.append(
                f"{where}: 'associated_dims' is the name {dims!r}, not a list (The Well's "
                "checker asks a list; its reader takes the name alike)"
            )
            dims = [dims]
        if dims is None or not _is_list(dims) or len(dims) == 0:
            problems.append(f"{where} needs a non-empty 'associated_dims' list")
            continue
        if "mask" not in bc:
            problems.append(f"{where} has no 'mask' dataset")
            continue
        offset = int(bc.attrs["sample_varying"]) + int(bc.attrs["time_varying"])
        for i, dim in enumerate(dims):
            lengths = _axis_lengths(h5, spatial)
            if dim not in spatial:
                problems.append(f"{where}: associated dim '{dim}' is not a spatial dim")
            elif dim not in lengths:
                continue  # its missing dataset is already a problem
            elif bc["mask"].ndim <= offset + i or bc["mask"].shape[offset + i] != lengths[dim]:
                problems.append(f"{where}: mask size does not match dimension '{dim}'")


def _check_data(h5: h5py.File, problems: list[str]) -> None:
    group = h5["t0_fields"]
    for name in group.attrs.get("field_names", []):
        if name not in group or not group[name].attrs.get("time_varying", False):
            continue
        ds = group[name]
        where = f"/t0_fields/{name}"
        moments = [np.float64(0.0), np.float64(0.0), 0]
        for trajectory in range(ds.shape[0]):
            values = ds[trajectory].astype(np.float64)
            if not np.isfinite(values).all():
                problems.append(f"{where}: trajectory {trajectory} has non-finite values")
                return
            if values.shape[0] > 1 and np.all(values == values[0]):
                problems.append(f"{where}: trajectory {trajectory} is frozen in time")
            moments[0] += values.sum()
            moments[1] += np.square(values).sum()
            moments[2] += values.size
        mean = moments[0] / moments[2]
        std = np.sqrt(max(moments[1] / moments[2] - mean**2, 0.0))
        if std == 0:
            problems.append(f"{where} is constant")
            continue
        for trajectory in range(ds.shape[0]):
            peak = np.abs(ds[trajectory].astype(np.float64) - mean).max()
            if peak > OUTLIER_SIGMAS * std:
                problems.append(
                    f"{where}: trajectory {trajectory} reaches {peak / std:.0f} standard "
                    f"deviations from the mean (limit {OUTLIER_SIGMAS:g})"
                )


def check_file(
    path: str | os.PathLike, *, strict: bool = False, notes: list[str] | None = None
) -> list[str]:
    """Every problem found in one HDF5 file (empty list: the file is valid): the format,
    then the content (:func:`verify_content`; ``strict``: a file without stored
    checksums fails), then the data. Never raises for a damaged file.

    A file pdesim did not write passes the rules only pdesim's files follow (see the
    module docstring); what it lacks of them is appended to ``notes`` if given."""
    try:
        h5 = h5py.File(path, "r")
    except _READ_ERRORS as exc:
        return [f"cannot open as HDF5: {_one_line(exc)}"]
    with h5:
        problems: list[str] = []
        try:
            found: list[str] | None = None if written_by_pdesim(h5) else []
            _check_file(h5, strict, problems, found)
            if notes is not None and found:
                notes += found
        except _READ_ERRORS as exc:
            problems.append(f"cannot be read: {_one_line(exc)}")
    return problems


def _check_file(
    h5: h5py.File, strict: bool, problems: list[str], notes: list[str] | None = None
) -> None:
    """``notes`` None: every rule is a problem (pdesim's files); a list: the rules of
    pdesim's files alone become notes there."""
    _check_root(h5, problems, notes)
    missing = [
        g
        for g in (
            "dimensions",
            "boundary_conditions",
            "scalars",
            *(f"t{i}_fields" for i in range(3)),
        )
        if g not in h5
    ]
    problems += [f"group /{g} is missing" for g in missing]
    if missing or problems:
        return
    spatial = _check_dimensions(h5, problems, notes)
    for order in range(3):
        _check_fields(h5, order, spatial, problems)
    _check_scalars(h5, problems)
    _check_boundaries(h5, spatial, problems, notes)
    if problems:
        return
    content, readable = _content_problems(h5, strict)
    problems += content
    if readable:  # values changed after writing are still checked as data
        _check_data(h5, problems)


def split_contents(
    dataset_dir: str | os.PathLike, recipe_hash: str | None = None
) -> dict[str, dict[str, int]]:
    """Per split, the ``files``, ``trajectories`` and ``excluded`` (diverged, recorded in
    the files) of the HDF5 files that can be opened and, if ``recipe_hash`` is given,
    carry it."""
    root = Path(dataset_dir)
    contents = {split: {"files": 0, "trajectories": 0, "excluded": 0} for split in SPLITS}
    for split in SPLITS:
        for path in sorted((root / "data" / split).glob("*.h*5")):
            try:
                with h5py.File(path, "r") as h5:
                    attrs = dict(h5.attrs)
            except OSError:
                continue
            if recipe_hash is not None and attrs.get(RECIPE_HASH_ATTR) != recipe_hash:
                continue
            contents[split]["files"] += 1
            contents[split]["trajectories"] += int(attrs.get("n_trajectories", 0))
            contents[split]["excluded"] += len(json.loads(attrs.get(EXCLUDED_ATTR, "[]")))
    return contents


def split_problems(contents: dict[str, dict[str, int]], asked: dict[str, int]) -> dict[str, str]:
    """A message for each split whose trajectories (:func:`split_contents`) are not the
    number ``asked`` by the recipe."""
    problems = {}
    for split, wanted in asked.items():
        found, excluded = contents[split]["trajectories"], contents[split]["excluded"]
        why = f" ({excluded} diverged and were excluded)" if excluded else ""
        if found > wanted:
            problems[split] = (
                f"split '{split}' has {found} trajectories, more than the {wanted} the recipe asks"
            )
        elif found == 0 and wanted:
            problems[split] = (
                f"split '{split}' is empty: the recipe asks {wanted} trajectories{why}"
            )
        elif found < wanted:
            problems[split] = (
                f"split '{split}' has {found} of the {wanted} trajectories the recipe asks{why}"
            )
    return problems


def _stamp(h5: h5py.File) -> dict[str, Any]:
    """The provenance a dataset's files must agree on (None where a file has none)."""
    attrs = h5.attrs
    return {
        key: attrs.get(attr)
        for key, attr in (
            ("hash", RECIPE_HASH_ATTR),
            ("recipe", RECIPE_ATTR),
            ("size", SIZE_ATTR),
            ("shard", SHARD_ATTR),
        )
    }


def _provenance_problems(root: Path, stamps: dict[Path, dict[str, Any]]) -> list[str]:
    """One recipe hash over the files, each file where it was written, and every split
    holding what the recipe of the most common hash asks (counting all files)."""
    problems = []
    hashes = Counter(stamp["hash"] for stamp in stamps.values())
    common = hashes.most_common(1)[0][0] if hashes else None
    if len(hashes) > 1:
        odd = [
            f"{path.relative_to(root).as_posix()} ({stamp['hash'] or 'no recipe hash'})"
            for path, stamp in stamps.items()
            if stamp["hash"] != common
        ]
        problems.append(
            f"the files carry {len(hashes)} recipe hashes, so they mix generations: "
            f"{hashes[common]} carry {common}, these others: {', '.join(odd)}"
        )
    for path, stamp in stamps.items():
        relative = path.relative_to(root).as_posix()
        if isinstance(stamp["shard"], str) and stamp["shard"] != relative:
            problems.append(
                f"{relative} was written as {stamp['shard']}: a copied or renamed file "
                "is not part of the dataset"
            )
    if common is None:
        for split in SPLITS[1:]:
            if not any(path.parent.name == split for path in stamps):
                problems.append(f"the {split} split has no files")
        return problems
    stamp = next(s for s in stamps.values() if s["hash"] == common)
    try:
        asked = planned_trajectories(json.loads(stamp["recipe"]), str(stamp["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"cannot tell how many trajectories the stored recipe asks: {exc!r}")
        return problems
    problems += split_problems(split_contents(root), asked).values()  # mixing: see above
    return problems


def check_dataset(
    dataset_dir: str | os.PathLike,
    *,
    strict: bool = False,
    notes: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Problems per file (:func:`check_file`, ``strict`` passed on) and for the dataset
    as a whole (key ``"dataset"``); the notes of files pdesim did not write go into
    ``notes`` (per file) if given."""
    root = Path(dataset_dir)
    report: dict[str, list[str]] = {}
    overall: list[str] = []
    if not (root / "data" / "train").is_dir():
        return {"dataset": [f"{root} has no data/train folder"]}
    stamps: dict[Path, dict[str, Any]] = {}
    for split in SPLITS:
        signatures = set()
        for path in sorted((root / "data" / split).glob("*.h*5")):
            found: list[str] = []
            problems = check_file(path, strict=strict, notes=found)
            report[str(path)] = problems
            if found and notes is not None:
                notes[str(path)] = found
            if not problems:
                with h5py.File(path, "r") as h5:
                    dims = [str(d) for d in h5["dimensions"].attrs["spatial_dims"]]
                    shape = tuple(h5["dimensions"][d].shape[-1] for d in dims)
                    signatures.add((str(h5.attrs["dataset_name"]), len(dims), shape))
                    stamps[path] = _stamp(h5)
        if len(signatures) > 1:
            overall.append(
                f"split '{split}' mixes names/dimensions/resolutions: {sorted(signatures)}"
            )
    if not any(p.startswith(str(root / "data" / "train")) for p in report):
        overall.append("the train split has no files")
    overall += _provenance_problems(root, stamps)
    stats_path = root / "stats.yaml"
    if not stats_path.exists():
        overall.append("stats.yaml is missing")
    elif not any(report.values()) and report:
        stored, fresh = read_stats(root), compute_stats(root)
        for key in STAT_KEYS:
            for name, value in fresh[key].items():
                saved = (stored or {}).get(key, {}).get(name)
                if not isinstance(saved, int | float) or not np.isclose(
                    saved, value, rtol=1e-6, atol=1e-9
                ):
                    overall.append(
                        f"stats.yaml {key}[{name}] = {saved} but the train split gives {value:.6g}"
                    )
    report["dataset"] = overall
    return report


def find_datasets(path: str | os.PathLike) -> list[Path]:
    """``path`` itself if it is a dataset, else the datasets directly below it."""
    root = Path(path)
    if (root / "data").is_dir():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "data").is_dir()) if root.is_dir() else []


def _objects(h5: h5py.File) -> dict[str, h5py.HLObject]:
    """Every group and dataset of ``h5`` by its absolute name."""
    found: dict[str, h5py.HLObject] = {"/": h5}

    def visit(name: str, node: h5py.HLObject) -> None:
        found[f"/{name}"] = node

    h5.visititems(visit)
    return found


def _same_value(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind in "fc":
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(np.all(a == b))


def _value_differences(a: h5py.Dataset, b: h5py.Dataset) -> str:
    """'' if the values of ``a`` and ``b`` (same shape) are equal (NaN equal to NaN), else
    how many differ and by how much at most, read slab by slab."""
    if a.ndim == 0 or a.size == 0:
        return "" if _same_value(a[()], b[()]) else "values differ"
    row = max(1, a.dtype.itemsize * int(np.prod(a.shape[1:])))
    step = max(1, (4 * 2**20) // row)
    count, largest = 0, 0.0
    for i in range(0, a.shape[0], step):
        x, y = a[i : i + step], b[i : i + step]
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            differ = ~((x == y) | (np.isnan(x) & np.isnan(y)))
            if differ.any():
                with np.errstate(invalid="ignore", over="ignore"):
                    gap = np.abs(x[differ].astype(np.float64) - y[differ].astype(np.float64))
                largest = max(largest, float(np.nanmax(gap)) if np.isfinite(gap).any() else np.inf)
        else:
            differ = x != y
        count += int(np.count_nonzero(differ))
    if not count:
        return ""
    by = f" (largest difference {largest:.3g})" if a.dtype.kind in "fc" else ""
    return f"values differ at {count} of {a.size} elements{by}"


def compare_files(
    a: str | os.PathLike, b: str | os.PathLike, *, ignore: Sequence[str] = VOLATILE_ATTRS
) -> list[str]:
    """The differences of content between HDF5 files ``a`` and ``b``, one line each
    (empty list: same content): groups and datasets present in one only, a dataset's
    shape, type or values (NaN equals NaN), and every attribute of every object except
    those named in ``ignore`` (by default :data:`pdesim.io.VOLATILE_ATTRS`, which only
    files written before they were dropped carry). Never raises for a damaged file."""
    lines: list[str] = []
    try:
        with h5py.File(a, "r") as ha, h5py.File(b, "r") as hb:
            left, right = _objects(ha), _objects(hb)
            for name in sorted(left.keys() | right.keys()):
                if name not in right:
                    lines.append(f"{name} is only in {a}")
                    continue
                if name not in left:
                    lines.append(f"{name} is only in {b}")
                    continue
                x, y = left[name], right[name]
                if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
                    lines.append(f"{name} is a dataset in one file and a group in the other")
                    continue
                lines += _attr_differences(name, x, y, set(ignore))
                if not isinstance(x, h5py.Dataset):
                    continue
                if x.shape != y.shape or x.dtype != y.dtype:
                    lines.append(
                        f"{name}: {x.dtype}{list(x.shape)} in {a}, {y.dtype}{list(y.shape)} in {b}"
                    )
                    continue
                try:
                    differ = _value_differences(x, y)
                except _READ_ERRORS as exc:
                    differ = f"cannot be read: {_one_line(exc)}"
                if differ:
                    lines.append(f"{name}: {differ}")
    except _READ_ERRORS as exc:
        lines.append(f"cannot compare {a} and {b}: {_one_line(exc)}")
    return lines


def _attr_differences(name: str, x: h5py.HLObject, y: h5py.HLObject, ignore: set[str]) -> list[str]:
    lines = []
    for key in sorted((x.attrs.keys() | y.attrs.keys()) - ignore):
        where = f"{name.rstrip('/')}@{key}" if name != "/" else f"/@{key}"
        if key not in y.attrs or key not in x.attrs:
            lines.append(f"{where} is only in {(x if key in x.attrs else y).file.filename}")
        elif not _same_value(x.attrs[key], y.attrs[key]):
            lines.append(f"{where}: {_short(x.attrs[key])} != {_short(y.attrs[key])}")
    return lines


def _short(value: Any, width: int = 60) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    text = " ".join(repr(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _comparable(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for pattern in ("*.h5", "*.hdf5", "stats.yaml")
        for p in root.rglob(pattern)
        if p.is_file() and not p.name.startswith(".")
    }


def compare_paths(
    a: str | os.PathLike, b: str | os.PathLike, *, ignore: Sequence[str] = VOLATILE_ATTRS
) -> list[str]:
    """The differences between two files (:func:`compare_files`) or two folders, one line
    each, prefixed by the file they concern. Folders (a dataset or several) are compared
    file by file at the same relative paths: every ``*.h5``/``*.hdf5`` file and every
    ``stats.yaml`` (its values); the dataset card (``README.md``, ``preview.png``), which
    tells how long the generation took, is not compared.

    Raises ``ValueError`` when ``a`` or ``b`` does not exist, or one is a file and the
    other a folder."""
    a, b = Path(a), Path(b)
    for path in (a, b):
        if not path.exists():
            raise ValueError(f"--compare: {str(path)!r} does not exist")
    if a.is_dir() != b.is_dir():
        raise ValueError(f"--compare needs two files or two folders, got {str(a)!r} and {str(b)!r}")
    if not a.is_dir():
        return [f"{a} vs {b}: {line}" for line in compare_files(a, b, ignore=ignore)]
    lines = []
    left, right = _comparable(a), _comparable(b)
    for relative in sorted(left | right):
        if relative not in right or relative not in left:
            lines.append(f"{relative}: only in {a if relative in left else b}")
        elif relative.endswith("stats.yaml"):
            try:
                x, y = (read_stats(root / Path(relative).parent) for root in (a, b))
            except (OSError, ValueError, yaml.YAMLError) as exc:
                lines.append(f"{relative}: cannot be read: {_one_line(exc)}")
                continue
            if x != y:
                lines.append(f"{relative}: the statistics differ")
        else:
            lines += [
                f"{relative}: {line}"
                for line in compare_files(a / relative, b / relative, ignore=ignore)
            ]
    return lines


def drawing_warnings(path: str | os.PathLike, trajectory: int) -> list[str]:
    """What a picture of trajectory ``trajectory`` of ``path`` hides, one line per field:
    values that are not finite (drawn blank; counted for that trajectory, if the file
    has it) and fields not stored as float32 (drawn converted to float64).

    Raises ``ValueError`` naming the field when its type cannot be drawn as real numbers
    (complex, strings, compound types)."""
    warnings = []
    with h5py.File(path, "r") as h5:
        group = h5.get("t0_fields")
        if not isinstance(group, h5py.Group):
            return []  # not a Well file: its reader says so
        for name in [str(n) for n in group.attrs.get("field_names", [])]:
            ds = group.get(name)
            if not isinstance(ds, h5py.Dataset):
                continue
            if ds.dtype.kind not in "biuf":
                raise ValueError(
                    f"{str(path)!r}: field {name!r} is stored as {ds.dtype}; only real "
                    "numbers (float32 as The Well stores them, or other integer and float "
                    "types) can be drawn"
                )
            if ds.dtype != np.float32:
                warnings.append(
                    f"field {name!r} is stored as {ds.dtype}, not float32; drawn converted "
                    "to float64"
                )
            if ds.dtype.kind == "f" and 0 <= trajectory < ds.shape[0]:
                values = ds[trajectory]
                bad = int(values.size - np.count_nonzero(np.isfinite(values)))
                if bad:
                    warnings.append(
                        f"field {name!r}, trajectory {trajectory}: {bad} of {values.size} "
                        "values are not finite (NaN or inf); they are drawn blank"
                    )
    return warnings
