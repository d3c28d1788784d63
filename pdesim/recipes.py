"""Dataset recipes (``datasets/<name>.toml``): parsing, validation and the shard plan.

A recipe says what to generate::

    name = "ks1d"                      # dataset folder and file prefix
    system = "ks1d"                    # a registered system
    preset = "..."                     # optional: one of the system's presets, which
                                       # [parameters] then override
    description = "..."
    seed = 2026                        # root seed of every random draw

    [parameters]                       # each: a value, a list to sweep, or a range to sample
    L = 22.0
    # nu = [0.01, 0.02]                # sweep: one setting per value (cartesian product)
    # k = {range = [0.02, 0.04], samples = 4, scale = "linear"}

    [run]
    dt = 0.25
    t_warmup = 100.0                   # first saved frame
    t_duration = 100.0                 # saved span after the warm-up
    save_every = 1.0
    initial = "random"                 # optional: an initial-condition family
    method = "etdrk4"                  # optional: a time stepper of the system
    dt_halvings = 1                    # retries at dt/2, dt/4 ... for a diverging trajectory

    [sizes.small]                      # trajectories per parameter setting and split
    train = 16
    valid = 4
    test = 4
    per_file = 8                       # trajectories per file (one file = one shard)
    # t_duration = 50.0                # a size may override run values

Everything is checked before any work starts; errors name the key. Trajectory ``i``
of the dataset (numbered over settings, then splits train/valid/test, then files)
draws from ``SeedSequence(seed, spawn_key=(i,))``.

Sizes are bounded before anything is sampled or planned: at most :data:`MAX_SETTINGS`
parameter settings, :data:`MAX_FILES` files of at most :data:`MAX_PER_FILE` trajectories and
:data:`pdesim.resources.MAX_STEPS` time steps per trajectory;
:meth:`Recipe.require_disk` compares the estimated size of the dataset with the free
space where it will be written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pdesim.common import VERSION
from pdesim.io import SPLITS
from pdesim.resources import MAX_STEPS, require_disk
from pdesim.systems import SYSTEMS, make_system
from pdesim.validation import require_choice, require_int, require_multiple, require_real

_TOP_KEYS = {"name", "system", "preset", "description", "seed", "parameters", "run", "sizes"}
_RUN_KEYS = {"dt", "t_warmup", "t_duration", "save_every", "initial", "method", "dt_halvings"}
_SIZE_KEYS = {*SPLITS, "per_file", "t_duration"}
#: Spawn key of the generator that samples parameter ranges (trajectories use ``(i,)``).
_PARAMETER_SPAWN_KEY = (2**32 - 1, 0)
#: Most parameter settings a recipe may ask (the product of its sweeps and range
#: samples): each is checked by building its system before work starts.
MAX_SETTINGS = 10_000
#: Most files (shards, one dask task each) a dataset may have.
MAX_FILES = 100_000
#: Most trajectories one file (one shard, one process) may hold.
MAX_PER_FILE = 10_000


class RecipeError(ValueError):
    """A recipe that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Shard:
    """One task: one file holding ``n_traj`` trajectories of one parameter setting."""

    split: str
    setting: int
    params: dict[str, Any]
    chunk: int
    first_trajectory: int
    n_traj: int
    filename: str

    @property
    def relative_path(self) -> str:
        return f"data/{self.split}/{self.filename}"


