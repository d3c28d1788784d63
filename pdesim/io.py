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


class WellWriter:
    """A frame sink that writes one Well-format file, frames streamed as they come.

    Fields are float32 ``(n_traj, T, *space)`` chunked one frame per chunk. The file
    is built under a temporary name beside ``path`` and renamed only by
    :meth:`close`, after an fsync; :meth:`abort` removes it.
    """

    def __init__(self, path: str | os.PathLike, *, attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.attrs = dict(attrs or {})
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._h5: h5py.File | None = None
        self._fields: list[h5py.Dataset] = []

    def open(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Start the file for ``system`` (a :class:`pdesim.systems.System`)."""
        self._begin(system.name, system.grid, system.field_names, system.params_dict(), n_traj, t)

    def _begin(
        self,
        name: str,
        grid: Grid,
        field_names: tuple[str, ...],
        params: dict[str, Any],
        n_traj: int,
        t: np.ndarray,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        numeric = {k: v for k, v in params.items() if isinstance(v, numbers.Real)}
        h5 = self._h5 = h5py.File(self.tmp, "w")
        h5.attrs["dataset_name"] = name
        h5.attrs["grid_type"] = "cartesian"
        h5.attrs["n_spatial_dims"] = grid.ndim
        h5.attrs["n_trajectories"] = n_traj
        h5.attrs["simulation_parameters"] = list(numeric)
        for key, value in numeric.items():
            h5.attrs[key] = value
        h5.attrs["pdesim_params"] = json.dumps(params)
        h5.attrs["pdesim_boundary"] = grid.boundary
        h5.attrs["pdesim_lengths"] = list(grid.lengths)
        dims = _write_dimensions(h5, grid, t)
        _write_boundaries(h5, grid, dims)
        scalars = h5.create_group("scalars")
        scalars.attrs["field_names"] = list(numeric)
        for key, value in numeric.items():
            _flags(scalars.create_dataset(key, data=np.float32(value)), False, False)
        t0 = h5.create_group("t0_fields")
        t0.attrs["field_names"] = list(field_names)
        shape = (n_traj, len(t), *grid.shape)
        self._fields = []
        for field_name in field_names:
            ds = t0.create_dataset(
                field_name, shape=shape, dtype=np.float32, chunks=(1, 1, *grid.shape)
            )
            ds.attrs["dim_varying"] = [True] * grid.ndim
            _flags(ds, True, True)
            self._fields.append(ds)
        for group in ("t1_fields", "t2_fields"):
            h5.create_group(group).attrs["field_names"] = []

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        stop = first + frame.shape[0]
        for i, ds in enumerate(self._fields):
            ds[first:stop, index] = frame[:, i].astype(np.float32)

    def close(self, run: Run) -> None:
        from pdesim import __version__

        provenance = {
            "pdesim_version": __version__,
            "pdesim_system": run.system,
            "pdesim_seed": run.seed,
            "pdesim_dt": run.dt,
            "pdesim_initial": run.initial,
            "pdesim_method": run.info.get("method", ""),
            "pdesim_wall_time": run.wall_time,
            **self.attrs,
        }
        for key, value in provenance.items():
            self._h5.attrs[key] = value
        self._h5.close()
        self._h5 = None
        with open(self.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        self.tmp.unlink(missing_ok=True)


def write_run(path: str | os.PathLike, run: Run, *, attrs: dict[str, Any] | None = None) -> Path:
    """Write an in-memory ``run`` to ``path`` atomically in The Well's layout."""
    writer = WellWriter(path, attrs=attrs)
    names = tuple(run.fields)
    writer._begin(run.system, run.grid, names, run.params, run.n_traj, run.t)
    try:
        stacked = np.stack([run.fields[name] for name in names], axis=2)
        for index in range(len(run.t)):
            writer.write(0, index, stacked[:, index])
        writer.close(run)
    except BaseException:
        writer.abort()
        raise
    return writer.path


def read_fields(
    path: str | os.PathLike,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """The t0 fields ``(n_traj, T, *space)``, the time axis and the root attributes of a file."""
    with h5py.File(path, "r") as h5:
        fields = {name: h5["t0_fields"][name][()] for name in h5["t0_fields"].attrs["field_names"]}
        t = h5["dimensions/time"][()]
        attrs = dict(h5.attrs)
    return fields, t, attrs
