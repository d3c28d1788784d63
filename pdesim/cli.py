"""The ``pdesim`` command line: ``pdesim list`` and ``pdesim run``."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from typing import Any

from pdesim.simulate import SimulationDiverged, simulate
from pdesim.systems import SYSTEMS, make_system


def _parse_assignment(text: str) -> tuple[str, Any]:
    """``"L=22"`` -> ``("L", 22)``; values are Python literals, else strings."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _list(args: argparse.Namespace) -> int:
    for name in sorted(SYSTEMS):
        cls = SYSTEMS[name]
        print(f"{name}: {cls.summary}")
        print(f"  fields: {', '.join(cls.field_names)}")
        print(f"  initial conditions: {', '.join(cls.initial_conditions)} (default first)")
        print(f"  default dt: {cls.default_dt:g}; methods: {', '.join(cls.methods)}")
        if cls.presets:
            print(f"  presets: {', '.join(cls.presets)}")
        for row in cls.parameter_table():
            default = repr(row["default"])
            print(f"  {row['name']:<10} default {default:<22} {row['allowed']:<36} {row['doc']}")
        print()
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    params = dict(_parse_assignment(item) for item in args.set)
    system = make_system(args.system, preset=args.preset, **params)
    dt = args.dt if args.dt is not None else system.default_dt
    save_every = args.save_every if args.save_every is not None else dt
    with tqdm(total=1, unit="step", unit_scale=True, desc=system.name, disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

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
        )
    steps = run.info["n_steps"] * run.n_traj
    print(
        f"{system!r}: {run.n_traj} trajectories x {len(run.t)} frames "
        f"(t = {run.t[0]:g} .. {run.t[-1]:g}, dt = {dt:g}) in {run.wall_time:.2f} s "
        f"({steps / max(run.wall_time, 1e-9):,.0f} trajectory-steps/s)"
    )
    if args.out:
        from pdesim.io import write_run

        print(f"wrote {write_run(args.out, run)}")
    if args.plot:
        from pdesim.plots import plot_run

        print(f"wrote {plot_run(run, args.plot)}")
    if args.gif:
        from pdesim.plots import animate_run

        print(f"wrote {animate_run(run, args.gif)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdesim",
        description="Pseudo-spectral simulators of pattern-forming and chaotic systems.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="systems, their parameters, defaults and allowed ranges")
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
    p_run.add_argument("--initial", help="initial-condition family (see `pdesim list`)")
    p_run.add_argument("--method", help="time-stepping method (see `pdesim list`)")
    p_run.add_argument("--batch-size", type=int, help="trajectories stepped together")
    p_run.add_argument("--out", help="HDF5 file to write (The Well's layout)")
    p_run.add_argument("--plot", help="PNG to write: space-time diagram (1-D) or snapshots (2-D)")
    p_run.add_argument("--gif", help="GIF to write: the first trajectory's frames, animated")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar")
    p_run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SimulationDiverged as exc:
        print(f"pdesim: simulation diverged: {exc}", file=sys.stderr)
        return 3
    except (ValueError, TypeError) as exc:
        print(f"pdesim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
