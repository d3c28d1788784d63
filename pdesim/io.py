"""Write and read runs as HDF5 files in The Well's schema.

One file holds the trajectories of one parameter setting::

    /                       @dataset_name @grid_type @n_spatial_dims @n_trajectories
                            @simulation_parameters (+ one attribute per parameter)
                            @pdesim_* provenance (ignored by The Well's reader)
    /dimensions             @spatial_dims; time (T,), x (N_x,), ...
    /boundary_conditions/<axis>_<periodic|wall>  @bc_type @associated_dims mask
                            (empty for graphs: grid_type "graph", one axis "node")
    /graph                  graphs only: adjacency, weights (N, N), triangles (T, 3)
    /scalars                one float32 dataset per numeric simulation parameter;
                            2-D KS also u_mean (n_traj, T), kept out of field_names
    /t0_fields/<name>       float32 (n_traj, T, *space)   /t1_fields, /t2_fields (empty)

Every dataset carries ``sample_varying`` and ``time_varying``; fields carry
``dim_varying``. Files are written under a temporary name, flushed to disk and
renamed, so a crash never leaves a complete-looking partial file.

Content checksums: every field dataset and every time-varying ``/scalars`` dataset is
chunked with HDF5's fletcher32 filter (each chunk checked on every read, by any
reader) and carries ``@pdesim_sha256`` (:data:`DIGEST_ATTR`), the SHA-256 of its
values (:func:`content_digest`), which catches a rewrite that fletcher32 cannot (new
values, new chunk checksums). :func:`pdesim.file_checks.verify_content` checks both.

Two identical runs write byte-identical files: nothing that varies between runs (wall
time, host, process) is stored, and no HDF5 object records timestamps.
"""

from __future__ import annotations

import errno
import hashlib
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
from pdesim.files import commit, no_space_named, temporary_path
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
#: Only in files written before files became byte-identical between identical runs
#: (read by :func:`read_provenance`; no longer written, see :data:`VOLATILE_ATTRS`).
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
HOST_ATTR = "pdesim_host"  #: only in older files, like :data:`WALL_TIME_ATTR`
DT_PER_TRAJECTORY_ATTR = "pdesim_dt_per_trajectory"  #: JSON; only after a dt halving
EXCLUDED_ATTR = "pdesim_excluded"  #: JSON list of diverged trajectories; only after one
#: On ``/scalars``: its datasets left out of ``field_names`` (per-trajectory, time-varying
#: scalars such as 2-D KS's ``u_mean``; see :class:`WellWriter`). Files written before it
#: existed list them in ``field_names`` instead; readers find them by name either way.
UNLISTED_ATTR = "pdesim_unlisted"
#: On each field and time-varying scalar dataset: :func:`content_digest` of its values.
DIGEST_ATTR = "pdesim_sha256"
#: Attributes that differ between two identical runs, found only in files written
#: before they were dropped (``pdesim validate --compare`` ignores them).
VOLATILE_ATTRS = (WALL_TIME_ATTR, HOST_ATTR)
#: Frames are gathered up to about this many bytes before one HDF5 write.
_BLOCK_BYTES = 4 * 2**20


def _create_file(path: Path, reserve: int) -> h5py.File:
    """A new HDF5 file whose root group records no timestamps (h5py < 3.15 let it),
    with ``reserve`` bytes of disk reserved for it (:func:`_reserve`)."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fcpl=fcpl).close()
    _reserve(path, reserve)
    return h5py.File(path, "r+")


def _reserve(path: Path, nbytes: int) -> None:
    """Allocate disk blocks for ``path`` up to ``nbytes`` (``posix_fallocate``) before
    HDF5 opens it, so that a full disk is found here, as a clean ``ENOSPC``, and not in
    the middle of an HDF5 write: the HDF5 library cannot close a file after a failed
    write, and a second try (or its exit handler) crashes the process. HDF5 writes
    into the reserved blocks and truncates the file to its real end when it closes it
    (the file's end of file is then beyond its end of allocation), so the bytes are
    those of an unreserved file. Where the file system cannot allocate ahead
    (``EOPNOTSUPP``), or Python cannot ask (no ``os.posix_fallocate``: macOS), nothing
    is reserved."""
    size = path.stat().st_size
    if nbytes <= size or not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, size, nbytes - size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def _file_bytes(system: Any, n_traj: int, n_t: int, attrs: dict[str, Any]) -> int:
    """An upper bound of the size of the file :class:`WellWriter` writes: the values,
    each chunk's checksum and chunk-index entry (about 100 bytes measured for one
    frame per chunk; twice that assumed), the grid and graph arrays, the attributes and
    a fixed 64 KiB of other metadata (about 20 KiB measured)."""
    grid = system.grid
    frame = 4 * int(np.prod(grid.shape))
    rank = 2 + grid.ndim
    per_chunk = 2 * (16 + 8 * (rank + 1)) + 40
    fields = len(system.field_names) * n_traj * n_t * (frame + per_chunk)
    scalars = len(system.dataset_scalars) * n_traj * (4 * n_t + 200)
    arrays = sum(8 * len(coord) for coord in grid.coords) + sum(
        np.asarray(getattr(grid, name)).nbytes
        for name in ("adjacency", "weights", "triangles")
        if getattr(grid, "grid_type", "cartesian") == "graph"
    )
    text = sum(len(str(value)) + len(key) + 64 for key, value in attrs.items())
    return fields + scalars + 2 * arrays + 2 * text + 2**16


def _group(parent: h5py.Group, name: str) -> h5py.Group:
    """A new group that records no timestamps (h5py < 3.15 made groups that did)."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def _dataset(group: h5py.Group, name: str, **kwargs: Any) -> h5py.Dataset:
    return group.create_dataset(name, track_times=False, **kwargs)


