"""Windows of trajectories from datasets in The Well's layout, as torch datasets.

A dataset directory holds ``data/{train,valid,test}/*.hdf5`` (pdesim's output and
The Well's own datasets alike). One sample is a window of ``n_steps_input`` frames
followed by ``n_steps_output`` target frames, consecutive frames ``dt_stride`` stored
steps apart. Every ``(file, trajectory, start, dt_stride)`` with ``dt_stride`` in
``[min_dt_stride, max_dt_stride]`` is one index, so drawing indices uniformly draws a
random stride and ``__getitem__`` itself is deterministic. Samples follow The Well's
layout: ``input_fields (T_in, *space, C)``, ``output_fields (T_out, *space, C)``,
``constant_fields (*space, C_const)`` and ``boundary_conditions (n_dims, 2)`` with the
codes WALL=0, OPEN=1, PERIODIC=2 (OPEN where a file names none).

Channels are named as The Well names them: a t0 field by its name, a t1 field
``f"{name}_{axis}"`` per axis, a t2 field ``f"{name}_{a}{b}"``. HDF5 files are opened
lazily in the process that reads them and never carried across a fork or a pickle.
A split whose frames fit in :data:`CACHE_BYTES` is read one whole trajectory at a
time on first use and served from memory after that: a window read through h5py costs
milliseconds of per-dataset overhead (a quarter of a KS1D training step), a slice of a
cached array microseconds, and the values are the same float32 numbers.

:func:`scan` reads everything else a consumer needs from the files once, into a
:class:`DatasetInfo`: the layout, the time between frames, each file's pdesim
provenance (:func:`pdesim.io.read_provenance`; None for Well files pdesim did not
write) and, for graph datasets, the adjacency. Models, forecasters and the evaluation
read the description; none of them reopens a file for metadata.

:func:`scan` also verifies each file's content once
(:func:`pdesim.file_checks.verify_content`: every chunk's fletcher32 checksum, the
stored SHA-256 of every field) and refuses a damaged file with
:class:`pdesim.file_checks.DamagedFileError` naming it. The result is remembered per
``(path, mtime, size, inode)`` (:func:`verify_file`), so a dataset opened each epoch,
or by several consumers, is read in full once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from pdesim.file_checks import DamagedFileError, verify_content
from pdesim.io import SPLITS, SYSTEM_ATTR, read_provenance, system_from_file
from pdesim.systems.base import System

WALL, OPEN, PERIODIC = 0, 1, 2
#: Largest split (float32 bytes of all its frames) a :class:`WellWindows` keeps in
#: memory, per process (each DataLoader worker holds its own copy).
CACHE_BYTES = 2**30
BC_CODES = {"WALL": WALL, "OPEN": OPEN, "PERIODIC": PERIODIC}


@dataclass(frozen=True)
class FileInfo:
    """One file of a split: its path, trajectories, stored frames and, for files
    written by pdesim, :func:`pdesim.io.read_provenance` of it (None otherwise)."""

    path: str
    n_traj: int
    n_steps: int
    provenance: dict[str, Any] | None = field(default=None, compare=False, repr=False)


#: The provenance keys that make one solver setting: files that agree on them can be
#: continued by one system (:func:`dataset_system`).
SETTING_KEYS = ("system", "params", "dt", "method", "save_every")


@dataclass(frozen=True)
class DatasetInfo:
    """What a split of one dataset holds (read once from its files' metadata by
    :func:`scan`).

    ``frame_interval`` is the time between stored frames (None for single-frame
    files); ``adjacency`` the ``(N, N)`` adjacency of a graph dataset's ``/graph``
    (None for grids); each file's provenance is in ``files``."""

    name: str
    root: str
    grid_type: str
    spatial_dims: tuple[str, ...]
    spatial_shape: tuple[int, ...]
    field_names: tuple[str, ...]  # time-varying channels
    constant_field_names: tuple[str, ...]
    boundary_conditions: tuple[tuple[int, int], ...]
    files: tuple[FileInfo, ...]
    frame_interval: float | None = None
    adjacency: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def n_spatial_dims(self) -> int:
        return len(self.spatial_dims)

    @property
    def provenance(self) -> dict[str, Any]:
        """The first file's pdesim provenance; empty for files pdesim did not write."""
        return dict(self.files[0].provenance or {}) if self.files else {}

    def settings(self) -> list[dict[str, Any]]:
        """The distinct solver settings (:data:`SETTING_KEYS`) of the split's pdesim
        files, in file order (a parameter sweep holds several)."""
        out: list[dict[str, Any]] = []
        for f in self.files:
            if f.provenance is not None:
                setting = {k: f.provenance[k] for k in SETTING_KEYS}
                if setting not in out:
                    out.append(setting)
        return out


