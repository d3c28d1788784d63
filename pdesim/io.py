"""Write and read runs as HDF5 files in The Well's schema.

One file holds the trajectories of one parameter setting::

    /                       @dataset_name @grid_type @n_spatial_dims @n_trajectories
                            @simulation_parameters (+ one attribute per parameter)
                            @pdesim_* provenance (ignored by The Well's reader)
    /dimensions             @spatial_dims; time (T,), x (N_x,), ...
    /boundary_conditions/<axis>_<periodic|wall>  @bc_type @associated_dims mask
    /scalars                one float32 dataset per numeric simulation parameter
    /t0_fields/<name>       float32 (n_traj, T, *space)   /t1_fields, /t2_fields (empty)

Every dataset carries ``sample_varying`` and ``time_varying``; fields carry
``dim_varying``. Files are written under a temporary name, flushed to disk and
renamed, so a crash never leaves a complete-looking partial file.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pdesim.simulate import Run
from pdesim.spectral import Grid

AXIS_NAMES = ("x", "y", "z")


def _flags(node: h5py.HLObject, sample: bool, time: bool) -> None:
    node.attrs["sample_varying"] = sample
    node.attrs["time_varying"] = time


def _write_dimensions(h5: h5py.File, grid: Grid, t: np.ndarray) -> list[str]:
    dims = list(AXIS_NAMES[: grid.ndim])
    group = h5.create_group("dimensions")
    group.attrs["spatial_dims"] = dims
    _flags(group.create_dataset("time", data=np.asarray(t, dtype=np.float32)), False, True)
    for name, coord in zip(dims, grid.coords, strict=True):
        _flags(group.create_dataset(name, data=coord.astype(np.float32)), False, False)
    return dims


def _write_boundaries(h5: h5py.File, grid: Grid, dims: list[str]) -> None:
    group = h5.create_group("boundary_conditions")
    kind = "PERIODIC" if grid.periodic else "WALL"
    for name, n in zip(dims, grid.points, strict=True):
        bc = group.create_group(f"{name}_{kind.lower()}")
        bc.attrs["bc_type"] = kind
        bc.attrs["associated_dims"] = [name]
        bc.attrs["associated_fields"] = []
        _flags(bc, False, False)
        mask = np.zeros(n, dtype=bool)
        mask[[0, -1]] = True
        _flags(bc.create_dataset("mask", data=mask), False, False)


def write_run(
    path: str | os.PathLike, run: Run, *, extra_attrs: dict[str, Any] | None = None
) -> Path:
    """Write ``run`` to ``path`` atomically in The Well's layout; returns the path."""
    from pdesim import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    numeric = {k: v for k, v in run.params.items() if isinstance(v, numbers.Real)}
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["dataset_name"] = run.system
            h5.attrs["grid_type"] = "cartesian"
            h5.attrs["n_spatial_dims"] = run.grid.ndim
            h5.attrs["n_trajectories"] = run.n_traj
            h5.attrs["simulation_parameters"] = list(numeric)
            for key, value in numeric.items():
                h5.attrs[key] = value
            provenance = {
                "pdesim_version": __version__,
                "pdesim_system": run.system,
                "pdesim_params": json.dumps(run.params),
                "pdesim_seed": run.seed,
                "pdesim_dt": run.dt,
                "pdesim_initial": run.initial,
                "pdesim_wall_time": run.wall_time,
                "pdesim_boundary": run.grid.boundary,
                "pdesim_lengths": list(run.grid.lengths),
                **(extra_attrs or {}),
            }
            for key, value in provenance.items():
                h5.attrs[key] = value
            dims = _write_dimensions(h5, run.grid, run.t)
            _write_boundaries(h5, run.grid, dims)
            scalars = h5.create_group("scalars")
            scalars.attrs["field_names"] = list(numeric)
            for key, value in numeric.items():
                _flags(scalars.create_dataset(key, data=np.float32(value)), False, False)
            t0 = h5.create_group("t0_fields")
            t0.attrs["field_names"] = list(run.fields)
            for name, values in run.fields.items():
                ds = t0.create_dataset(name, data=values.astype(np.float32))
                ds.attrs["dim_varying"] = [True] * run.grid.ndim
                _flags(ds, True, True)
            for group in ("t1_fields", "t2_fields"):
                h5.create_group(group).attrs["field_names"] = []
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_fields(
    path: str | os.PathLike,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """The t0 fields ``(n_traj, T, *space)``, the time axis and the root attributes of a file."""
    with h5py.File(path, "r") as h5:
        fields = {name: h5["t0_fields"][name][()] for name in h5["t0_fields"].attrs["field_names"]}
        t = h5["dimensions/time"][()]
        attrs = dict(h5.attrs)
    return fields, t, attrs
