"""The Well's own data module on a pdesim dataset.

``the_well.data.WellDataModule(well_base_path, well_dataset_name, ...)`` accepts only
the names of The Well's datasets: each of its five datasets (train, valid,
rollout_valid, test, rollout_test) is a ``WellDataset`` built from
``well_base_path``/``well_dataset_name``, and ``WellDataset`` asserts
``is_dataset_in_the_well(well_dataset_name)`` (the list ``WELL_DATASETS``, plus
``"dummy"``). ``WellDataset`` has a second entry point, ``path=`` (a folder holding
``data/<split>/*.hdf5`` and ``stats.yaml``, the layout ``pdesim data`` writes), which
skips that check, and ``WellDataModule`` passes its ``dataset_kws`` (one dict per
dataset) on to every ``WellDataset`` it builds. :func:`datamodule` uses exactly these
two documented parameters: no patching of The Well, no copied code.

In a config of The Well's trainer (``the_well.benchmark.train``, Hydra), the same
route is::

    data:
      _target_: surrogates.well.datamodule
      path: /data/ks1d_L22
      well_dataset_name: ks1d_L22   # the trainer's logs name the run by it
      batch_size: 32

or, with ``_target_: the_well.data.WellDataModule``, ``well_base_path``,
``well_dataset_name`` and ``dataset_kws: {train: {path: ...}, val: {path: ...},
rollout_val: {path: ...}, test: {path: ...}, rollout_test: {path: ...}}``.

The Well is an optional dependency (the ``dev`` extra, ``pip install the-well``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: The keys of ``WellDataModule(dataset_kws=...)``: one per dataset it builds.
DATASETS = ("train", "val", "rollout_val", "test", "rollout_test")


def _the_well_data() -> Any:
    try:
        import the_well.data as well_data
    except ImportError as exc:
        raise ImportError(
            "surrogates.well needs The Well: pip install the-well (or the 'dev' extra)"
        ) from exc
    return well_data


def _dataset_dir(path: str | os.PathLike) -> Path:
    root = Path(path)
    if not (root / "data" / "train").is_dir():
        raise FileNotFoundError(
            f"{str(path)!r} is not a dataset folder: it has no data/train folder "
            "(give the folder `pdesim data` wrote, holding data/ and stats.yaml)"
        )
    return root


def datamodule(
    path: str | os.PathLike,
    *,
    batch_size: int = 32,
    well_dataset_name: str | None = None,
    dataset_kws: dict[str, dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """The Well's ``WellDataModule`` on the pdesim dataset folder ``path``.

    Parameters
    ----------
    path: a dataset folder (``data/train``, ``data/valid``, ``data/test``, ``stats.yaml``).
    batch_size: passed on.
    well_dataset_name: the name the module reports (default: the folder's name); not
        looked up in The Well's list.
    dataset_kws: per-dataset keywords as ``WellDataModule`` takes them; ``path`` is
        added to each of :data:`DATASETS`.
    kwargs: every other keyword of ``WellDataModule`` (``n_steps_input``,
        ``n_steps_output``, ``use_normalization``/``normalization_type`` (reads
        ``stats.yaml``), ``data_workers``, ...).
    """
    well_data = _the_well_data()
    root = _dataset_dir(path)
    per_dataset = {key: dict(value) for key, value in (dataset_kws or {}).items()}
    for key in DATASETS:
        per_dataset.setdefault(key, {})["path"] = str(root)
    return well_data.WellDataModule(
        well_base_path=str(root.parent),
        well_dataset_name=well_dataset_name or root.name,
        batch_size=batch_size,
        dataset_kws=per_dataset,
        **kwargs,
    )


def dataset(path: str | os.PathLike, split: str = "train", **kwargs: Any) -> Any:
    """The Well's ``WellDataset`` on one split (``train``, ``valid``, ``test``) of the
    pdesim dataset folder ``path``: ``WellDataset(path=path, well_split_name=split)``."""
    well_data = _the_well_data()
    return well_data.WellDataset(path=str(_dataset_dir(path)), well_split_name=split, **kwargs)