def dataset_system(info: DatasetInfo) -> System:
    """The pdesim system that wrote the split ``info`` (:func:`pdesim.io.system_from_file`
    of its first file); ValueError if pdesim did not write it or the split holds
    several solver settings (a parameter sweep), which no one system continues."""
    if not info.provenance:
        raise ValueError(
            f"dataset {info.root!r} ({info.name}) was not written by pdesim: its files name "
            "no system"
        )
    settings = info.settings()
    if len(settings) > 1:
        raise ValueError(
            f"dataset {info.root!r} holds {len(settings)} solver settings (a parameter sweep: "
            f"{[s['params'] for s in settings]}); one system continues one setting only"
        )
    return system_from_file(info.files[0].path)


def _str_list(value: object) -> list[str]:
    if isinstance(value, (str, bytes)):
        value = [value]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(value)]


def _datasets(h5: h5py.File, dims: list[str], time_varying: bool) -> list[tuple[str, str, list]]:
    """``(group, dataset, channel names)`` per field, t0 then t1 then t2 fields."""
    found = []
    for order in range(3):
        group = h5[f"t{order}_fields"]
        for name in _str_list(group.attrs.get("field_names", [])):
            if bool(group[name].attrs.get("time_varying", True)) != time_varying:
                continue
            if order == 0:
                suffixes = [""]
            elif order == 1:
                suffixes = [f"_{a}" for a in dims]
            else:
                suffixes = [f"_{a}{b}" for a in dims for b in dims]
            found.append((f"t{order}_fields", name, [name + s for s in suffixes]))
    return found


def _names(h5: h5py.File, dims: list[str], time_varying: bool) -> tuple[str, ...]:
    return tuple(c for _, _, names in _datasets(h5, dims, time_varying) for c in names)


def _boundaries(h5: h5py.File, dims: list[str]) -> tuple[tuple[int, int], ...]:
    """Per axis (low, high) codes, derived from each BC's mask as The Well does."""
    codes = [[OPEN, OPEN] for _ in dims]
    for bc in h5["boundary_conditions"].values():
        kind = str(bc.attrs["bc_type"]).upper()
        if kind not in BC_CODES:
            raise ValueError(f"{h5.filename}: unknown bc_type {kind!r}; allowed: {list(BC_CODES)}")
        assoc = _str_list(bc.attrs["associated_dims"])
        mask = np.asarray(bc["mask"][()], dtype=bool)
        agg = np.min if kind == "WALL" else np.max
        for i, dim in enumerate(assoc):
            axis = dims.index(dim)
            first = [slice(None)] * mask.ndim
            last = [slice(None)] * mask.ndim
            first[i], last[i] = 0, -1
            if agg(mask[tuple(first)]):
                codes[axis][0] = BC_CODES[kind]
            if agg(mask[tuple(last)]):
                codes[axis][1] = BC_CODES[kind]
    return tuple((lo, hi) for lo, hi in codes)


def split_dir(root: str | os.PathLike, split: str) -> Path:
    """``root/data/split``, checked to exist and hold HDF5 files."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}; allowed: {', '.join(SPLITS)}")
    path = Path(root) / "data" / split
    if not Path(root).is_dir():
        raise FileNotFoundError(f"dataset directory {str(root)!r} does not exist")
    if not path.is_dir() or not any(path.glob("*.hdf5")):
        raise FileNotFoundError(
            f"dataset {str(root)!r} has no {split} files: expected {path!s}/*.hdf5 "
            "(The Well's layout, written by `pdesim data`)"
        )
    return path


def _graph(h5: h5py.File, grid_type: str) -> np.ndarray | None:
    if grid_type != "graph":
        return None
    if "graph/adjacency" not in h5:
        raise ValueError(f"{h5.filename}: a graph dataset without /graph/adjacency")
    return np.asarray(h5["graph/adjacency"][()])


#: Files whose content :func:`verify_file` found intact, by (path, mtime, size, inode).
_VERIFIED: set[tuple[str, int, int, int]] = set()


def verify_file(path: str | os.PathLike) -> None:
    """Raise :class:`pdesim.file_checks.DamagedFileError` naming ``path`` and what is
    wrong if its content fails :func:`pdesim.file_checks.verify_content`; a file found
    intact is not read again while its mtime, size and inode stay the same."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    if key in _VERIFIED:
        return
    problems = verify_content(path)
    if problems:
        raise DamagedFileError(
            f"{str(path)!r} is damaged, refusing to read it: {'; '.join(problems)}; "
            "generate it again (pdesim data resumes and regenerates damaged files) or "
            "remove it"
        )
    _VERIFIED.add(key)