@dataclass(frozen=True)
class Recipe:
    """A validated recipe at one size."""

    path: Path
    name: str
    system: str
    preset: str | None
    description: str
    seed: int
    settings: tuple[dict[str, Any], ...]
    run: dict[str, Any]
    size: str
    counts: dict[str, int]
    per_file: int
    raw: dict[str, Any]

    @property
    def hash(self) -> str:
        """Content hash of everything that determines the data (recipe, size, version)."""
        blob = json.dumps(
            {"recipe": self.raw, "size": self.size, "pdesim": VERSION}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def output_dir(self, base: Path) -> Path:
        return base / (self.name if self.size == "small" else f"{self.name}_{self.size}")

    def shards(self) -> list[Shard]:
        """Every file of the dataset, in trajectory-index order."""
        shards = []
        index = 0
        for setting, params in enumerate(self.settings):
            label = _setting_label(params, self.swept)
            for split in SPLITS:
                total = self.counts[split]
                for chunk, first in enumerate(range(0, total, self.per_file)):
                    n = min(self.per_file, total - first)
                    filename = f"{self.name}{label}_chunk_{chunk:03d}.hdf5"
                    shards.append(Shard(split, setting, params, chunk, index + first, n, filename))
                index += total
        return shards

    @property
    def frames(self) -> int:
        """Frames stored per trajectory."""
        return round(float(self.run["t_duration"]) / float(self.run["save_every"])) + 1

    def estimated_bytes(self) -> int:
        """Bytes of field data the dataset will hold: trajectories x frames x fields x
        points x 4 (float32), over every setting (files add a little metadata)."""
        per_setting = sum(self.counts.values()) * self.frames * 4
        total = 0
        for params in self.settings:
            system = make_system(self.system, preset=self.preset, **params)
            total += per_setting * system.n_fields * system.grid.size
        return total

    def require_disk(self, out_dir: str | Path) -> None:
        """Raise ``ValueError`` if the dataset's estimated size (less its HDF5 files already
        in ``out_dir``, which a resumed run keeps) exceeds the free space of ``out_dir``'s
        file system (:func:`pdesim.resources.require_disk`)."""
        out_dir = Path(out_dir)
        present = sum(p.stat().st_size for p in (out_dir / "data").glob("*/*.hdf5"))
        trajectories = sum(self.counts.values()) * len(self.settings)
        require_disk(
            f"{self.path}: [sizes.{self.size}] {trajectories} trajectories x {self.frames} frames",
            out_dir,
            self.estimated_bytes() - present,
        )

    @property
    def swept(self) -> tuple[str, ...]:
        """Parameters that vary between settings (they name the files)."""
        if len(self.settings) < 2:
            return ()
        return tuple(k for k in self.settings[0] if len({str(s[k]) for s in self.settings}) > 1)


@dataclass
class Summary:
    """What generating a recipe did (:func:`pdesim.data.generate` fills it in)."""

    name: str
    size: str
    out_dir: str
    files_written: int = 0
    files_skipped: int = 0
    trajectories: int = 0
    trajectory_steps: int = 0
    bytes: int = 0
    wall_time: float = 0.0
    excluded: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: Files found damaged (content checksums) and generated again: ``{"path", "problems"}``.
    regenerated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def planned_trajectories(raw: dict[str, Any], size: str) -> dict[str, int]:
    """Trajectories a recipe (its parsed TOML, as stored in every file it made) asks per
    split at ``size``: the split's count times the number of parameter settings.

    Raises ``KeyError``/``TypeError``/``ValueError`` for a recipe that does not say."""
    spec = raw["sizes"][size]
    settings = 1
    for value in raw.get("parameters", {}).values():
        if isinstance(value, list):
            settings *= len(value)
        elif isinstance(value, dict):
            settings *= int(value["samples"])
    return {split: int(spec[split]) * settings for split in SPLITS}


def _setting_label(params: dict[str, Any], swept: tuple[str, ...]) -> str:
    return "".join(
        f"_{k}_{params[k]:.6g}" if isinstance(params[k], float) else f"_{k}_{params[k]}"
        for k in swept
    )


def _fail(path: Path, key: str, message: str) -> RecipeError:
    return RecipeError(f"{path}: [{key}] {message}")


def _expand_parameter(path: Path, key: str, spec: Any, rng: np.random.Generator) -> list[Any]:
    if isinstance(spec, list):
        if not spec:
            raise _fail(path, f"parameters.{key}", "a sweep list must not be empty")
        return spec
    if isinstance(spec, dict):
        unknown = set(spec) - {"range", "samples", "scale"}
        if unknown:
            raise _fail(
                path,
                f"parameters.{key}",
                f"unknown keys {sorted(unknown)}; "
                "a range takes range = [low, high], samples and scale",
            )
        bounds = spec.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise _fail(path, f"parameters.{key}.range", f"must be [low, high], got {bounds!r}")
        low, high = (require_real(f"parameters.{key}.range", v) for v in bounds)
        if not low < high:
            raise _fail(path, f"parameters.{key}.range", f"needs low < high, got {bounds!r}")
        samples = require_int(f"parameters.{key}.samples", spec.get("samples"), ge=1)
        scale = require_choice(
            f"parameters.{key}.scale", spec.get("scale", "linear"), ("linear", "log")
        )
        if scale == "log":
            if low <= 0:
                raise _fail(path, f"parameters.{key}.range", "a log range needs low > 0")
            return [float(v) for v in np.exp(rng.uniform(np.log(low), np.log(high), samples))]
        return [float(v) for v in rng.uniform(low, high, samples)]
    return [spec]


def _samples(key: str, spec: Any) -> int:
    """The number of values a parameter's spec gives (1 for a single value)."""
    if isinstance(spec, dict) and "samples" in spec:  # a missing one: _expand_parameter
        return require_int(f"parameters.{key}.samples", spec["samples"], ge=1)
    return 1


def _require_settings(path: Path, parameters: dict[str, Any]) -> int:
    """The number of parameter settings; more than :data:`MAX_SETTINGS` are refused,
    naming the largest axis, before any range is sampled."""
    sizes = {
        key: len(spec) if isinstance(spec, list) else _samples(key, spec)
        for key, spec in parameters.items()
    }
    total = math.prod(sizes.values())
    if total > MAX_SETTINGS:
        key = max(sizes, key=sizes.get)
        what = "samples" if isinstance(parameters[key], dict) else "values"
        raise _fail(
            path,
            f"parameters.{key}" + (".samples" if what == "samples" else ""),
            f"= {sizes[key]} {what}: the recipe would have {total} parameter settings, more "
            f"than the {MAX_SETTINGS} a recipe may have (pdesim.recipes.MAX_SETTINGS)",
        )
    return total


def load_recipe(path: str | Path, size: str = "small") -> Recipe:
    """Read and validate a recipe; raises :class:`RecipeError` naming the bad key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _validate(path, raw, size)
    except RecipeError:
        raise
    except (ValueError, TypeError) as exc:
        raise RecipeError(f"{path}: {exc}") from None


def _validate(path: Path, raw: dict[str, Any], size: str) -> Recipe:
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise _fail(
            path, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    for key in ("name", "system", "run", "sizes"):
        if key not in raw:
            raise _fail(path, key, "is required")
    name = raw["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise _fail(path, "name", f"must be a plain name (letters, digits, _ -), got {name!r}")
    system_name = raw["system"]
    if system_name not in SYSTEMS:
        raise _fail(
            path, "system", f"unknown system {system_name!r}; known: {', '.join(sorted(SYSTEMS))}"
        )
    seed = require_int("seed", raw.get("seed", 0), ge=0)
    preset = raw.get("preset")
    if preset is not None and preset not in SYSTEMS[system_name].presets:
        known = ", ".join(SYSTEMS[system_name].presets) or "none"
        raise _fail(
            path, "preset", f"unknown preset {preset!r} of {system_name} (presets: {known})"
        )

    run = dict(raw["run"])
    unknown = set(run) - _RUN_KEYS
    if unknown:
        raise _fail(
            path,
            f"run.{sorted(unknown)[0]}",
            f"unknown key; allowed: {', '.join(sorted(_RUN_KEYS))}",
        )
    sizes = raw["sizes"]
    if not isinstance(sizes, dict) or size not in sizes:
        available = ", ".join(sizes) if isinstance(sizes, dict) else "none"
        raise _fail(path, f"sizes.{size}", f"is not defined (sizes: {available})")
    size_spec = dict(sizes[size])
    unknown = set(size_spec) - _SIZE_KEYS
    if unknown:
        raise _fail(
            path,
            f"sizes.{size}.{sorted(unknown)[0]}",
            f"unknown key; allowed: {', '.join(sorted(_SIZE_KEYS))}",
        )
    if "t_duration" in size_spec:
        run["t_duration"] = size_spec.pop("t_duration")
    for key in ("dt", "t_duration", "save_every"):
        if key not in run:
            raise _fail(path, f"run.{key}", "is required")
    dt = require_real("run.dt", run["dt"], gt=0.0)
    require_real("run.t_warmup", run.setdefault("t_warmup", 0.0), ge=0.0)
    require_real("run.t_duration", run["t_duration"], gt=0.0)
    save_every = require_real("run.save_every", run["save_every"], gt=0.0)
    require_multiple("run.save_every", save_every, "run.dt", dt)
    require_multiple("run.t_duration", run["t_duration"], "run.save_every", save_every)
    if run["t_warmup"]:
        require_multiple("run.t_warmup", run["t_warmup"], "run.dt", dt)
    require_int("run.dt_halvings", run.setdefault("dt_halvings", 0), ge=0, le=6)

    counts = {
        split: require_int(f"sizes.{size}.{split}", size_spec.get(split), ge=0) for split in SPLITS
    }
    if counts["train"] < 1:
        raise _fail(path, f"sizes.{size}.train", "needs at least one trajectory")
    per_file = require_int(f"sizes.{size}.per_file", size_spec.get("per_file", 16), ge=1)

    steps = (run["t_warmup"] + run["t_duration"]) / dt
    if not steps <= MAX_STEPS:
        raise _fail(
            path,
            "run.dt",
            f"= {dt:g} gives (t_warmup + t_duration) / dt = {steps:.3g} steps per trajectory, "
            f"more than the {MAX_STEPS} a run may take (pdesim.resources.MAX_STEPS)",
        )

    parameters = raw.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _fail(path, "parameters", f"must be a table, got {parameters!r}")
    n_settings = _require_settings(path, parameters)
    largest_file = min(per_file, max(counts.values()))
    if largest_file > MAX_PER_FILE:
        key = "per_file" if "per_file" in size_spec else max(SPLITS, key=counts.get)
        raise _fail(
            path,
            f"sizes.{size}.{key}",
            f"gives files of {largest_file} trajectories, more than the {MAX_PER_FILE} a file "
            "may hold (pdesim.recipes.MAX_PER_FILE); set a smaller per_file",
        )
    files = n_settings * sum(-(-count // per_file) for count in counts.values())
    if files > MAX_FILES:
        biggest = max(SPLITS, key=lambda split: counts[split])
        raise _fail(
            path,
            f"sizes.{size}.{biggest}",
            f"= {counts[biggest]} trajectories: the dataset would have {files} files "
            f"({n_settings} setting(s), per_file = {per_file}), more than the {MAX_FILES} a "
            "dataset may have (pdesim.recipes.MAX_FILES); ask fewer trajectories or more "
            "per file",
        )

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_PARAMETER_SPAWN_KEY))
    axes = {key: _expand_parameter(path, key, spec, rng) for key, spec in parameters.items()}
    settings = tuple(
        dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
    )
    for params in settings:  # every setting must build a valid system before work starts
        try:
            system = make_system(system_name, preset=preset, **params)
        except (ValueError, TypeError) as exc:
            raise _fail(path, "parameters", str(exc)) from None
        if "initial" in run:
            require_choice("run.initial", run["initial"], system.initial_conditions)
        if "method" in run:
            require_choice("run.method", run["method"], system.methods)
    return Recipe(
        path=path,
        name=name,
        system=system_name,
        preset=preset,
        description=str(raw.get("description", "")),
        seed=seed,
        settings=settings,
        run=run,
        size=size,
        counts=counts,
        per_file=per_file,
        raw=raw,
    )
