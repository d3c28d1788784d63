"""The ``pdesim`` command line: ``list``, ``run``, ``data``, ``validate``, ``show``,
``bifurcation``.

Every error is one line on stderr, ``pdesim: error: ...``, naming the option, path or
parameter, and the exit status says what kind it was (:data:`EXIT_STATUS`): 2 when the
command line cannot work as given (found before any work starts: outputs are checked
before a simulation runs), 1 when the work failed (an I/O error while running, an
unreachable scheduler, a dataset that fails its checks), 3 when a simulation diverged.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pdesim.common import VERSION, SimulationDiverged
from pdesim.diagnostics.recorder import RegimeRecorder, regime_report
from pdesim.io import WellWriter
from pdesim.simulate import MemorySink, Run, simulate
from pdesim.systems import SYSTEMS, make_system
from pdesim.validation import require_output_file, require_output_folder

EXIT_STATUS = """exit status: 0 done; 1 failed while working (an I/O error such as a full disk,
an unreachable --scheduler, files that fail validation, failed shards); 2 the command
line cannot work as given (a bad option or parameter value, a missing or unreadable
input file, an output path that is a folder, lies in a missing folder or cannot be
written), found before any work starts; 3 a simulation diverged"""

#: The maps ``pdesim bifurcation`` draws, by the registry name of the system whose node
#: map they are (``pdesim list``); the old spelling ``chialvo`` is refused, naming it.
BIFURCATION_MAPS = ("chialvo_ring_star",)
_RENAMED_MAPS = {"chialvo": "chialvo_ring_star"}


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter that appends ``(default: VALUE)`` to an option's help where
    the default says something (see :func:`shows_default`); help that already names its
    default is left alone."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if shows_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def shows_default(action: argparse.Action) -> bool:
    """Whether :class:`HelpFormatter` shows ``action``'s default in the help: not when it
    is None, suppressed, ``[]`` or ``''``, nor the implied False/True of a flag."""
    default = action.default
    if default is None or default is argparse.SUPPRESS or default in ([], ""):
        return False
    if action.nargs == 0:  # store_true/store_false/store_const/version/help
        return False
    return bool(action.option_strings) or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


def use_formatter(parser: argparse.ArgumentParser, formatter=HelpFormatter) -> None:
    """Give ``parser`` and all its sub-command parsers ``formatter``."""
    parser.formatter_class = formatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                use_formatter(sub, formatter)


#: Integer literals Python reads in another base (``0x10`` is 16): refused in --set.
_OTHER_BASE = re.compile(r"^[+-]?0[xXoObB]")


def _parse_assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """``"L=22"`` -> ``("L", 22)``; values are Python literals, else strings. Integers
    written in another base than 10 (``0x10``) are refused rather than read."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{option} expects NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    if _OTHER_BASE.match(raw.strip()):
        raise ValueError(
            f"{option} {text}: write numbers in decimal ({raw.strip()} would be read as {value})"
        )
    return key.strip(), value


def _parse_settings(items: Sequence[str], option: str = "--set") -> dict[str, Any]:
    """The ``NAME=VALUE`` items as a dict; a name given twice is refused."""
    settings: dict[str, Any] = {}
    for item in items:
        key, value = _parse_assignment(item, option)
        if key in settings:
            raise ValueError(
                f"{option} {key} is given twice ({key}={settings[key]!r} and {key}={value!r}); "
                "give it once"
            )
        settings[key] = value
    return settings


def _image_file(option: str, path: str) -> Path:
    """``path`` checked as a picture to write: a writable file in an existing folder, in
    a format matplotlib writes (from its suffix; none means PNG)."""
    from matplotlib.backend_bases import FigureCanvasBase

    checked = require_output_file(option, path, make_folder=False)
    kind = checked.suffix.lstrip(".").lower() or "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if kind not in formats:
        raise ValueError(
            f"{option} {path!r}: cannot write pictures in the format {kind!r}; use one of "
            f"{', '.join(sorted(formats))}"
        )
    return checked


