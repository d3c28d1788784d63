"""``stats.yaml``: per-field normalisation statistics of a dataset's train split.

For each field: ``mean``, ``std``, ``rms`` of the values and ``mean_delta``,
``std_delta``, ``rms_delta`` of the differences between consecutive stored frames
of a trajectory, accumulated in float64 over every file of ``data/train`` -- the
keys and layout of The Well's ``stats.yaml``. Files are read one trajectory at a
time, so memory stays bounded.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import yaml

from pdesim.files import atomic_write_text

STAT_KEYS = ("mean", "std", "rms", "mean_delta", "std_delta", "rms_delta")


class _Moments:
    """Running count, sum and sum of squares in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.squares = 0.0

    def add(self, values: np.ndarray) -> None:
        values = values.astype(np.float64, copy=False)
        self.count += values.size
        self.total += float(values.sum())
        self.squares += float(np.square(values).sum())

    def summary(self) -> tuple[float, float, float]:
        mean = self.total / self.count
        mean_square = self.squares / self.count
        return (
            mean,
            float(np.sqrt(max(mean_square - mean * mean, 0.0))),
            float(np.sqrt(mean_square)),
        )


def compute_stats(
    dataset_dir: str | os.PathLike, split: str = "train"
) -> dict[str, dict[str, float]]:
    """The six statistics per t0 field over every file of ``data/<split>``."""
    files = sorted((Path(dataset_dir) / "data" / split).glob("*.hdf5"))
    if not files:
        raise ValueError(f"no HDF5 files in {Path(dataset_dir) / 'data' / split}")
    values: dict[str, _Moments] = {}
    deltas: dict[str, _Moments] = {}
    for path in files:
        with h5py.File(path, "r") as h5:
            group = h5["t0_fields"]
            for name in group.attrs["field_names"]:
                data = group[name]
                values.setdefault(name, _Moments())
                deltas.setdefault(name, _Moments())
                for trajectory in range(data.shape[0]):
                    frames = data[trajectory].astype(np.float64)
                    values[name].add(frames)
                    deltas[name].add(np.diff(frames, axis=0))
    stats: dict[str, dict[str, float]] = {key: {} for key in STAT_KEYS}
    for name in values:
        mean, std, rms = values[name].summary()
        mean_d, std_d, rms_d = deltas[name].summary()
        for key, value in zip(STAT_KEYS, (mean, std, rms, mean_d, std_d, rms_d), strict=True):
            stats[key][name] = value
    return stats


def write_stats(dataset_dir: str | os.PathLike) -> Path:
    """Compute the train-split statistics and write ``stats.yaml`` atomically."""
    path = Path(dataset_dir) / "stats.yaml"
    atomic_write_text(path, yaml.safe_dump(compute_stats(dataset_dir), sort_keys=False))
    return path


def read_stats(dataset_dir: str | os.PathLike) -> dict[str, dict[str, float]]:
    with open(Path(dataset_dir) / "stats.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)
