"""Write and read runs as HDF5 files in The Well's schema.

One file holds the trajectories of one parameter setting::

    /                       @dataset_name @grid_type @n_spatial_dims @n_trajectories
                            @simulation_parameters (+ one attribute per parameter)
                            @pdesim_* provenance (ignored by The Well's reader)
    /dimensions             @spatial_dims; time (T,), x (N_x,), ...
    /boundary_conditions/<axis>_<periodic|wall>  @bc_type @associated_dims mask
                            (empty for graphs: grid_type "graph", one axis "node")
    /graph                  graphs only: adjacency, weights (N, N), triangles (T, 3)
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
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pdesim.simulate import Run
from pdesim.spectral import Grid

AXIS_NAMES = ("x", "y", "z")
#: Frames are gathered up to about this many bytes before one HDF5 write.
_BLOCK_BYTES = 4 * 2**20


def _flags(node: h5py.HLObject, sample: bool, time: bool) -> None:
    node.attrs["sample_varying"] = sample
    node.attrs["time_varying"] = time


def _write_dimensions(h5: h5py.File, grid: Grid, t: np.ndarray) -> list[str]:
    dims = list(getattr(grid, "axis_names", AXIS_NAMES[: grid.ndim]))
    group = h5.create_group("dimensions")
    group.attrs["spatial_dims"] = dims
    _flags(group.create_dataset("time", data=np.asarray(t, dtype=np.float32)), False, True)
    for name, coord in zip(dims, grid.coords, strict=True):
        _flags(group.create_dataset(name, data=coord.astype(np.float32)), False, False)
    return dims


def _write_boundaries(h5: h5py.File, grid: Grid, dims: list[str]) -> None:
    group = h5.create_group("boundary_conditions")
    if getattr(grid, "grid_type", "cartesian") == "graph":
        return  # a graph has no boundary: the group stays empty
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


def _write_graph(h5: h5py.File, grid: Any) -> None:
    """For graph grids, ``/graph``: ``adjacency`` (N, N), coupling ``weights`` (N, N) and
    ``triangles`` (T, 3), constant over samples and time (float64 / int64)."""
    if getattr(grid, "grid_type", "cartesian") != "graph":
        return
    group = h5.create_group("graph")
    group.attrs["node_dim"] = "node"
    for name in ("adjacency", "weights", "triangles"):
        _flags(group.create_dataset(name, data=getattr(grid, name)), False, False)


class WellWriter:
    """A frame sink that writes one Well-format file, frames streamed as they come.

    Files store what :meth:`System.dataset_frame` returns (for most systems the fields
    themselves; 2-D KS stores ``u - <u>`` and the mean as the scalar ``u_mean``).
    Fields are float32 ``(n_traj, T, *space)`` chunked one frame per chunk. The file
    is built under a temporary name beside ``path`` and renamed only by
    :meth:`close`, after an fsync; :meth:`abort` removes it.

    Parameters
    ----------
    path: the file to create.
    dataset_name: the root ``dataset_name`` attribute (default: the system's name).
    attrs: extra root attributes (provenance), written on :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        dataset_name: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.dataset_name = dataset_name
        self.attrs = dict(attrs or {})
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._h5: h5py.File | None = None
        self._system: Any = None
        self._fields: list[h5py.Dataset] = []
        self._scalars: dict[str, h5py.Dataset] = {}
        #: Seconds spent in :meth:`write` and :meth:`close` (the cost of output).
        self.write_seconds = 0.0
        # Consecutive frames of one batch are gathered and written as one block: one
        # HDF5 call per frame would cost more than computing a small frame.
        self._pending: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self._pending_at: tuple[int, int, int] = (0, 0, 0)  # first, stop, first index

    def open(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Start the file for ``system`` (a :class:`pdesim.systems.System`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._system = system
        grid = system.grid
        params = system.params_dict()
        numeric = {k: v for k, v in params.items() if isinstance(v, numbers.Real)}
        h5 = self._h5 = h5py.File(self.tmp, "w")
        h5.attrs["dataset_name"] = self.dataset_name or system.name
        h5.attrs["grid_type"] = getattr(grid, "grid_type", "cartesian")
        h5.attrs["n_spatial_dims"] = grid.ndim
        h5.attrs["n_trajectories"] = n_traj
        h5.attrs["simulation_parameters"] = list(numeric)
        for key, value in numeric.items():
            h5.attrs[key] = value
        h5.attrs["pdesim_system"] = system.name
        h5.attrs["pdesim_params"] = json.dumps(params)
        h5.attrs["pdesim_boundary"] = grid.boundary
        h5.attrs["pdesim_lengths"] = list(grid.lengths)
        dims = _write_dimensions(h5, grid, t)
        _write_boundaries(h5, grid, dims)
        _write_graph(h5, grid)
        scalars = h5.create_group("scalars")
        scalars.attrs["field_names"] = [*numeric, *system.dataset_scalars]
        for key, value in numeric.items():
            _flags(scalars.create_dataset(key, data=np.float32(value)), False, False)
        self._scalars = {}
        for key in system.dataset_scalars:
            ds = scalars.create_dataset(key, shape=(n_traj, len(t)), dtype=np.float32)
            _flags(ds, True, True)
            self._scalars[key] = ds
        t0 = h5.create_group("t0_fields")
        t0.attrs["field_names"] = list(system.field_names)
        shape = (n_traj, len(t), *grid.shape)
        self._fields = []
        for field_name in system.field_names:
            ds = t0.create_dataset(
                field_name, shape=shape, dtype=np.float32, chunks=(1, 1, *grid.shape)
            )
            ds.attrs["dim_varying"] = [True] * grid.ndim
            _flags(ds, True, True)
            self._fields.append(ds)
        for group in ("t1_fields", "t2_fields"):
            h5.create_group(group).attrs["field_names"] = []

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        started = time.perf_counter()
        fields, scalars = self._system.dataset_frame(frame)
        stop = first + frame.shape[0]
        at_first, at_stop, at_index = self._pending_at
        if self._pending and (first, stop, index) != (
            at_first,
            at_stop,
            at_index + len(self._pending),
        ):
            self._flush()
        if not self._pending:
            self._pending_at = (first, stop, index)
        self._pending.append((fields.astype(np.float32), scalars))
        if len(self._pending) * fields.size * 4 >= _BLOCK_BYTES:
            self._flush()
        self.write_seconds += time.perf_counter() - started

    def _flush(self) -> None:
        """Write the gathered frames as one block per field."""
        if not self._pending:
            return
        first, stop, index = self._pending_at
        end = index + len(self._pending)
        block = np.stack([fields for fields, _ in self._pending], axis=1)
        for i, ds in enumerate(self._fields):
            ds[first:stop, index:end] = block[:, :, i]
        for key, ds in self._scalars.items():
            values = np.stack([scalars[key] for _, scalars in self._pending], axis=1)
            ds[first:stop, index:end] = values.astype(np.float32)
        self._pending = []

    def close(self, run: Run) -> None:
        from pdesim import __version__

        started = time.perf_counter()
        self._flush()
        provenance = {
            "pdesim_version": __version__,
            "pdesim_seed": run.seed,
            "pdesim_first_trajectory": run.info.get("first_trajectory", 0),
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
        self.write_seconds += time.perf_counter() - started

    def abort(self) -> None:
        self._pending = []
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        self.tmp.unlink(missing_ok=True)

    # -- checkpoint/restart (see pdesim.simulate): the partial file survives an interruption
    def checkpoint_data(self) -> dict[str, Any]:
        """Flush the frames written so far to disk; the partial file's name to store."""
        self._flush()
        self._h5.flush()
        os.fsync(self._h5.id.get_vfd_handle())
        return {"well_tmp": str(self.tmp)}

    def resume(self, system: Any, n_traj: int, t: np.ndarray, data: dict[str, Any]) -> None:
        """Reopen the partial file of an interrupted run (instead of :meth:`open`)."""
        tmp = Path(str(data["well_tmp"]))
        if not tmp.exists():
            raise FileNotFoundError(
                f"cannot resume {str(self.path)!r}: its partial file {str(tmp)!r} is gone"
            )
        self.tmp = tmp
        self._system = system
        h5 = self._h5 = h5py.File(self.tmp, "r+")
        self._fields = [h5["t0_fields"][name] for name in system.field_names]
        self._scalars = {key: h5["scalars"][key] for key in system.dataset_scalars}

    def suspend(self) -> None:
        """Close after an interruption, keeping the partial file for :meth:`resume`."""
        self._pending = []  # frames after the last checkpoint are recomputed on resume
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None


def write_run(path: str | os.PathLike, run: Run, *, attrs: dict[str, Any] | None = None) -> Path:
    """Write an in-memory ``run`` to ``path`` atomically in The Well's layout."""
    from pdesim.systems import make_system

    system = make_system(run.system, **run.params)
    writer = WellWriter(path, attrs=attrs)
    writer.open(system, run.n_traj, run.t)
    try:
        stacked = np.stack([run.fields[name] for name in system.field_names], axis=2)
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


def read_run(path: str | os.PathLike) -> Run:
    """A file written by pdesim as a :class:`Run` (fields as stored, in float64)."""
    from pdesim.systems import make_system

    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
        if "pdesim_system" not in attrs:
            raise ValueError(f"{path} was not written by pdesim (no 'pdesim_system' attribute)")
        names = list(h5["t0_fields"].attrs["field_names"])
        fields = {name: h5["t0_fields"][name][()].astype(np.float64) for name in names}
        t = h5["dimensions/time"][()].astype(np.float64)
    params = json.loads(attrs["pdesim_params"])
    system = make_system(str(attrs["pdesim_system"]), **params)
    return Run(
        system=system.name,
        fields=fields,
        t=t,
        grid=system.grid,
        params=params,
        dt=float(attrs.get("pdesim_dt", np.nan)),
        seed=int(attrs.get("pdesim_seed", 0)),
        initial=str(attrs.get("pdesim_initial", "")),
        wall_time=float(attrs.get("pdesim_wall_time", np.nan)),
        info={"n_traj": int(attrs["n_trajectories"]), "path": str(path)},
    )