def _gif_file(option: str, path: str) -> Path:
    """``path`` checked as a GIF animation to write (suffix ``.gif``)."""
    checked = require_output_file(option, path, make_folder=False)
    if checked.suffix.lower() != ".gif":
        raise ValueError(f"{option} {path!r}: an animation is written as GIF; name it *.gif")
    return checked


def _distinct_outputs(outputs: dict[str, str | None]) -> None:
    """Refuse two options that name the same output file."""
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise ValueError(f"{seen[key]} and {option} name the same file {path!r}")
        seen[key] = option


def _input_hdf5(path: str) -> Path:
    """``path`` checked as an existing HDF5 file to read."""
    import h5py

    checked = Path(path)
    if not checked.exists():
        raise ValueError(f"file {path!r} does not exist")
    if not checked.is_file():
        raise ValueError(f"file {path!r} is not a file")
    try:
        is_hdf5 = h5py.is_hdf5(checked)
    except OSError as exc:
        raise ValueError(f"file {path!r} cannot be read ({exc.strerror or exc})") from None
    if not is_hdf5:
        raise ValueError(f"file {path!r} is not an HDF5 file")
    return checked


def _list(args: argparse.Namespace) -> int:
    if args.name is not None:
        if args.name not in SYSTEMS:
            raise ValueError(
                f"unknown system {args.name!r}; known systems: {', '.join(sorted(SYSTEMS))}"
            )
        for line in _describe(args.name, detail=True):
            print(line)
        return 0
    for name in sorted(SYSTEMS):
        for line in _describe(name):
            print(line)
        print()
    return 0


def _describe(name: str, detail: bool = False) -> list[str]:
    """The lines ``pdesim list`` prints for the system ``name``; ``detail`` adds the
    values of each preset and the docstring's first paragraph."""
    cls = SYSTEMS[name]
    lines = [f"{name}: {cls.summary}"]
    if detail and cls.__doc__:
        intro = " ".join(cls.__doc__.strip().split("\n\n")[0].split())
        lines.append(f"  {intro}")
    lines.append(f"  fields: {', '.join(cls.field_names)}")
    lines.append(f"  initial conditions: {', '.join(cls.initial_conditions)} (default first)")
    lines.append(f"  default dt: {cls.default_dt:g}; methods: {', '.join(cls.methods)}")
    if cls.presets and detail:
        lines.append("  presets:")
        for preset, values in cls.presets.items():
            settings = ", ".join(f"{k}={v!r}" for k, v in values.items())
            lines.append(f"    {preset}: {settings}")
    elif cls.presets:
        lines.append(f"  presets: {', '.join(cls.presets)}")
    if detail and name in BIFURCATION_MAPS:
        lines.append(f"  its node map's bifurcations: pdesim bifurcation {name} --param k ...")
    rows = cls.parameter_table()
    width = max(len(row["name"]) for row in rows)
    if detail:
        lines.append("  parameters:")
    for row in rows:
        default = repr(row["default"])
        lines.append(
            f"  {row['name']:<{width}}  default {default:<22} {row['allowed']:<36} {row['doc']}"
        )
    return lines


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    params = _parse_settings(args.set)
    system = make_system(args.system, preset=args.preset, **params)
    logs = _log_fields(args, system.field_names, system.name)
    # Everything the run will write is checked now, not after it has run.
    if args.out:
        require_output_file("--out", args.out, make_folder=False)
    if args.plot:
        _image_file("--plot", args.plot)
    if args.gif:
        _gif_file("--gif", args.gif)
    if args.checkpoint:
        require_output_file("--checkpoint", args.checkpoint, make_folder=False)
    elif args.resume:
        raise ValueError("--resume needs --checkpoint FILE: the checkpoint to continue from")
    _distinct_outputs(
        {"--out": args.out, "--plot": args.plot, "--gif": args.gif, "--checkpoint": args.checkpoint}
    )
    dt = args.dt if args.dt is not None else system.default_dt
    save_every = args.save_every if args.save_every is not None else dt
    # --out streams frames to the file as they come (memory stays bounded); the
    # recorder, an observer at the saved frames' cadence, keeps a few numbers per frame
    # for the regime summary.
    recorder = RegimeRecorder()
    bars: list[tqdm] = []  # made at the first report: a run refused at its start shows none

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=total, unit="step", unit_scale=True, desc=system.name, disable=args.quiet
                )
            )
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    try:
        run = simulate(
            system,
            t_end=args.t_end,
            dt=dt,
            save_every=save_every,
            n_traj=args.n_traj,
            seed=args.seed,
            t_warmup=args.t_warmup,
            initial=args.initial,
            method=args.method,
            batch_size=args.batch_size,
            progress=progress,
            sink=WellWriter(args.out) if args.out else MemorySink(),
            observers=[recorder],
            checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
        )
    finally:
        for bar in bars:
            bar.close()
    steps = run.info["n_steps"] * run.n_traj
    print(
        f"{system!r}: {run.n_traj} trajector{'y' if run.n_traj == 1 else 'ies'} x "
        f"{len(run.t)} frames "
        f"(t = {run.t[0]:g} .. {run.t[-1]:g}, dt = {dt:g}) in {run.wall_time:.2f} s "
        f"({steps / max(run.wall_time, 1e-9):,.0f} trajectory-steps/s)"
    )
    for line in regime_report(recorder, system):
        print(line)
    if args.out:
        print(f"wrote {args.out}")
        if args.plot or args.gif:  # frames were streamed: read back what the pictures need
            run = _pictures_run(args.out, run)
    if args.plot:
        from pdesim.plots import plot_run

        print(f"wrote {plot_run(run, args.plot, log_fields=logs)}")
    if args.gif:
        from pdesim.plots import animate_run

        print(f"wrote {animate_run(run, args.gif, log_fields=logs)}")
    return 0


