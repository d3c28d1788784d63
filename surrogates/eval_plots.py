"""The evaluation's pictures: error against lead time, energy spectra, space-time panels.

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot, so
importing this module chooses no backend and touches no global figure state. Each
PNG is written atomically (:func:`pdesim.plots.save_figure`).

Lead times are in the report's time unit (Lyapunov times, rotation periods or the
data's time unit); space axes are the dataset's coordinates where its files name the
pdesim system that wrote them (grid indices otherwise). A forecaster whose rollout
stopped (a non-finite value) is not left to vanish: its legend entry says at which
step it diverged, and its space-time panel shows the missing frames in grey.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from pdesim.plots import (
    colour_scale,
    format_params,
    is_positive,
    save_figure,
    wrap_title,
)
from surrogates import metrics as m
from surrogates.rollout import Rollout
from surrogates.scoring import EPSILONS, Reference


def diverged_at(frames: np.ndarray) -> int | None:
    """The first lead step (1-based) at which some trajectory of ``frames (B, H, ...)``
    is not finite; None when every frame is finite."""
    bad = ~np.isfinite(frames.reshape(*frames.shape[:2], -1)).all(axis=2).all(axis=0)
    return int(np.argmax(bad)) + 1 if bad.any() else None


def _space(info, n_dims: int, shape: tuple[int, ...]):
    """``(coords, labels, params)`` of the dataset ``info``: the pdesim system's grid
    coordinates and parameters, or grid indices (and no parameters) without one."""
    if info is not None:
        try:
            from surrogates.data import dataset_system

            system = dataset_system(info)
            grid = system.grid
            if grid.ndim == n_dims and tuple(grid.shape) == tuple(shape):
                names = getattr(grid, "axis_names", ("x", "y", "z")[:n_dims])
                kind = getattr(grid, "grid_type", "cartesian")
                return grid.coords, tuple(names), format_params(system.params_dict(), kind)
        except (ValueError, OSError, KeyError, TypeError):
            pass
    coords = tuple(np.arange(n, dtype=np.float64) for n in shape)
    return coords, tuple(f"{a} (grid index)" for a in ("x", "y", "z")[:n_dims]), ""


def write_plots(
    out_dir: Path,
    report: dict,
    rollouts: dict[str, Rollout],
    results: dict[str, dict],
    ref: Reference,
    name: str,
    info=None,
) -> None:
    """Write ``error_vs_lead.png`` (median VRMSE per forecaster against lead time in the
    report's time unit), ``spectra.png`` (square grids: energy spectra at four lead steps
    and over the last half) and ``spacetime.png`` (the first test trajectory, truth and
    every forecaster: space-time diagrams in 1-D, the last frame in 2-D) to ``out_dir``,
    for the JSON-ready ``report`` of ``rollouts`` and their ``results``
    (:func:`surrogates.scoring.score`) against ``ref``; ``name`` titles them.

    ``info`` (the test split's :class:`surrogates.data.DatasetInfo`) gives the field
    names, the space coordinates and the parameters in the titles."""
    for fig, file in (
        (error_figure(report, rollouts, name, info), "error_vs_lead.png"),
        (spectra_figure(report, rollouts, results, ref, name, info), "spectra.png"),
        (spacetime_figure(report, rollouts, ref, name, info), "spacetime.png"),
    ):
        if fig is not None:
            save_figure(fig, out_dir / file)


def _labels(report: dict, rollouts: dict[str, Rollout]) -> dict[str, str]:
    """Legend labels: the forecaster's, with ``(diverged at step k)`` for a rollout that
    stopped within the horizon."""
    out = {}
    for key, e in report["forecasters"].items():
        step = diverged_at(rollouts[key].frames) if key in rollouts else None
        out[key] = e["label"] + (f" (diverged at step {step})" if step is not None else "")
    return out


def _colours(report: dict) -> dict[str, str]:
    return {key: f"C{i + 1}" for i, key in enumerate(report["forecasters"])}


#: Line styles of the forecasters' curves, in turn: curves that coincide (climatology
#: and DMD both at VRMSE 1) stay visible beneath each other.
LINE_STYLES = ("-", "--", "-.", ":")


def _styles(report: dict) -> dict[str, str]:
    return {key: LINE_STYLES[i % len(LINE_STYLES)] for i, key in enumerate(report["forecasters"])}


def _trajectories(n: int) -> str:
    return f"{n} test trajector{'y' if n == 1 else 'ies'}"


def _title(name: str, info, what: str, n_dims: int, shape) -> str:
    _, _, params = _space(info, n_dims, shape)
    return wrap_title(name, params, what, 100)


def error_figure(report: dict, rollouts: dict[str, Rollout], name: str, info=None) -> Figure:
    """Median VRMSE per forecaster against lead time; a curve that turns non-finite ends
    with a cross at its last finite step and says where in the legend."""
    scale = report["time_scale"]
    lead = (np.arange(report["horizon"]) + 1) * report["dt"] / scale["length"]
    labels, colours, styles = _labels(report, rollouts), _colours(report), _styles(report)
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    for key, e in report["forecasters"].items():
        curve = np.array(e["curves"]["vrmse"]["median"], dtype=np.float64)
        finite = np.isfinite(curve)
        stop = len(curve) if finite.all() else int(np.argmax(~finite))
        label = labels[key]
        if stop < len(curve) and "diverged" not in label:
            label += f" (median not finite from step {stop + 1})"
        shown = np.clip(curve[:stop], 1e-8, None)
        ax.semilogy(lead[:stop], shown, color=colours[key], ls=styles[key], label=label)
        if stop < len(curve):
            at = lead[stop - 1] if stop else lead[0]
            ax.axvline(lead[stop], color=colours[key], lw=0.8, ls=":")
            if stop:
                ax.plot([at], [shown[-1]], "x", color=colours[key], ms=7)
    thresholds = f"VPT thresholds ε = {', '.join(f'{eps:g}' for eps in EPSILONS)}"
    for i, eps in enumerate(EPSILONS):  # named once in the legend
        ax.axhline(eps, color="grey", lw=0.5, ls="--", label=thresholds if i == 0 else None)
    ax.set_xlabel(f"lead time [{scale['unit']}s]")
    ax.set_ylabel("median VRMSE")
    shape = next(iter(rollouts.values())).frames.shape[3:] if rollouts else ()
    what = f"error vs lead time, median over {_trajectories(report['n_trajectories'])}"
    ax.set_title(_title(name, info, what, len(shape), shape), fontsize=9)
    ax.legend(fontsize=7)
    return fig


def spectra_figure(
    report: dict,
    rollouts: dict[str, Rollout],
    results: dict[str, dict],
    ref: Reference,
    name: str,
    info=None,
) -> Figure | None:
    """Energy spectra (square grids) at four lead steps and over the last half; a
    forecaster absent from a panel (non-finite there) is named in the legend with the
    step it diverged at. None when the grid is not square."""
    if ref.spectra is None:
        return None
    truth = ref.truth
    labels, colours, styles = _labels(report, rollouts), _colours(report), _styles(report)
    h = truth.shape[1]
    leads = sorted({0, h // 4, h // 2, h - 1})
    k = np.arange(ref.spectra.shape[-1])
    shape = truth.shape[3:]
    coords, _, _ = _space(info, len(shape), shape)
    length = float(len(coords[0]) * (coords[0][1] - coords[0][0])) if len(coords[0]) > 1 else 0
    fig = Figure(figsize=(3.0 * (len(leads) + 1) + 2.4, 3.4), layout="constrained")
    axes = fig.subplots(1, len(leads) + 1, sharey=True)
    handles = {}
    dt, scale = report["dt"], report["time_scale"]
    for ax, step in zip(axes[:-1], leads, strict=True):
        (handles["true"],) = ax.loglog(
            k[1:], ref.spectra[:, step].mean((0, 1))[1:], "k", lw=2, label="true"
        )
        for key, r in rollouts.items():
            frames = r.frames[:, step]
            if np.all(np.isfinite(frames)):
                _, ep = m.energy_spectrum(frames)
                (handles[key],) = ax.loglog(
                    k[1:],
                    ep.mean((0, 1))[1:],
                    lw=1,
                    color=colours[key],
                    ls=styles[key],
                    label=labels[key],
                )
        lead = (step + 1) * dt / scale["length"]
        ax.set_title(f"step {step + 1} ({lead:.3g} {scale['symbol']})", fontsize=9)
    ax = axes[-1]
    ax.loglog(k[1:], ref.late_spectrum.mean(0)[1:], "k", lw=2, label="true")
    for key, res in results.items():
        if "late_spectrum" in res:
            (handles[key],) = ax.loglog(
                k[1:], res["late_spectrum"].mean(0)[1:], lw=1, color=colours[key], ls=styles[key]
            )
    ax.axvline(ref.k_cut, color="grey", lw=0.5, ls="--")
    ax.annotate(
        "2/3 cut-off",
        (ref.k_cut, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-2, -3),
        textcoords="offset points",
        rotation=90,
        ha="right",
        va="top",
        fontsize=6,
        color="0.4",
    )
    ax.set_title("mean over the last half", fontsize=9)
    unit = f"k [2π / L], L = {length:.4g}" if length and info is not None else "k [2π / L]"
    for ax in axes:
        ax.set_xlabel(unit)
    axes[0].set_ylabel("E(k)")
    ticks = [2**j for j in range(12) if 2**j <= k[-1]]
    for ax in axes:  # wavenumbers as integers (a short range crowds 2x10^0, 3x10^0, ...)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    for key in report["forecasters"]:
        if key not in handles:  # non-finite in every panel: still named in the legend
            (handles[key],) = axes[0].plot([], [], color=colours[key], ls=styles[key], lw=1)
    fig.legend(
        [handles["true"], *(handles[key] for key in report["forecasters"])],
        ["true", *(labels[key] for key in report["forecasters"])],
        loc="outside right upper",
        fontsize=7,
    )
    what = f"energy spectra, mean over {_trajectories(report['n_trajectories'])}"
    fig.suptitle(_title(name, info, what, len(shape), shape), fontsize=10)
    return fig


def _extend(panels: list[np.ndarray], options: dict) -> str:
    """A colour bar's ``extend``: ``"min"``, ``"max"``, ``"both"`` or ``"neither"`` as some
    finite value of ``panels`` lies below or above the colour range of ``options``."""
    values = np.concatenate([p[np.isfinite(p)] for p in panels])
    if not values.size:
        return "neither"
    below, above = values.min() < options["vmin"], values.max() > options["vmax"]
    return ("neither", "min", "max", "both")[int(below) + 2 * int(above)]


def spacetime_figure(
    report: dict, rollouts: dict[str, Rollout], ref: Reference, name: str, info=None
) -> Figure:
    """Test trajectory 0, truth and every forecaster, one row per field: ``field(x, t)``
    against lead time (1-D) or the last frame on ``(x, y)`` (2-D), on the truth's colour
    scale (sequential for a field with no negative value, diverging about 0 otherwise)
    with one colour bar per field, whose arrows show that some forecaster's values lie
    beyond the truth's range (drawn in its end colours); non-finite values in grey, noted
    in the panel title."""
    truth = ref.truth
    labels = {k: e["label"] for k, e in report["forecasters"].items()}
    panels = [("true", truth[0])] + [(labels[k], r.frames[0]) for k, r in rollouts.items()]
    n_fields, shape = truth.shape[2], truth.shape[3:]
    names = list(getattr(info, "field_names", ()) or ())
    if len(names) != n_fields:
        names = [f"field {c}" for c in range(n_fields)]
    coords, axis_labels, _ = _space(info, len(shape), shape)
    scale = report["time_scale"]
    lead = (np.arange(truth.shape[1]) + 1) * report["dt"] / scale["length"]
    fig = Figure(figsize=(2.6 * len(panels) + 1.2, 0.8 + 3.2 * n_fields), layout="constrained")
    axes = fig.subplots(n_fields, len(panels), sharex=True, sharey=True, squeeze=False)
    for c, field in enumerate(names):
        true = truth[0][:, c]
        options = colour_scale(true if len(shape) == 1 else true[-1], sequential=is_positive(true))
        drawn = [frames[:, c] if len(shape) == 1 else frames[-1, c] for _, frames in panels]
        for col, (label, frames) in enumerate(panels):
            ax = axes[c, col]
            if len(shape) == 1:
                data = frames[:, c]
                image = ax.pcolormesh(coords[0], lead, data, shading="auto", **options)
            else:
                data = frames[-1, c]
                x, y = coords[0], coords[1]
                hx, hy = x[1] - x[0], y[1] - y[0]
                extent = [x[0] - hx / 2, x[-1] + hx / 2, y[0] - hy / 2, y[-1] + hy / 2]
                image = ax.imshow(data.T, origin="lower", extent=extent, **options)
            title = label if n_fields == 1 else f"{label}: {field}"
            bad = ~np.isfinite(frames[:, c].reshape(len(frames), -1)).all(axis=1)
            if bad.any():
                title += f"\ngrey: not finite from step {int(np.argmax(bad)) + 1}"
            ax.set_title(title, fontsize=8)
            if c == n_fields - 1:
                ax.set_xlabel(axis_labels[0])
        axes[c, 0].set_ylabel(
            f"lead time [{scale['unit']}s]" if len(shape) == 1 else axis_labels[1]
        )
        # the gap is a fraction of the row's width: that of one panel, not of the whole row
        fig.colorbar(
            image,
            ax=axes[c, :],
            shrink=0.9,
            pad=0.05 / len(panels),
            label=field,
            extend=_extend(drawn, options),
        )
    steps = truth.shape[1]
    what = "test trajectory 0" + (
        ""
        if len(shape) == 1
        else f", frame at step {steps} (the last; lead {lead[-1]:.3g} {scale['symbol']})"
    )
    fig.suptitle(_title(name, info, what, len(shape), shape), fontsize=10)
    return fig