def scan(root: str | os.PathLike, split: str = "train") -> DatasetInfo:
    """Read the metadata of every file of a split; all files must agree on the layout,
    the time between frames and (graphs) the adjacency. Each file's content is verified
    first (:func:`verify_file`): a damaged file raises
    :class:`pdesim.file_checks.DamagedFileError` naming it."""
    files, info, interval, adjacency = [], None, None, None
    for path in sorted(split_dir(root, split).glob("*.hdf5")):
        verify_file(path)
        with h5py.File(path, "r") as h5:
            dims = _str_list(h5["dimensions"].attrs["spatial_dims"])
            channels = _names(h5, dims, time_varying=True)
            if not channels:
                raise ValueError(f"{path}: no time-varying field to learn")
            shape = tuple(int(h5["dimensions"][d].shape[-1]) for d in dims)
            grid_type = str(h5.attrs.get("grid_type", "cartesian"))
            this = (
                str(h5.attrs["dataset_name"]),
                grid_type,
                tuple(dims),
                shape,
                channels,
                _names(h5, dims, time_varying=False),
                _boundaries(h5, dims),
            )
            n_traj = int(h5.attrs["n_trajectories"])
            n_steps = int(h5["dimensions/time"].shape[-1])
            t = np.asarray(h5["dimensions/time"][:2], dtype=np.float64)
            graph = _graph(h5, grid_type)
            by_pdesim = SYSTEM_ATTR in h5.attrs
        if info is not None and this != info:
            raise ValueError(
                f"{path} disagrees with the other files of {str(root)!r}/{split} "
                f"(name, grid, dims, shape, fields, constants, boundaries): {this} != {info}"
            )
        step = float(t[1] - t[0]) if len(t) == 2 else None
        if step is not None:
            if interval is not None and not np.isclose(step, interval, rtol=1e-9, atol=0):
                raise ValueError(
                    f"{path} stores frames {step:g} apart, the other files of "
                    f"{str(root)!r}/{split} {interval:g}; allowed: one frame interval per split"
                )
            interval = step if interval is None else interval
        if graph is not None:
            if adjacency is not None and not np.array_equal(graph, adjacency):
                raise ValueError(
                    f"{path}: its /graph/adjacency differs from the other files' of "
                    f"{str(root)!r}/{split}; allowed: one graph per split"
                )
            adjacency = graph
        info = this
        provenance = read_provenance(path) if by_pdesim else None
        files.append(FileInfo(str(path), n_traj, n_steps, provenance))
    name, grid_type, dims, shape, fields, constants, bcs = info
    return DatasetInfo(
        name,
        str(root),
        grid_type,
        dims,
        shape,
        fields,
        constants,
        bcs,
        tuple(files),
        interval,
        adjacency,
    )


