"""Check files and datasets: The Well's format rules plus checks of the data itself.

Format (every rule of The Well's ``check_thewell_formatting.py``): the root
attributes and their types; each simulation parameter a root attribute (and, our
rule, a dataset in ``/scalars``); ``/dimensions`` with ``spatial_dims`` and a
dataset per axis carrying boolean ``sample_varying``/``time_varying``; the three
``t{0,1,2}_fields`` groups with ``field_names``, and per field the flags,
``dim_varying`` and shapes that agree with ``n_trajectories``, the time axis and
the spatial axes; ``/scalars`` with consistent ranks; boundary groups with
``bc_type``, flags, ``associated_dims``/``associated_fields`` and a ``mask`` of the
right size.

Data: non-finite values, float32 fields, trajectories frozen in time or constant
in space and time, extreme outliers (beyond ``OUTLIER_SIGMAS`` standard deviations
of the file), and for a dataset: files of one name, dimension and resolution per
split, one recipe hash over all files, each file where it was written, every split
holding the trajectories its recipe asks (a dataset without a recipe: every split
non-empty), and a ``stats.yaml`` that agrees with the train split.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pdesim.io import EXCLUDED_ATTR, RECIPE_ATTR, RECIPE_HASH_ATTR, SHARD_ATTR, SIZE_ATTR, SPLITS
from pdesim.recipes import planned_trajectories
from pdesim.stats import STAT_KEYS, compute_stats, read_stats

OUTLIER_SIGMAS = 50.0
_ROOT = {"dataset_name": str, "grid_type": str, "n_spatial_dims": int, "n_trajectories": int}
_BC_TYPES = {"PERIODIC", "WALL", "OPEN"}


def _is_bool(value: object) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_list(value: object) -> bool:
    return isinstance(value, list | np.ndarray)


def _flags(node: h5py.HLObject, label: str, problems: list[str]) -> bool:
    ok = True
    for flag in ("sample_varying", "time_varying"):
        if flag not in node.attrs or not _is_bool(node.attrs[flag]):
            problems.append(f"{label}: needs a boolean '{flag}' attribute")
            ok = False
    return ok


def _check_root(h5: h5py.File, problems: list[str]) -> None:
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
            problems.append(f"simulation parameter '{name}' is not a dataset in /scalars")


def _check_dimensions(h5: h5py.File, problems: list[str]) -> list[str]:
    dims = h5["dimensions"]
    if "time" not in dims:
        problems.append("/dimensions has no 'time' dataset")
    else:
        _flags(dims["time"], "/dimensions/time", problems)
    spatial = dims.attrs.get("spatial_dims")
    if spatial is None or not _is_list(spatial) or not all(isinstance(d, str) for d in spatial):
        problems.append("/dimensions needs a 'spatial_dims' attribute: a list of strings")
        return []
    spatial = [str(d) for d in spatial]
    if len(spatial) != h5.attrs.get("n_spatial_dims", -1) or not spatial:
        problems.append(f"'spatial_dims' {spatial} does not match n_spatial_dims")
    for name in spatial:
        if name not in dims:
            problems.append(f"dimension '{name}' has no dataset in /dimensions")
        else:
            _flags(dims[name], f"/dimensions/{name}", problems)
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
        if not _flags(ds, where, problems):
            continue
        expected: list[int] = []
        if ds.attrs["sample_varying"]:
            expected.append(int(h5.attrs["n_trajectories"]))
        if ds.attrs["time_varying"]:
            expected.append(h5["dimensions/time"].shape[-1])
        dim_varying = ds.attrs.get("dim_varying")
        if dim_varying is None or not _is_list(dim_varying) or len(dim_varying) != len(spatial):
            problems.append(f"{where} needs 'dim_varying': {len(spatial)} booleans")
            continue
        if not all(_is_bool(v) for v in dim_varying):
            problems.append(f"{where}: 'dim_varying' entries must be booleans")
        expected += [
            h5["dimensions"][d].shape[-1] for d, v in zip(spatial, dim_varying, strict=True) if v
        ]
        expected += [len(spatial)] * order
        if list(ds.shape) != expected:
            problems.append(f"{where} has shape {ds.shape}, expected {tuple(expected)}")
        if ds.dtype != np.float32:
            problems.append(f"{where} is {ds.dtype}, expected float32")


def _check_scalars(h5: h5py.File, problems: list[str]) -> None:
    group = h5["scalars"]
    names = group.attrs.get("field_names")
    if names is None or not _is_list(names):
        problems.append("/scalars needs a 'field_names' list")
        return
    for name in names:
        if name not in group:
            problems.append(f"/scalars/{name} is named in field_names but missing")
            continue
        ds = group[name]
        if _flags(ds, f"/scalars/{name}", problems):
            rank = int(ds.attrs["sample_varying"]) + int(ds.attrs["time_varying"])
            if ds.ndim != rank:
                problems.append(f"/scalars/{name} has {ds.ndim} dimensions, expected {rank}")


def _check_boundaries(h5: h5py.File, spatial: list[str], problems: list[str]) -> None:
    for key, bc in h5["boundary_conditions"].items():
        where = f"/boundary_conditions/{key}"
        if str(bc.attrs.get("bc_type", "")).upper() not in _BC_TYPES:
            problems.append(f"{where}: 'bc_type' must be one of {sorted(_BC_TYPES)}")
        if not _flags(bc, where, problems):
            continue
        if "associated_fields" not in bc.attrs:
            problems.append(f"{where} needs an 'associated_fields' attribute")
        dims = bc.attrs.get("associated_dims")
        if dims is None or not _is_list(dims) or len(dims) == 0:
            problems.append(f"{where} needs a non-empty 'associated_dims' list")
            continue
        if "mask" not in bc:
            problems.append(f"{where} has no 'mask' dataset")
            continue
        offset = int(bc.attrs["sample_varying"]) + int(bc.attrs["time_varying"])
        for i, dim in enumerate(dims):
            if dim not in spatial:
                problems.append(f"{where}: associated dim '{dim}' is not a spatial dim")
            elif bc["mask"].shape[offset + i] != h5["dimensions"][dim].shape[-1]:
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


def check_file(path: str | os.PathLike) -> list[str]:
    """Every problem found in one HDF5 file (empty list: the file is valid)."""
    problems: list[str] = []
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        return [f"cannot open as HDF5: {exc}"]
    with h5:
        _check_root(h5, problems)
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
            return problems
        spatial = _check_dimensions(h5, problems)
        for order in range(3):
            _check_fields(h5, order, spatial, problems)
        _check_scalars(h5, problems)
        _check_boundaries(h5, spatial, problems)
        if not problems:
            _check_data(h5, problems)
    return problems


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


def check_dataset(dataset_dir: str | os.PathLike) -> dict[str, list[str]]:
    """Problems per file and for the dataset as a whole (key ``"dataset"``)."""
    root = Path(dataset_dir)
    report: dict[str, list[str]] = {}
    overall: list[str] = []
    if not (root / "data" / "train").is_dir():
        return {"dataset": [f"{root} has no data/train folder"]}
    stamps: dict[Path, dict[str, Any]] = {}
    for split in SPLITS:
        signatures = set()
        for path in sorted((root / "data" / split).glob("*.h*5")):
            problems = check_file(path)
            report[str(path)] = problems
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