def _pictures_run(path: str, run: Run, max_frames: int = 120) -> Run:
    """The first trajectory of a streamed run, read back from ``path`` for pictures:
    every frame of a 1-D run, at most ``max_frames`` evenly spaced frames of 2-D ones."""
    import h5py
    import numpy as np

    count = len(run.t)
    frames = np.arange(count)
    if run.grid.ndim > 1:
        frames = np.unique(np.linspace(0, count - 1, min(max_frames, count)).round().astype(int))
    with h5py.File(path, "r") as h5:
        group = h5["t0_fields"]
        fields = {
            name: group[name][0:1, frames].astype(np.float64) for name in group.attrs["field_names"]
        }
    return dataclasses.replace(run, fields=fields, t=run.t[frames])


def _data(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pdesim.data import generate
    from pdesim.recipes import load_recipe

    recipes = [load_recipe(path, size=args.size) for path in args.recipes]  # all fail early
    if args.workers is not None:
        if args.scheduler:
            raise ValueError(
                "--workers sets the size of the local cluster; with --scheduler the "
                "cluster's own workers run the shards: give one of them"
            )
        if args.workers < 1:
            raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.out:
        require_output_folder("--out", args.out)
    status = 0
    for recipe in recipes:
        total = len(recipe.shards())
        out = args.out if args.out else recipe.path.parent
        with tqdm(total=total, unit="file", desc=recipe.name, disable=args.quiet) as bar:
            summary = generate(
                recipe,
                out,
                workers=args.workers,
                scheduler=args.scheduler,
                progress=lambda report: bar.update(1),
            )
        where = Path(summary.out_dir)  # absolute (for the workers); shown from the cwd
        if where.is_relative_to(Path.cwd()):
            where = where.relative_to(Path.cwd())
        print(
            f"{recipe.name} ({recipe.size}) -> {where}: {summary.files_written} files "
            f"written, {summary.files_skipped} already complete, {summary.trajectories} "
            f"trajectories, {summary.bytes / 2**20:.1f} MiB, {summary.wall_time:.1f} s"
        )
        for item in summary.excluded:
            print(f"  excluded (diverged): {item}")
        for item in summary.regenerated:
            print(f"  regenerated (damaged): {item['path']}: {'; '.join(item['problems'])}")
        for item in summary.failures:
            print(f"  FAILED: {item}")
            status = 1
    return status


def _validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pdesim.file_checks import (
        check_dataset,
        check_file,
        compare_paths,
        find_datasets,
        has_checksums,
    )
    from pdesim.io import VOLATILE_ATTRS

    if args.compare:
        if args.paths:
            raise ValueError("--compare A B compares two paths; give no other paths with it")
        a, b = args.compare
        differences = compare_paths(a, b, ignore=(*VOLATILE_ATTRS, *args.ignore))
        for line in differences:
            print(f"DIFF {line}")
        print(
            f"{a} and {b}: "
            + (f"{len(differences)} differences" if differences else "same content")
        )
        return 1 if differences else 0
    if args.ignore:
        raise ValueError("--ignore names attributes --compare leaves out; give it with --compare")
    if not args.paths:
        raise ValueError("give the HDF5 files or dataset folders to check, or --compare A B")
    failed = 0
    checked = 0
    unchecked = 0
    for target in map(Path, args.paths):
        # notes: what a file pdesim did not write (The Well's own) lacks of pdesim's rules
        notes: dict[str, list[str]] = {}
        if target.is_file():
            notes[str(target)] = []
            reports = {
                str(target): check_file(target, strict=args.strict, notes=notes[str(target)])
            }
        else:
            reports = {
                k: v
                for d in find_datasets(target)
                for k, v in check_dataset(d, strict=args.strict, notes=notes).items()
            }
        if not reports:
            print(f"{target}: no HDF5 file or dataset found")
            failed += 1
        for where, problems in reports.items():
            checked += where != "dataset"
            unchecked += where != "dataset" and not problems and not has_checksums(where)
            for note in notes.get(where, []):
                print(f"note {where}: {note}")
            for problem in problems:
                print(f"FAIL {where}: {problem}")
            failed += bool(problems)
    if unchecked:
        print(
            f"note: {unchecked} files store no content checksums (written before pdesim "
            "stored them, or not by pdesim): their values could not be checked; --strict "
            "fails them"
        )
    files = "file" if checked == 1 else "files"
    print(f"checked {checked} {files}: {'all valid' if not failed else f'{failed} with problems'}")
    return 1 if failed else 0


def _show(args: argparse.Namespace) -> int:
    import numpy as np

    from pdesim.file_checks import drawing_warnings
    from pdesim.io import read_run
    from pdesim.plots import animate_run, plot_run

    _input_hdf5(args.file)
    if args.out.lower().endswith(".gif"):
        _gif_file("--out", args.out)
    else:
        _image_file("--out", args.out)
    warnings = drawing_warnings(args.file, args.traj)  # refuses types it cannot draw
    run = read_run(args.file)
    if not 0 <= args.traj < run.n_traj:
        raise ValueError(f"--traj must be in 0..{run.n_traj - 1}, got {args.traj}")
    logs = _log_fields(args, list(run.fields), run.system)
    for line in warnings:
        print(f"pdesim: warning: {args.file}: {line}", file=sys.stderr)
    if warnings:  # inf too is drawn blank, as NaN is
        run.fields = {k: np.where(np.isfinite(v), v, np.nan) for k, v in run.fields.items()}
    if args.out.lower().endswith(".gif"):
        print(f"wrote {animate_run(run, args.out, trajectory=args.traj, log_fields=logs)}")
    else:
        print(f"wrote {plot_run(run, args.out, trajectory=args.traj, log_fields=logs)}")
    return 0


def _bifurcation(args: argparse.Namespace) -> int:
    import numpy as np

    from pdesim.maps import ChialvoMap, bifurcation_diagram, find_bifurcations
    from pdesim.plots import plot_bifurcation

    if args.system in _RENAMED_MAPS:
        raise ValueError(
            f"bifurcation {args.system!r} is now named by its system's registry name: use "
            f"`pdesim bifurcation {_RENAMED_MAPS[args.system]}` (its node map is the Chialvo map)"
        )
    if args.system not in BIFURCATION_MAPS:
        raise ValueError(
            f"bifurcation {args.system!r}: no node map to draw; allowed: "
            f"{', '.join(BIFURCATION_MAPS)}"
        )
    from pdesim.maps import PARAMETERS

    if args.param not in PARAMETERS:
        raise ValueError(
            f"--param {args.param!r} is not a parameter of the Chialvo node map; "
            f"allowed: {', '.join(PARAMETERS)}"
        )
    fixed = _parse_settings(args.set)
    for name in fixed:
        if name not in PARAMETERS:
            raise ValueError(
                f"--set {name}=...: not a parameter of the {args.system} node map (the "
                f"single Chialvo neuron); allowed: {', '.join(PARAMETERS)}"
            )
    if args.param in fixed:
        raise ValueError(
            f"--set {args.param}=... fixes the parameter that --param {args.param} varies; "
            "its values come from --range"
        )
    base = ChialvoMap(**fixed)
    _image_file("--out", args.out)
    lo, hi = args.range
    if not hi > lo:
        raise ValueError(f"--range needs LOW < HIGH, got {lo:g} {hi:g}")
    values = np.linspace(lo, hi, args.n_values)
    diagram = bifurcation_diagram(
        base, args.param, values, n_transient=args.n_transient, n_keep=args.n_keep
    )
    points = find_bifurcations(base, args.param, lo, hi)
    for bif in points:
        moduli = ", ".join(f"{abs(v):.6f}" for v in bif.eigenvalues)
        print(
            f"{bif.kind} at {bif.param} = {bif.value:.10g} (x* = {bif.x:.6g}, "
            f"|eigenvalues| = {moduli})"
        )
    fixed = {k: v for k, v in vars(base).items() if k != args.param}
    title = f"{args.system} node map: Chialvo ({', '.join(f'{k}={v:g}' for k, v in fixed.items())})"
    print(f"wrote {plot_bifurcation(diagram, args.out, points, title=title)}")
    return 0


_QUIET = "no progress bar (the summary and 'wrote' lines are still printed)"

_LOG_COLOR: dict[str, Any] = {
    "action": "append",
    "default": [],
    "metavar": "FIELD",
    "help": "logarithmic colour scale for this field (repeatable), e.g. --log-color n",
}


def _log_fields(args: argparse.Namespace, fields: Sequence[str], owner: str) -> tuple[str, ...]:
    """The fields named by ``--log-color``, checked against ``fields`` of ``owner``."""
    for name in args.log_color:
        if name not in fields:
            raise ValueError(
                f"--log-color {name!r} is not a field of {owner}; "
                f"its fields are {', '.join(fields)}"
            )
    return tuple(args.log_color)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdesim",
        description="Pseudo-spectral simulators of pattern-forming and chaotic systems.",
        epilog=EXIT_STATUS,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {VERSION}",
        help="print the package version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="systems, their parameters, defaults and allowed ranges")
    p_list.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="show this system only, with its presets' values (default: every system)",
    )
    p_list.set_defaults(func=_list)

    p_run = sub.add_parser("run", help="simulate a system and save/plot the result")
    p_run.add_argument("system", help="system name (see `pdesim list`)")
    p_run.add_argument("--preset", help="a named parameter set of the system (see `pdesim list`)")
    p_run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a system parameter (repeatable), e.g. --set L=22",
    )
    p_run.add_argument("--t-end", type=float, required=True, help="final time")
    p_run.add_argument("--dt", type=float, help="time step (default: the system's)")
    p_run.add_argument("--save-every", type=float, help="time between saved frames (default: dt)")
    p_run.add_argument("--t-warmup", type=float, default=0.0, help="time of the first saved frame")
    p_run.add_argument("--n-traj", type=int, default=1, help="number of trajectories")
    p_run.add_argument("--seed", type=int, default=0, help="root random seed")
    p_run.add_argument(
        "--initial",
        help="initial-condition family (default: the system's first; see `pdesim list`)",
    )
    p_run.add_argument(
        "--method", help="time-stepping method (default: the system's first; see `pdesim list`)"
    )
    p_run.add_argument(
        "--batch-size",
        type=int,
        help="trajectories stepped together (default: as many as keep a field stack cache-sized)",
    )
    p_run.add_argument(
        "--out", help="HDF5 file to write (The Well's layout), in an existing folder"
    )
    p_run.add_argument("--plot", help="PNG to write: space-time diagram (1-D) or snapshots (2-D)")
    p_run.add_argument("--gif", help="GIF to write: the first trajectory's frames, animated")
    p_run.add_argument("--quiet", action="store_true", help=_QUIET)
    p_run.add_argument("--checkpoint", help="checkpoint file (.npz) for restarting the run")
    p_run.add_argument(
        "--checkpoint-every", type=float, help="time between checkpoints (a multiple of dt)"
    )
    p_run.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint if it exists"
    )
    p_run.add_argument("--log-color", **_LOG_COLOR)
    p_run.set_defaults(func=_run)

    p_data = sub.add_parser("data", help="generate datasets from recipes (datasets/*.toml)")
    p_data.add_argument("recipes", nargs="+", help="recipe files")
    p_data.add_argument("--size", default="small", help="recipe size to generate (default: small)")
    p_data.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    p_data.add_argument(
        "--scheduler",
        help="address of a running dask scheduler to use (default: a local cluster of "
        "--workers processes)",
    )
    p_data.add_argument("--out", help="folder for the datasets (default: beside each recipe)")
    p_data.add_argument("--quiet", action="store_true", help=_QUIET)
    p_data.set_defaults(func=_data)

    p_validate = sub.add_parser(
        "validate",
        help="check files/datasets against The Well's format and their stored checksums",
    )
    p_validate.add_argument("paths", nargs="*", help="HDF5 files, dataset folders or their parent")
    p_validate.add_argument(
        "--strict",
        action="store_true",
        help="fail files that store no content checksums (older files, The Well's own)",
    )
    p_validate.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="compare the contents of two files or two dataset folders instead: every "
        "dataset's values and every attribute; exit 0 if the same, 1 with one line per "
        "difference",
    )
    p_validate.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ATTR",
        help="with --compare: an attribute allowed to differ (repeatable), e.g. "
        "pdesim_versions for files from two environments",
    )
    p_validate.set_defaults(func=_validate)

    p_show = sub.add_parser("show", help="picture of a file: snapshots, space-time diagram, GIF")
    p_show.add_argument("file", help="an HDF5 file written by pdesim")
    p_show.add_argument("--traj", type=int, default=0, help="trajectory index")
    p_show.add_argument("--out", required=True, help="output .png or .gif")
    p_show.add_argument("--log-color", **_LOG_COLOR)
    p_show.add_argument(
        "--quiet",
        action="store_true",
        help="accepted as by the other commands: show draws no progress bar; the 'wrote' "
        "line is still printed",
    )
    p_show.set_defaults(func=_show)

    p_bif = sub.add_parser(
        "bifurcation",
        help="bifurcation diagram + Lyapunov exponent of a system's node map along a parameter",
    )
    p_bif.add_argument(
        "system",
        metavar="SYSTEM",
        help=f"the system whose node map to draw: {', '.join(BIFURCATION_MAPS)} (its node "
        "map is the single Chialvo neuron)",
    )
    p_bif.add_argument("--param", default="k", help="parameter to vary: a, b, c or k")
    p_bif.add_argument(
        "--range",
        nargs=2,
        type=float,
        required=True,
        metavar=("LOW", "HIGH"),
        help="the range of --param's values",
    )
    p_bif.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix another map parameter (repeatable; default: the system's defaults)",
    )
    p_bif.add_argument("--n-values", type=int, default=800, help="parameter values")
    p_bif.add_argument("--n-transient", type=int, default=3000, help="iterations discarded")
    p_bif.add_argument("--n-keep", type=int, default=150, help="iterations plotted per value")
    p_bif.add_argument("--out", required=True, help="PNG to write")
    p_bif.set_defaults(func=_bifurcation)
    use_formatter(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SimulationDiverged as exc:
        print(f"pdesim: simulation diverged: {error_line(exc)}", file=sys.stderr)
        return 3
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"pdesim: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pdesim: error: {error_line(exc)}", file=sys.stderr)
        return 1


def error_line(exc: Exception) -> str:
    """An error as one line: an ``OSError`` as its reason and the path(s) it names."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        names = " -> ".join(repr(str(n)) for n in (exc.filename, exc.filename2) if n is not None)
        return f"{exc.strerror}: {names}"
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
