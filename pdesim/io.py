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
import uuid
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pdesim.common import VERSION
from pdesim.files import commit, temporary_path
from pdesim.grid import Grid
from pdesim.simulate import Run
from pdesim.systems import SYSTEMS, System, make_system

AXIS_NAMES = ("x", "y", "z")
#: A dataset's splits, in order: files lie in ``<dataset>/data/<split>/*.hdf5``.
SPLITS = ("train", "valid", "test")

# Provenance: root attributes pdesim adds to a file, under names The Well's reader
# ignores. Written by every file (WellWriter):
SYSTEM_ATTR = "pdesim_system"  #: the registry name of the system
PARAMS_ATTR = "pdesim_params"  #: JSON of the system's parameters (``System.params_dict``)
BOUNDARY_ATTR = "pdesim_boundary"
LENGTHS_ATTR = "pdesim_lengths"
VERSION_ATTR = "pdesim_version"
SEED_ATTR = "pdesim_seed"
FIRST_TRAJECTORY_ATTR = "pdesim_first_trajectory"
DT_ATTR = "pdesim_dt"
SAVE_EVERY_ATTR = "pdesim_save_every"  #: absent from files written before it existed
INITIAL_ATTR = "pdesim_initial"
METHOD_ATTR = "pdesim_method"
WALL_TIME_ATTR = "pdesim_wall_time"
# Written by dataset shards only (pdesim.data):
RECIPE_ATTR = "pdesim_recipe"  #: JSON of the recipe
RECIPE_HASH_ATTR = "pdesim_recipe_hash"
SIZE_ATTR = "pdesim_size"
SHARD_ATTR = "pdesim_shard"
SPLIT_ATTR = "pdesim_split"
SPAWN_KEYS_ATTR = "pdesim_spawn_keys"  #: JSON list of the trajectories' spawn keys
VERSIONS_ATTR = "pdesim_versions"  #: JSON of the package versions
FFT_ATTR = "pdesim_fft"  #: JSON of the FFT environment of the shard
HOST_ATTR = "pdesim_host"
DT_PER_TRAJECTORY_ATTR = "pdesim_dt_per_trajectory"  #: JSON; only after a dt halving
EXCLUDED_ATTR = "pdesim_excluded"  #: JSON list of diverged trajectories; only after one
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


def _check_attrs(attrs: dict[str, Any]) -> None:
    """Raise ``TypeError`` naming the first of ``attrs`` HDF5 cannot store as an attribute
    (tried on an in-memory file, so that a finished run never fails on it)."""
    name = f"pdesim-attrs-{uuid.uuid4().hex}"
    with h5py.File(name, "w", driver="core", backing_store=False) as h5:
        for key, value in attrs.items():
            try:
                h5.attrs[key] = value
            except (TypeError, ValueError, OverflowError) as exc:
                raise TypeError(
                    f"parameter 'attrs': {key!r} = {value!r} cannot be stored as an HDF5 "
                    f"attribute ({exc})"
                ) from None