class WellWindows(Dataset):
    """Windows of one split of one dataset directory (see the module docstring).

    Parameters
    ----------
    root: the dataset directory (holding ``data/<split>/*.hdf5``).
    split: ``train``, ``valid`` or ``test``.
    n_steps_input, n_steps_output: frames in and frames to predict (>= 1).
    min_dt_stride, max_dt_stride: range of the stride between frames, in stored steps.
    full_trajectory: one sample per trajectory: the first ``n_steps_input`` frames in,
        every later frame (stride ``min_dt_stride``) out, for rollouts.
    cache_bytes: keep whole trajectories in memory when the split's frames (float32)
        take at most this many bytes; 0 reads every window from the file.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        n_steps_input: int = 4,
        n_steps_output: int = 1,
        min_dt_stride: int = 1,
        max_dt_stride: int = 1,
        full_trajectory: bool = False,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        for key, value in (
            ("n_steps_input", n_steps_input),
            ("n_steps_output", n_steps_output),
            ("min_dt_stride", min_dt_stride),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value!r}; allowed: an integer >= 1")
        if not isinstance(max_dt_stride, int) or max_dt_stride < min_dt_stride:
            raise ValueError(f"max_dt_stride={max_dt_stride!r}; allowed: >= {min_dt_stride}")
        self.info = scan(root, split)
        self.split = split
        self.n_steps_input = n_steps_input
        self.n_steps_output = n_steps_output
        self.full_trajectory = full_trajectory
        rows = []
        for f, file in enumerate(self.info.files):
            strides = (
                [min_dt_stride] if full_trajectory else range(min_dt_stride, max_dt_stride + 1)
            )
            for stride in strides:
                span = (n_steps_input + (0 if full_trajectory else n_steps_output) - 1) * stride
                if full_trajectory:
                    starts = [0] if span + stride < file.n_steps else []
                else:
                    starts = range(file.n_steps - span)
                rows += [(f, traj, s, stride) for traj in range(file.n_traj) for s in starts]
        if not rows:
            raise ValueError(
                f"{str(root)!r}/{split}: trajectories of {self.info.files[0].n_steps} steps "
                f"hold no window of {n_steps_input}+{n_steps_output} frames at stride "
                f">= {min_dt_stride}"
            )
        self.index = np.asarray(rows, dtype=np.int64)
        self._handles: dict[str, h5py.File] = {}
        self._pid = os.getpid()
        frame_bytes = 4 * int(np.prod(self.info.spatial_shape)) * len(self.info.field_names)
        size = sum(f.n_traj * f.n_steps for f in self.info.files) * frame_bytes
        self.cached = size <= cache_bytes
        self._trajectories: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"] = {}
        state["_trajectories"] = {}
        return state

    def _file(self, path: str) -> h5py.File:
        if self._pid != os.getpid():  # a forked worker: never reuse the parent's handles
            self._handles, self._pid = {}, os.getpid()
        if path not in self._handles:
            self._handles[path] = h5py.File(path, "r")
        return self._handles[path]

    def mean_drift(self, max_trajectories: int = 8) -> dict[str, float]:
        """Per time-varying channel, the largest change of its spatial mean along a
        trajectory (the first file's first ``max_trajectories``), relative to the
        channel's RMS over those trajectories: ~1e-7 (float32 storage) where the data
        conserves the mean, as KS and Burgers on a periodic domain do."""
        file = self.info.files[0]
        h5 = self._file(file.path)
        frames = [
            self._read(h5, True, traj, slice(None)).astype(np.float64)
            for traj in range(min(file.n_traj, max_trajectories))
        ]
        space = tuple(range(1, 1 + self.info.n_spatial_dims))
        means = [f.mean(space) for f in frames]  # (time, C) each
        rms = np.sqrt(np.mean([np.mean(f**2, axis=(0, *space)) for f in frames], axis=0))
        drift = np.max([np.abs(m - m[:1]).max(axis=0) for m in means], axis=0)
        return {
            name: float(d / max(r, np.finfo(np.float32).tiny))
            for name, d, r in zip(self.info.field_names, drift, rms, strict=True)
        }

    def close(self) -> None:
        """Close the files this process opened."""
        if self._pid == os.getpid():
            for handle in self._handles.values():
                handle.close()
        self._handles = {}

    def _read(self, h5: h5py.File, time_varying: bool, traj: int, times) -> np.ndarray:
        """Channels last: ``(len(times), *space, C)`` or ``(*space, C)`` for constants."""
        dims = list(self.info.spatial_dims)
        out = []
        for group, name, _ in _datasets(h5, dims, time_varying):
            ds = h5[group][name]
            order = int(group[1])
            where = (times,) if time_varying else ()
            if ds.attrs.get("sample_varying", True):
                where = (traj, *where)
            arr = np.asarray(ds[where], dtype=np.float32)
            lead = 1 if time_varying else 0
            varying = list(ds.attrs.get("dim_varying", [True] * len(dims)))
            for axis, vary in enumerate(varying):
                if not vary:
                    arr = np.expand_dims(arr, lead + axis)
            target = (arr.shape[:1] if time_varying else ()) + self.info.spatial_shape
            arr = np.broadcast_to(arr, target + arr.shape[lead + len(dims) :])
            arr = arr.reshape(*target, len(dims) ** order)
            out.append(arr)
        if not out:
            return np.zeros((*self.info.spatial_shape, 0), dtype=np.float32)
        return np.concatenate(out, axis=-1)

    def _window(self, f: int, traj: int, times: slice) -> tuple[np.ndarray, np.ndarray]:
        """The frames ``times`` and the constants of trajectory ``traj`` of file ``f``."""
        if not self.cached:
            h5 = self._file(self.info.files[f].path)
            return self._read(h5, True, traj, times), self._read(h5, False, traj, None)
        if (f, traj) not in self._trajectories:
            h5 = self._file(self.info.files[f].path)
            self._trajectories[f, traj] = (
                self._read(h5, True, traj, slice(None)),
                self._read(h5, False, traj, None),
            )
        frames, constants = self._trajectories[f, traj]
        return frames[times].copy(), constants.copy()  # a sample never aliases the cache

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        f, traj, start, stride = (int(v) for v in self.index[i])
        file = self.info.files[f]
        n_in = self.n_steps_input
        if self.full_trajectory:
            stop = file.n_steps
        else:
            stop = start + (n_in + self.n_steps_output - 1) * stride + 1
        frames, constants = self._window(f, traj, slice(start, stop, stride))
        return {
            "input_fields": torch.from_numpy(np.ascontiguousarray(frames[:n_in])),
            "output_fields": torch.from_numpy(np.ascontiguousarray(frames[n_in:])),
            "constant_fields": torch.from_numpy(np.ascontiguousarray(constants, np.float32)),
            "boundary_conditions": torch.tensor(self.info.boundary_conditions),
            "dt_stride": torch.tensor(stride),
        }


class MultiWindows(Dataset):
    """Several :class:`WellWindows` behind one index; samples carry ``dataset_index``."""

    def __init__(self, datasets: list[WellWindows]) -> None:
        if not datasets:
            raise ValueError("datasets: need at least one dataset")
        self.datasets = list(datasets)
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        d = int(np.searchsorted(self.offsets, i, side="right") - 1)
        sample = self.datasets[d][int(i - self.offsets[d])]
        sample["dataset_index"] = torch.tensor(d)
        return sample


class BatchPlan:
    """Which samples make the global batch of each step, as a pure function of the step.

    Step ``k`` draws one dataset uniformly (one dataset per batch), then
    ``global_batch`` of its windows uniformly (without replacement when it has
    enough). Rank ``r`` of ``world`` takes the ``r``-th contiguous shard, so
    ``world`` ranks together read exactly the batch one process would read; a
    resumed run continues with the same batches.
    """

    def __init__(
        self,
        lengths: list[int],
        global_batch: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        start_step: int = 0,
        n_steps: int | None = None,
    ) -> None:
        if global_batch % world:
            raise ValueError(f"batch size {global_batch} is not divisible by {world} ranks")
        self.lengths = list(lengths)
        self.offsets = np.cumsum([0, *self.lengths])
        self.global_batch, self.seed = global_batch, seed
        self.rank, self.world = rank, world
        self.start_step, self.n_steps = start_step, n_steps

    def batch(self, step: int) -> list[int]:
        rng = np.random.default_rng([self.seed, step])
        d = int(rng.integers(len(self.lengths)))
        n = self.lengths[d]
        chosen = rng.choice(n, size=self.global_batch, replace=n < self.global_batch)
        local = self.global_batch // self.world
        shard = chosen[self.rank * local : (self.rank + 1) * local]
        return [int(self.offsets[d] + j) for j in shard]

    def __iter__(self):
        step = self.start_step
        while self.n_steps is None or step < self.start_step + self.n_steps:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:
        if self.n_steps is None:
            raise TypeError("an endless BatchPlan has no length")
        return self.n_steps


#: Largest relative drift of a spatial mean (:meth:`WellWindows.mean_drift`) that
#: ``conserve_mean`` accepts: float32 storage leaves ~1e-7.
MEAN_DRIFT_TOLERANCE = 1e-5


def require_conserved_means(datasets: list[WellWindows], instead: str) -> None:
    """ValueError naming each field whose spatial mean the ``datasets`` (train splits) do
    not keep, ending with what to do ``instead``."""
    for ds in datasets:
        drift = ds.mean_drift()
        bad = {k: v for k, v in drift.items() if not v <= MEAN_DRIFT_TOLERANCE}
        if bad:
            listed = ", ".join(f"{k} (drift {v:.2g} of its RMS)" for k, v in bad.items())
            raise ValueError(
                f"conserve_mean: the spatial mean of {listed} in {ds.info.root!r} changes "
                f"along a trajectory (allowed: <= {MEAN_DRIFT_TOLERANCE:g}); {instead}"
            )