def _little_endian(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("<") if dtype.byteorder in "<>=" else dtype


def _sample_bytes(values: np.ndarray) -> np.ndarray:
    """The values as a buffer of C-order little-endian bytes of their type (no copy when
    they already are)."""
    return np.ascontiguousarray(values, dtype=_little_endian(values.dtype))


def combine_digests(samples: list[bytes]) -> str:
    """The dataset digest of :func:`content_digest` from its per-sample SHA-256 digests."""
    return hashlib.sha256(b"".join(samples)).hexdigest()


def content_digest(ds: h5py.Dataset) -> str:
    """The content checksum of ``ds``: for each index ``i`` of its first axis (a
    trajectory), the SHA-256 of ``ds[i]``'s values in C order as little-endian bytes
    of the stored type; then the SHA-256 (hex) of these digests in order
    (:func:`combine_digests`). Per trajectory, so that :class:`WellWriter` computes it
    as the frames come (each trajectory's in time order), without reading the file
    back. Read here in blocks of about 4 MiB, so every chunk is read and a fletcher32
    failure raises (``OSError``). A 0-d dataset is one sample."""
    if ds.ndim == 0:
        return combine_digests([hashlib.sha256(_sample_bytes(np.asarray(ds[()]))).digest()])
    samples = []
    row = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))  # bytes of ds[i]
    if row <= _BLOCK_BYTES or ds.ndim == 1:
        step = max(1, _BLOCK_BYTES // row)
        for i in range(0, ds.shape[0], step):
            block = ds[i : i + step]
            samples += [hashlib.sha256(_sample_bytes(sample)).digest() for sample in block]
        return combine_digests(samples)
    step = max(1, _BLOCK_BYTES // (row // max(1, ds.shape[1])))
    for i in range(ds.shape[0]):
        digest = hashlib.sha256()
        for j in range(0, ds.shape[1], step):
            digest.update(_sample_bytes(ds[i, j : j + step]))
        samples.append(digest.digest())
    return combine_digests(samples)


def _flags(node: h5py.HLObject, sample: bool, time: bool) -> None:
    node.attrs["sample_varying"] = sample
    node.attrs["time_varying"] = time


def _write_dimensions(h5: h5py.File, grid: Grid, t: np.ndarray) -> list[str]:
    dims = list(getattr(grid, "axis_names", AXIS_NAMES[: grid.ndim]))
    group = _group(h5, "dimensions")
    group.attrs["spatial_dims"] = dims
    _flags(_dataset(group, "time", data=np.asarray(t, dtype=np.float32)), False, True)
    for name, coord in zip(dims, grid.coords, strict=True):
        _flags(_dataset(group, name, data=coord.astype(np.float32)), False, False)
    return dims


def _write_boundaries(h5: h5py.File, grid: Grid, dims: list[str]) -> None:
    group = _group(h5, "boundary_conditions")
    if getattr(grid, "grid_type", "cartesian") == "graph":
        return  # a graph has no boundary: the group stays empty
    kind = "PERIODIC" if grid.periodic else "WALL"
    for name, n in zip(dims, grid.points, strict=True):
        bc = _group(group, f"{name}_{kind.lower()}")
        bc.attrs["bc_type"] = kind
        bc.attrs["associated_dims"] = [name]
        bc.attrs["associated_fields"] = []
        _flags(bc, False, False)
        mask = np.zeros(n, dtype=bool)
        mask[[0, -1]] = True
        _flags(_dataset(bc, "mask", data=mask), False, False)


def _write_graph(h5: h5py.File, grid: Any) -> None:
    """For graph grids, ``/graph``: ``adjacency`` (N, N), coupling ``weights`` (N, N) and
    ``triangles`` (T, 3), constant over samples and time (float64 / int64)."""
    if getattr(grid, "grid_type", "cartesian") != "graph":
        return
    group = _group(h5, "graph")
    group.attrs["node_dim"] = "node"
    for name in ("adjacency", "weights", "triangles"):
        _flags(_dataset(group, name, data=getattr(grid, name)), False, False)


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
    themselves; 2-D KS stores ``u - <u>`` and the mean as the scalar ``u_mean``,
    a dataset of ``/scalars`` named in its :data:`UNLISTED_ATTR`, not its ``field_names``).
    Fields are float32 ``(n_traj, T, *space)`` chunked one frame per chunk, with
    fletcher32 checksums, and get their :data:`DIGEST_ATTR` on :meth:`close`. The file
    is built under a temporary name beside ``path`` (:func:`pdesim.files.temporary_path`)
    and renamed only by :meth:`close`, after an fsync (:func:`pdesim.files.commit`);
    :meth:`abort`, and :meth:`open` or :meth:`close` when they fail, remove it. A full
    file system raises ``OSError(ENOSPC, "No space left on device", path)`` from any
    method.

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
        # Content digests (content_digest) as frames come: one running SHA-256 per
        # dataset and trajectory, and the next frame each trajectory expects. Frames out
        # of that order (or a resumed file) make close read the file back instead.
        self._hashers: list[list[Any]] | None = None
        self._next_frame = np.zeros(0, dtype=np.int64)

    def open(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        """Start the file for ``system`` (a :class:`pdesim.systems.System`)."""
        try:
            with no_space_named(self.path):
                self._open(system, n_traj, t)
        except BaseException:
            self.abort()
            raise

    def _open(self, system: Any, n_traj: int, t: np.ndarray) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._system = system
        grid = system.grid
        params = system.params_dict()
        numeric = {k: v for k, v in params.items() if isinstance(v, numbers.Real)}
        reserve = _file_bytes(system, n_traj, len(t), {**self.attrs, "params": params})
        h5 = self._h5 = _create_file(self.tmp, reserve)
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
        scalars = _group(h5, "scalars")
        # Per-trajectory, time-varying scalars (2-D KS's u_mean) are stored in /scalars
        # but left out of its field_names (named in UNLISTED_ATTR instead): The Well's
        # check_thewell_formatting.py adds the two numpy-boolean flags of such a scalar
        # (True + True is True, so it expects one dimension of the two) and fails the
        # file, while WellDataset, which reads only listed scalars, never needs them.
        scalars.attrs["field_names"] = list(numeric)
        if system.dataset_scalars:
            scalars.attrs[UNLISTED_ATTR] = list(system.dataset_scalars)
        for key, value in numeric.items():
            _flags(_dataset(scalars, key, data=np.float32(value)), False, False)
        self._scalars = {}
        for key in system.dataset_scalars:
            ds = _dataset(
                scalars,
                key,
                shape=(n_traj, len(t)),
                dtype=np.float32,
                chunks=(1, len(t)),
                fletcher32=True,
            )
            _flags(ds, True, True)
            self._scalars[key] = ds
        t0 = _group(h5, "t0_fields")
        t0.attrs["field_names"] = list(system.field_names)
        shape = (n_traj, len(t), *grid.shape)
        self._fields = []
        for field_name in system.field_names:
            ds = _dataset(
                t0,
                field_name,
                shape=shape,
                dtype=np.float32,
                chunks=(1, 1, *grid.shape),
                fletcher32=True,
            )
            ds.attrs["dim_varying"] = [True] * grid.ndim
            _flags(ds, True, True)
            self._fields.append(ds)
        for group in ("t1_fields", "t2_fields"):
            _group(h5, group).attrs["field_names"] = []
        self._hashers = [
            [hashlib.sha256() for _ in range(n_traj)]
            for _ in range(len(self._fields) + len(self._scalars))
        ]
        self._next_frame = np.zeros(n_traj, dtype=np.int64)

    def write(self, first: int, index: int, frame: np.ndarray) -> None:
        with no_space_named(self.path):
            self._write(first, index, frame)

    def _write(self, first: int, index: int, frame: np.ndarray) -> None:
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
        blocks = [block[:, :, i] for i in range(len(self._fields))]
        blocks += [
            np.stack([scalars[key] for _, scalars in self._pending], axis=1).astype(np.float32)
            for key in self._scalars
        ]
        for ds, values in zip([*self._fields, *self._scalars.values()], blocks, strict=True):
            ds[first:stop, index:end] = values
        self._digest(first, stop, index, end, blocks)
        self._pending = []

    def _digest(self, first: int, stop: int, index: int, end: int, blocks: list) -> None:
        """Feed frames ``index:end`` of trajectories ``first:stop`` to the running digests,
        or give them up (close reads the file back) if a trajectory gets them out of order."""
        if self._hashers is None:
            return
        if np.any(self._next_frame[first:stop] != index):
            self._hashers = None
            return
        for hashers, values in zip(self._hashers, blocks, strict=True):
            for offset, trajectory in enumerate(range(first, stop)):
                frames = values[offset]
                if frames.flags.c_contiguous:
                    hashers[trajectory].update(_sample_bytes(frames))
                else:  # a field of several: each frame is contiguous, the frames are not
                    for frame in frames:
                        hashers[trajectory].update(_sample_bytes(frame))
        self._next_frame[first:stop] = end

    def close(self, run: Run) -> None:
        """Finish the file: the last frames, the digests, the provenance (nothing that
        varies between identical runs: ``run.wall_time`` is not stored), an fsync and
        the rename. On any failure the temporary file is removed and the error raised
        (a full file system as ``OSError(ENOSPC, ..., path)``)."""
        started = time.perf_counter()
        try:
            with no_space_named(self.path):
                self._close(run)
        except BaseException:
            self.abort()
            raise
        self.write_seconds += time.perf_counter() - started

    def _close(self, run: Run) -> None:
        self._flush()
        datasets = [*self._fields, *self._scalars.values()]
        complete = self._hashers is not None and all(
            n == ds.shape[1] for ds in datasets[:1] for n in self._next_frame
        )
        for k, ds in enumerate(datasets):
            ds.attrs[DIGEST_ATTR] = (
                combine_digests([h.digest() for h in self._hashers[k]])
                if complete
                else content_digest(ds)  # written out of order or resumed: read it back
            )
        provenance = {
            VERSION_ATTR: VERSION,
            SEED_ATTR: run.seed,
            FIRST_TRAJECTORY_ATTR: run.info.get("first_trajectory", 0),
            DT_ATTR: run.dt,
            INITIAL_ATTR: run.initial,
            METHOD_ATTR: run.info.get("method", ""),
            **({SAVE_EVERY_ATTR: run.info["save_every"]} if "save_every" in run.info else {}),
            **self.attrs,
        }
        for key, value in provenance.items():
            self._h5.attrs[key] = value
        self._close_file()
        commit(self.tmp, self.path)

    def _close_file(self) -> None:
        """Close the HDF5 file once: it is forgotten before closing, so that a close that
        raises (a full disk) is never retried -- a second close of that file can crash
        the HDF5 library."""
        h5, self._h5 = self._h5, None
        self._fields, self._scalars = [], {}
        if h5 is not None:
            h5.close()

    def abort(self) -> None:
        """Discard the file: close it (an error on closing is dropped, it is not retried)
        and remove the temporary file."""
        self._pending = []
        try:
            self._close_file()
        except Exception:  # the file is being discarded: its close error is moot
            pass
        finally:
            self.tmp.unlink(missing_ok=True)

    # -- checkpoint/restart (see pdesim.simulate): the partial file survives an interruption
    def checkpoint_data(self) -> dict[str, Any]:
        """Flush the frames written so far to disk; the partial file's name to store."""
        with no_space_named(self.path):
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
        self._hashers = None  # frames before the interruption: close reads them back
        with no_space_named(self.path):
            _reserve(tmp, _file_bytes(system, n_traj, len(t), self.attrs))
        h5 = self._h5 = h5py.File(self.tmp, "r+")
        self._fields = [h5["t0_fields"][name] for name in system.field_names]
        self._scalars = {key: h5["scalars"][key] for key in system.dataset_scalars}

    def suspend(self) -> None:
        """Close after an interruption, keeping the partial file for :meth:`resume`."""
        self._pending = []  # frames after the last checkpoint are recomputed on resume
        self._close_file()


def write_run(path: str | os.PathLike, run: Run, *, attrs: dict[str, Any] | None = None) -> Path:
    """Write an in-memory ``run`` to ``path`` atomically in The Well's layout."""
    system = make_system(run.system, **run.params)
    writer = WellWriter(path, attrs=attrs)
    try:
        writer.open(system, run.n_traj, run.t)
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
      ``boundary`` (str), ``lengths`` (list of float);
    - dataset shards only (:mod:`pdesim.data`): ``recipe`` (dict), ``recipe_hash``,
      ``size``, ``shard``, ``split``, ``spawn_keys`` (list), ``versions``, ``fft``
      (dict), ``dt_per_trajectory``, ``excluded`` (list);
    - ``wall_time`` (float), ``host`` (str): only files written before files became
      byte-identical store them (:data:`VOLATILE_ATTRS`); None for newer ones.

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