class WellWriter:
    """A frame sink that writes one Well-format file, frames streamed as they come.

    Files store what :meth:`System.dataset_frame` returns (for most systems the fields
    themselves; 2-D KS stores ``u - <u>`` and the mean as the scalar ``u_mean``).
    Fields are float32 ``(n_traj, T, *space)`` chunked one frame per chunk. The file
    is built under a temporary name beside ``path`` (:func:`pdesim.files.temporary_path`)
    and renamed only by :meth:`close`, after an fsync (:func:`pdesim.files.commit`);
    :meth:`abort` removes it.

    Parameters
    ----------
    path: the file to create (not a folder; missing folders above it are made).
    dataset_name: the root ``dataset_name`` attribute (default: the system's name).
    attrs: extra root attributes (provenance), written on :meth:`close`; each must be
        storable as an HDF5 attribute, which is checked here, before any run.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        dataset_name: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(
                f"parameter 'path' {str(path)!r} is a folder; give the name of a file in it"
            )
        self.dataset_name = dataset_name
        self.attrs = dict(attrs or {})
        _check_attrs(self.attrs)
        self.tmp = temporary_path(self.path)
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
        h5.attrs[SYSTEM_ATTR] = system.name
        h5.attrs[PARAMS_ATTR] = json.dumps(params)
        h5.attrs[BOUNDARY_ATTR] = grid.boundary
        h5.attrs[LENGTHS_ATTR] = list(grid.lengths)
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
        started = time.perf_counter()
        self._flush()
        provenance = {
            VERSION_ATTR: VERSION,
            SEED_ATTR: run.seed,
            FIRST_TRAJECTORY_ATTR: run.info.get("first_trajectory", 0),
            DT_ATTR: run.dt,
            INITIAL_ATTR: run.initial,
            METHOD_ATTR: run.info.get("method", ""),
            WALL_TIME_ATTR: run.wall_time,
            **({SAVE_EVERY_ATTR: run.info["save_every"]} if "save_every" in run.info else {}),
            **self.attrs,
        }
        for key, value in provenance.items():
            self._h5.attrs[key] = value
        self._h5.close()
        self._h5 = None
        commit(self.tmp, self.path)
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


def _json(attrs: dict[str, Any], key: str) -> Any:
    return json.loads(attrs[key]) if key in attrs else None


def _optional(attrs: dict[str, Any], key: str, kind: type) -> Any:
    return kind(attrs[key]) if key in attrs else None


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """What made the pdesim file ``path``: system, parameters, solver settings, recipe.

    Returns a dict with every key below; ``None`` where the file does not store it:

    - ``system`` (str), ``params`` (dict): rebuild it with :func:`system_from_file`;
    - ``dt`` (float; after a dt halving the first kept trajectory's, see
      ``dt_per_trajectory``), ``method`` (str), ``save_every`` (float, the time between
      frames; for files older than ``pdesim_save_every`` the whole multiple of ``dt``
      nearest the time axis's spacing, None for a single frame), ``seed``,
      ``first_trajectory`` (int), ``initial`` (str), ``version`` (str),
      ``boundary`` (str), ``lengths`` (list of float), ``wall_time`` (float);
    - dataset shards only (:mod:`pdesim.data`): ``recipe`` (dict), ``recipe_hash``,
      ``size``, ``shard``, ``split``, ``host`` (str), ``spawn_keys`` (list),
      ``versions``, ``fft`` (dict), ``dt_per_trajectory``, ``excluded`` (list).

    Raises
    ------
    ValueError: the file was not written by pdesim (it has no ``pdesim_system``).
    """
    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
        times = h5["dimensions/time"][:2] if "dimensions/time" in h5 else np.empty(0)
    if SYSTEM_ATTR not in attrs or PARAMS_ATTR not in attrs:
        raise ValueError(
            f"{str(path)!r} was not written by pdesim: it carries no provenance (no "
            f"{SYSTEM_ATTR!r} and {PARAMS_ATTR!r} attributes), so it names no system"
        )
    dt = _optional(attrs, DT_ATTR, float)
    save_every = _optional(attrs, SAVE_EVERY_ATTR, float)
    if save_every is None and len(times) == 2:
        spacing = float(times[1]) - float(times[0])
        save_every = spacing if dt is None else dt * max(1, round(spacing / dt))
    lengths = attrs.get(LENGTHS_ATTR)
    return {
        "system": str(attrs[SYSTEM_ATTR]),
        "params": json.loads(attrs[PARAMS_ATTR]),
        "dt": dt,
        "method": str(attrs.get(METHOD_ATTR, "")) or None,
        "save_every": save_every,
        "seed": _optional(attrs, SEED_ATTR, int),
        "first_trajectory": _optional(attrs, FIRST_TRAJECTORY_ATTR, int),
        "initial": _optional(attrs, INITIAL_ATTR, str),
        "version": _optional(attrs, VERSION_ATTR, str),
        "boundary": _optional(attrs, BOUNDARY_ATTR, str),
        "lengths": None if lengths is None else [float(v) for v in lengths],
        "wall_time": _optional(attrs, WALL_TIME_ATTR, float),
        "recipe": _json(attrs, RECIPE_ATTR),
        "recipe_hash": _optional(attrs, RECIPE_HASH_ATTR, str),
        "size": _optional(attrs, SIZE_ATTR, str),
        "shard": _optional(attrs, SHARD_ATTR, str),
        "split": _optional(attrs, SPLIT_ATTR, str),
        "host": _optional(attrs, HOST_ATTR, str),
        "spawn_keys": _json(attrs, SPAWN_KEYS_ATTR),
        "versions": _json(attrs, VERSIONS_ATTR),
        "fft": _json(attrs, FFT_ATTR),
        "dt_per_trajectory": _json(attrs, DT_PER_TRAJECTORY_ATTR),
        "excluded": _json(attrs, EXCLUDED_ATTR),
    }


def system_from_file(path: str | os.PathLike) -> System:
    """The system that wrote the pdesim file ``path``, rebuilt from its provenance.

    Raises
    ------
    ValueError: the file carries no pdesim provenance, or its system or parameters are
        not valid for this version of pdesim (the message names the file).
    """
    return _rebuild(path, read_provenance(path))


def _rebuild(path: str | os.PathLike, provenance: dict[str, Any]) -> System:
    """Files written before a parameter was renamed rebuild under its current name."""
    params = provenance["params"]
    if provenance["system"] in SYSTEMS:
        params = SYSTEMS[provenance["system"]].current_spelling(params)
    try:
        return make_system(provenance["system"], **params)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{str(path)!r}: cannot rebuild its system {provenance['system']!r} from the "
            f"stored parameters: {exc}"
        ) from exc


def read_run(path: str | os.PathLike) -> Run:
    """A file written by pdesim as a :class:`Run` (fields as stored, in float64)."""
    provenance = read_provenance(path)
    system = _rebuild(path, provenance)
    with h5py.File(path, "r") as h5:
        n_traj = int(h5.attrs["n_trajectories"])
        names = list(h5["t0_fields"].attrs["field_names"])
        fields = {name: h5["t0_fields"][name][()].astype(np.float64) for name in names}
        t = h5["dimensions/time"][()].astype(np.float64)
    return Run(
        system=system.name,
        fields=fields,
        t=t,
        grid=system.grid,
        params=provenance["params"],
        dt=np.nan if provenance["dt"] is None else provenance["dt"],
        seed=provenance["seed"] or 0,
        initial=provenance["initial"] or "",
        wall_time=np.nan if provenance["wall_time"] is None else provenance["wall_time"],
        info={"n_traj": n_traj, "path": str(path), "save_every": provenance["save_every"]},
    )
