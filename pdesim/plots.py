"""Pictures of runs: space-time diagrams of 1-D fields and snapshot rows of 2-D fields.

Figures are built as :class:`matplotlib.figure.Figure` objects, without pyplot: no
backend is chosen and no global figure state is touched, so importing this module
changes nothing for a program (or notebook) that uses matplotlib itself.

Every picture is drawn on the run's physical axes (``x``, ``y`` from the grid's
coordinates, ``t`` from the run's saved times, in the system's ``time_unit`` where it
declares one), with a colour bar named after the field on every 2-D panel, a
sequential colour map for a field that is nowhere negative (densities,
concentrations) and a diverging one centred at 0 for a signed field, and the system,
its parameters and the trajectory index in the title. Values that are not finite (a
trajectory that diverged) are drawn in grey and noted in the panel's title. A field
whose mean drifts (2-D KS) is drawn less its mean, and a complex amplitude stored as
real and imaginary parts adds its modulus (:func:`drawn_fields`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator

from pdesim.files import atomic_path
from pdesim.simulate import Run

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

#: The colour of values that are not finite (NaN, inf) in every picture.
BAD_COLOUR = "0.6"
#: Colour maps: a field with no negative value, and a signed field (centred at 0).
SEQUENTIAL, DIVERGING = "viridis", "RdBu_r"
#: Numerical parameters left out of titles (resolution and tolerances, not physics).
_NUMERICAL = frozenset({"N", "Ny", "rtol", "atol"})
_AXES = ("x", "y", "z")


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save ``fig`` to ``path`` atomically (:func:`pdesim.files.atomic_path`), in the
    format its suffix names (PNG without one)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi)


def format_value(value: Any) -> str:
    """A parameter value for a title: ``:.4g``, and a non-zero integer multiple of pi as
    ``12π`` (masses, box lengths)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    turns = value / math.pi
    if value != 0 and not float(value).is_integer() and abs(turns - round(turns)) < 1e-9:
        return f"{round(turns)}π" if round(turns) != 1 else "π"
    return f"{value:.4g}"


def format_params(params: Mapping[str, Any], grid_type: str = "cartesian") -> str:
    """``"L = 22, mass = 12π"``: the physical numerical parameters of ``params`` (grid
    sizes and tolerances left out, except the node count of a graph), in their order."""
    shown = []
    for key, value in params.items():
        numeric = isinstance(value, (int, float, np.integer, np.floating))
        if isinstance(value, bool) or not numeric:
            continue
        if key in _NUMERICAL and not (grid_type == "graph" and key == "N"):
            continue
        if key == "Ly" and value == params.get("L"):
            continue
        shown.append(f"{key} = {format_value(value)}")
    return ", ".join(shown)


def run_title(run: Run, trajectory: int, width: int = 90) -> str:
    """``"ks1d (L = 22) · trajectory 3"``, wrapped between parameters to lines of at
    most ``width`` characters."""
    params = format_params(run.params, getattr(run.grid, "grid_type", "cartesian"))
    return wrap_title(run.system, params, trajectory_label(run, trajectory), width)


def trajectory_label(run: Run, trajectory: int) -> str:
    """``"trajectory 3"``; for a shard of a larger set (``first_trajectory`` > 0, from the
    run or its file's provenance) the global index, which fixes its seed
    (``SeedSequence(seed, spawn_key=(i,))``), and the row: ``"trajectory 19 (row 3 of
    the file)"``."""
    first = run.info.get("first_trajectory")
    where = "the run"
    if first is None and run.info.get("path"):
        where = "the file"
        try:
            from pdesim.io import read_provenance

            first = read_provenance(run.info["path"]).get("first_trajectory")
        except (OSError, KeyError, ValueError):
            first = None
    if not first:
        return f"trajectory {trajectory}"
    return f"trajectory {int(first) + trajectory} (row {trajectory} of {where})"


def wrap_title(name: str, params: str, tail: str = "", width: int = 90) -> str:
    """``"name (params) · tail"`` broken into lines of at most ``width`` characters
    between parameters (never inside ``key = value``)."""
    parts = params.split(", ") if params else []
    if parts:
        parts[0] = f"({parts[0]}"
        parts[-1] = f"{parts[-1]})"
    words = [name, *[p + ("," if i < len(parts) - 1 else "") for i, p in enumerate(parts)]]
    if tail:
        words.append(f"· {tail}")
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] += f" {word}"
    return "\n".join(lines)


def time_label(run: Run) -> str:
    """``"t"`` (with the system's ``time_unit`` in brackets where it declares one), or
    ``"iteration n"`` for a map on a graph."""
    if getattr(run.grid, "grid_type", "cartesian") == "graph":
        return "iteration n"
    from pdesim.systems import SYSTEMS

    unit = getattr(SYSTEMS.get(run.system), "time_unit", None)
    return f"t [{unit}]" if unit else "t"


def space_labels(run: Run) -> tuple[str, ...]:
    """The name of each space axis (``x``, ``y``; the grid's ``axis_names`` if it has
    them), with the system's ``length_unit`` in brackets where it declares one."""
    from pdesim.systems import SYSTEMS

    names = getattr(run.grid, "axis_names", _AXES[: run.grid.ndim])
    unit = getattr(SYSTEMS.get(run.system), "length_unit", None)
    return tuple(f"{name} [{unit}]" if unit else name for name in names)


def _extent(grid) -> list[float]:
    """``imshow`` extent ``[x0, x1, y0, y1]`` whose pixel centres are the grid's nodes."""
    edges = []
    for x, h in zip(grid.coords[:2], grid.spacing[:2], strict=True):
        edges += [float(x[0] - h / 2), float(x[-1] + h / 2)]
    return edges


def nonfinite_note(data: np.ndarray, t: np.ndarray | None = None) -> str:
    """``""`` for finite data; else a note for a title: grey marks the values that are
    not finite (from the first time of ``t`` that has one, for ``data (time, ...)``)."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return ""
    if t is None:
        return "grey: not finite"
    first = int(np.argmax(bad.reshape(len(t), -1).any(axis=1)))
    return f"grey: not finite from t = {t[first]:g}"


#: A field counts as positive (a density, a concentration) when no finite value lies
#: below -POSITIVE_UNDERSHOOT times its largest magnitude: spectral solutions of positive
#: fields undershoot zero slightly near sharp fronts (Gray-Scott's v by ~2 % of its peak).
POSITIVE_UNDERSHOOT = 0.05


def is_positive(data: np.ndarray) -> bool:
    """True when ``data`` has finite values and none is below ``-POSITIVE_UNDERSHOOT``
    times the largest finite magnitude (:data:`POSITIVE_UNDERSHOOT`)."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return False
    return float(finite.min()) >= -POSITIVE_UNDERSHOOT * float(np.abs(finite).max())


def colour_scale(
    data: np.ndarray, log: bool = False, sequential: bool | None = None
) -> dict[str, Any]:
    """Colour options for ``imshow``/``pcolormesh`` of ``data``.

    Linear: a sequential map (:data:`SEQUENTIAL`) from the smallest to the largest
    finite value when ``sequential`` (default: when no finite value is negative,
    :func:`is_positive`), else a diverging map (:data:`DIVERGING`) symmetric about 0.
    ``log``: a sequential map on a logarithmic scale over at most 6 decades; draw
    :func:`for_log` of the data so that values <= 0 take the lowest colour. Values that
    are not finite are drawn in :data:`BAD_COLOUR` in both.
    """
    finite = data[np.isfinite(data)]
    if sequential is None:
        sequential = is_positive(data)
    if log:
        from matplotlib.colors import LogNorm

        cmap = _cmap("magma")
        low, high = _log_range(data)
        return {"cmap": cmap, "norm": LogNorm(low, high, clip=True)}
    if finite.size == 0:
        return {"cmap": _cmap(SEQUENTIAL if sequential else DIVERGING), "vmin": 0.0, "vmax": 1.0}
    if sequential:
        return {"cmap": _cmap(SEQUENTIAL), "vmin": float(finite.min()), "vmax": float(finite.max())}
    top = float(np.abs(finite).max()) or 1.0
    return {"cmap": _cmap(DIVERGING), "vmin": -top, "vmax": top}


def for_log(data: np.ndarray, log: bool) -> np.ndarray:
    """``data`` with its finite values <= 0 raised to the bottom of its log scale (they
    would otherwise be drawn as missing); ``data`` itself when not ``log``."""
    if not log:
        return data
    low, _ = _log_range(data)
    return np.where(np.isfinite(data) & (data < low), low, data)


def _cmap(name: str) -> Colormap:
    return matplotlib.colormaps[name].with_extremes(bad=BAD_COLOUR)


def _label(name: str, log: bool) -> str:
    return f"{name} (log scale)" if log else name


def drawn_fields(
    run: Run, trajectory: int = 0, log_fields: Sequence[str] = ()
) -> dict[str, tuple[np.ndarray, bool]]:
    """``{label: (data (time, *space), log)}``: what the pictures draw of a trajectory.

    Each field as it is, except that a field whose spatial mean drifts without feeding
    back (the system's files store it less its mean, with ``<name>_mean`` among its
    ``dataset_scalars``: 2-D KS, whose mean falls without bound) is drawn less its mean
    at each time, labelled ``u − ⟨u⟩``: a diverging scale about 0 would otherwise turn
    one colour as the mean runs off (unless it is named in ``log_fields``). A complex
    field stored as ``A_re``, ``A_im`` adds its modulus ``|A|`` (the Ginzburg-Landau
    amplitude, zero at its defects). ``log`` is whether the label or the field it comes
    from is in ``log_fields``.
    """
    from pdesim.systems import SYSTEMS

    scalars = getattr(SYSTEMS.get(run.system), "dataset_scalars", ())
    out = {}
    for name, stack in run.fields.items():
        data, log = stack[trajectory], name in log_fields
        if f"{name}_mean" in scalars and not log:
            space = tuple(range(1, data.ndim))
            out[f"{name} − ⟨{name}⟩"] = (data - data.mean(axis=space, keepdims=True), False)
        else:
            out[name] = (data, log)
    for name in run.fields:
        base = name.removesuffix("_re")
        if name.endswith("_re") and f"{base}_im" in run.fields:
            modulus = np.hypot(run.fields[name][trajectory], run.fields[f"{base}_im"][trajectory])
            out[f"|{base}|"] = (modulus, f"|{base}|" in log_fields)
    return out


def _image_layout() -> ConstrainedLayoutEngine:
    """Constrained layout with room between panels of 2-D images (8 % of a panel's
    width): a colour bar's label otherwise sat against the next panel's y tick labels,
    where it read as that panel's y label."""
    return ConstrainedLayoutEngine(wspace=0.08)


def plot_run(
    run: Run,
    path: str | os.PathLike,
    trajectory: int = 0,
    n_snapshots: int = 4,
    log_fields: Sequence[str] = (),
) -> Path:
    """Save a PNG of one trajectory: space-time diagram (1-D) or snapshots (2-D)
    (:func:`run_figure`)."""
    if getattr(run.grid, "grid_type", "cartesian") == "graph":
        return plot_network_run(run, path, trajectory)
    path = Path(path)
    save_figure(run_figure(run, trajectory, n_snapshots, log_fields), path)
    return path


def run_figure(
    run: Run, trajectory: int = 0, n_snapshots: int = 4, log_fields: Sequence[str] = ()
) -> Figure:
    """The figure :func:`plot_run` saves: per field (:func:`drawn_fields`), a space-time
    diagram ``(x, t)`` (1-D) or a row of ``n_snapshots`` evenly spaced snapshots
    ``(x, y)`` (2-D), each panel on its own colour scale with its own colour bar.

    Fields named in ``log_fields`` (e.g. a cell density) get a logarithmic colour scale.
    """
    if getattr(run.grid, "grid_type", "cartesian") == "graph":
        return network_figure(run, trajectory)
    fields = drawn_fields(run, trajectory, log_fields)
    axis_labels = space_labels(run)
    title = run_title(run, trajectory)
    lines = title.count("\n") + 1
    if run.grid.ndim == 1:
        fig = Figure(figsize=(8, 0.2 + 0.2 * lines + 3.2 * len(fields)), layout="constrained")
        axes = fig.subplots(len(fields), 1, squeeze=False)
        x = run.grid.coords[0]
        for ax, (name, (data, log)) in zip(axes[:, 0], fields.items(), strict=True):
            image = ax.pcolormesh(
                x, run.t, for_log(data, log), shading="auto", **colour_scale(data, log)
            )
            ax.set_xlabel(axis_labels[0])
            ax.set_ylabel(time_label(run))
            note = nonfinite_note(data, run.t)
            ax.set_title(f"{name}({axis_labels[0]}, t)" + (f"; {note}" if note else ""))
            fig.colorbar(image, ax=ax, label=_label(name, log))
    elif run.grid.ndim == 2:
        frames = np.unique(np.linspace(0, len(run.t) - 1, n_snapshots).round().astype(int))
        fig = Figure(
            figsize=(3.5 * len(frames), 0.3 + 0.25 * lines + 3.1 * len(fields)),
            layout=_image_layout(),
        )
        axes = fig.subplots(len(fields), len(frames), squeeze=False)
        extent = _extent(run.grid)
        for row, (name, (stack, log)) in enumerate(fields.items()):
            sequential = is_positive(stack)
            for col, frame in enumerate(frames):
                ax = axes[row, col]
                data = stack[frame]
                image = ax.imshow(
                    for_log(data, log).T,  # axis 0 is x: drawn across
                    origin="lower",
                    extent=extent,
                    **colour_scale(data, log, sequential),
                )
                note = nonfinite_note(data)
                ax.set_title(f"{name}, t = {run.t[frame]:g}" + (f"\n{note}" if note else ""))
                if row == len(fields) - 1:
                    ax.set_xlabel(axis_labels[0])
                if col == 0:
                    ax.set_ylabel(axis_labels[1])
                fig.colorbar(image, ax=ax, shrink=0.85, label=_label(name, log))
    else:
        raise ValueError(f"plots need 1-D or 2-D fields, got {run.grid.ndim}-D")
    fig.suptitle(title)
    return fig


def animate_run(
    run: Run,
    path: str | os.PathLike,
    trajectory: int = 0,
    max_frames: int = 120,
    fps: int = 12,
    log_fields: Sequence[str] = (),
) -> Path:
    """Save a GIF of one trajectory's frames (at most ``max_frames``, evenly picked),
    drawn by :func:`animation_figure`.

    The figure is drawn whole once, without what changes between frames; each frame
    then restores that picture and draws only the artists ``draw`` returns (images or
    profiles, titles), instead of redrawing every axis, tick and colour bar, and is
    mapped onto one palette (:func:`gif_palette`) instead of a median cut per frame.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    path = Path(path)
    frames = np.unique(np.linspace(0, len(run.t) - 1, max_frames).round().astype(int))
    fig, draw = animation_figure(run, trajectory, log_fields)
    canvas = FigureCanvasAgg(fig)
    moving = draw(frames[0])
    for artist in moving:
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    size = canvas.get_width_height()
    palette = gif_palette(moving)
    images = []
    for frame in frames:
        canvas.restore_region(background)
        for artist in draw(frame):
            fig.draw_artist(artist)
        rgba = Image.frombuffer("RGBA", size, canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        images.append(rgba.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE))
    with atomic_path(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=int(1000 / fps),
            loop=0,
        )
    return path


def gif_palette(artists: Sequence[Artist], size: int = 256) -> PILImage:
    """One GIF palette for every frame: 32 greys (background, text, axes) and the colour
    of values that are not finite, 16 blends from white to each line's colour (its
    anti-aliased edges), and the rest shared evenly between the colour maps of the
    images among ``artists``, sampled along each map."""
    from PIL import Image

    colours = [np.linspace(0.0, 1.0, 32)[:, None].repeat(3, axis=1), [to_rgb(BAD_COLOUR)]]
    for colour in {to_rgb(a.get_color()) for a in artists if hasattr(a, "get_ydata")}:
        blend = np.linspace(0.0, 1.0, 16)[:, None]
        colours.append(1.0 - blend * (1.0 - np.array(colour)))
    maps = {a.get_cmap().name: a.get_cmap() for a in artists if hasattr(a, "get_cmap")}
    left = size - sum(len(c) for c in colours)
    for cmap in maps.values():
        colours.append(cmap(np.linspace(0.0, 1.0, left // len(maps)))[:, :3])
    table = (np.concatenate(colours) * 255).round().astype(np.uint8).ravel().tolist()
    palette = Image.new("P", (1, 1))
    palette.putpalette(table + [0] * (3 * size - len(table)))
    return palette


def animation_figure(
    run: Run, trajectory: int = 0, log_fields: Sequence[str] = ()
) -> tuple[Figure, Callable[[int], list[Artist]]]:
    """``(figure, draw)``: one panel per field (:func:`drawn_fields`) and ``draw(frame)``
    showing a saved frame, as :func:`animate_run` records them; ``draw`` returns the
    artists it changed. 1-D: the profile against ``x`` (markers at the nodes of a graph)
    with the field name on the y axis; 2-D: an image on ``(x, y)`` with a colour bar
    named after the field. Limits and colour scales are fixed over the trajectory, so a
    colour means one value in every frame. The title names the system, parameters,
    trajectory and time.

    Fields named in ``log_fields`` get a logarithmic colour (2-D) or y (1-D) scale.
    """
    fields = drawn_fields(run, trajectory, log_fields)
    axis_labels = space_labels(run)
    if run.grid.ndim not in (1, 2):
        raise ValueError(f"animations need 1-D or 2-D fields, got {run.grid.ndim}-D")
    graph = getattr(run.grid, "grid_type", "cartesian") == "graph"
    head = run_title(run, trajectory, width=40 * len(fields) + 20)
    lines = head.count("\n") + 2  # and the time
    if run.grid.ndim == 1:
        fig = Figure(figsize=(max(4.2 * len(fields), 5.0), 4.3), layout="constrained")
    else:  # images keep their aspect: the height must leave room for the title's lines
        fig = Figure(
            figsize=(max(4.6 * len(fields), 5.0), 3.9 + 0.3 * lines), layout=_image_layout()
        )
    axes = fig.subplots(1, len(fields), squeeze=False)
    artists = []
    for ax, (name, (data, log)) in zip(axes[0], fields.items(), strict=True):
        ax.set_xlabel(f"{axis_labels[0]} (0 = centre)" if graph else axis_labels[0])
        if run.grid.ndim == 1:
            x = run.grid.coords[0]
            style = {"ls": "none", "marker": "o", "ms": 3} if graph else {}
            (line,) = ax.plot(x, data[0], **style)
            finite = data[np.isfinite(data)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0, 1)
            if log:
                ax.set_yscale("log")
                ax.set_ylim(*_log_range(data))
            else:
                pad = 0.05 * (high - low) or 1.0
                ax.set_ylim(low - pad, high + pad)
            if graph:
                _node_axis(ax, len(x))
            else:
                ax.set_xlim(run.grid.origin[0], run.grid.origin[0] + run.grid.lengths[0])
            ax.set_ylabel(_label(name, log))
            artists.append(line)
        else:
            image = ax.imshow(
                for_log(data[0], log).T,
                origin="lower",
                extent=_extent(run.grid),
                **colour_scale(data, log),
            )
            ax.set_ylabel(axis_labels[1])
            fig.colorbar(image, ax=ax, shrink=0.85, label=_label(name, log))
            artists.append(image)
        ax.set_title(name)
    title = fig.suptitle(head)

    def draw(frame: int) -> list[Artist]:
        for artist, ax, (name, (stack, log)) in zip(artists, axes[0], fields.items(), strict=True):
            data = stack[frame]
            note = nonfinite_note(data)
            if run.grid.ndim == 1:
                artist.set_ydata(data)
                note = "gaps: not finite" if note else ""
            else:
                artist.set_data(for_log(data, log).T)
            ax.set_title(f"{name}; {note}" if note else name)
        title.set_text(f"{head}\n{time_label(run)} = {run.t[frame]:g}")
        return [*artists, *(ax.title for ax in axes[0]), title]

    draw(0)
    # Lay out once and keep it: re-running the constrained layout for every frame
    # tripled the time to write a GIF, and the panels would shift as tick labels change.
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return fig, draw


def _node_axis(ax: Axes, n_nodes: int) -> None:
    """Nodes of a graph on ``ax``'s x axis: integer ticks, each node in its own cell."""
    ax.set_xlim(-0.5, n_nodes - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def plot_network_run(run: Run, path: str | os.PathLike, trajectory: int = 0) -> Path:
    """Save a PNG of a run on a graph (:func:`network_figure`)."""
    path = Path(path)
    save_figure(network_figure(run, trajectory), path)
    return path


def network_figure(run: Run, trajectory: int = 0) -> Figure:
    """A run on a graph: a raster of ``x(node, n)``, the time series of the centre and
    two ring nodes over the last 300 iterations, and the phase portrait ``(x, y)`` of
    those nodes."""
    x, y = run.fields["x"][trajectory], run.fields["y"][trajectory]
    nodes = run.grid.coords[0]
    when = time_label(run)
    fig = Figure(figsize=(11, 6.8), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1.6, 1))
    raster = fig.add_subplot(grid[:, 0])
    image = raster.pcolormesh(nodes, run.t, x, shading="nearest", **colour_scale(x))
    raster.set_xlabel("node (0 = centre)")
    _node_axis(raster, len(nodes))
    raster.set_ylabel(when)
    note = nonfinite_note(x, run.t)
    raster.set_title("x(node, n)" + (f"; {note}" if note else ""))
    fig.colorbar(image, ax=raster, label="x")
    series = fig.add_subplot(grid[0, 1])
    shown = sorted({0, min(1, x.shape[1] - 1), x.shape[1] // 2})
    last = slice(max(0, len(run.t) - 300), None)
    names = {j: f"node {j}" + (" (centre)" if j == 0 else "") for j in shown}
    for j in shown:
        series.plot(run.t[last], x[last, j], lw=0.8, label=names[j])
    series.set_xlabel(when)
    series.set_ylabel("x")
    series.set_title(f"last {len(run.t[last])} iterations")
    series.legend(fontsize=8, loc="upper right")
    portrait = fig.add_subplot(grid[1, 1])
    for j in shown:
        portrait.plot(x[:, j], y[:, j], ".", ms=1.5, label=names[j])
    portrait.set_xlabel("x")
    portrait.set_ylabel("y")
    portrait.set_title("phase portrait")
    fig.suptitle(run_title(run, trajectory, width=110))
    return fig


def plot_bifurcation(
    diagram,
    path: str | os.PathLike,
    bifurcations: Sequence = (),
    title: str = "Chialvo map",
) -> Path:
    """Save a bifurcation diagram (orbit samples of ``x`` against the parameter) with the
    leading Lyapunov exponent below; ``bifurcations`` (from
    :func:`pdesim.maps.find_bifurcations`) are marked by vertical lines.

    ``diagram`` is a :class:`pdesim.maps.BifurcationDiagram`.
    """
    path = Path(path)
    fig = Figure(figsize=(8, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (2, 1)})
    values = np.repeat(diagram.values, diagram.x.shape[1])
    top.plot(values, diagram.x.ravel(), ",", color="k", alpha=0.5)
    top.set_ylabel("x")
    top.set_title(title)
    bottom.plot(diagram.values, diagram.lyapunov, lw=0.8, color="C0")
    bottom.axhline(0.0, color="grey", lw=0.6)
    bottom.set_ylabel("Lyapunov exponent\n[per iteration]")
    bottom.set_xlabel(diagram.param)
    colours = {"saddle-node": "C1", "period-doubling": "C2", "neimark-sacker": "C3"}
    for bif in bifurcations:
        for ax in (top, bottom):
            ax.axvline(bif.value, color=colours.get(bif.kind, "C4"), lw=0.8, ls="--")
        top.annotate(
            bif.kind,
            (bif.value, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
        )
    fig.tight_layout()
    save_figure(fig, path)
    return path


def _log_range(data: np.ndarray, decades: float = 6.0) -> tuple[float, float]:
    """``(low, high)`` of a log scale: the largest finite value down to the smallest
    positive one, at most ``decades`` decades below it."""
    finite = data[np.isfinite(data)]
    high = float(finite.max()) if finite.size else math.nan
    if not high > 0:
        raise ValueError(f"a log colour scale needs positive values; the largest is {high:g}")
    positive = finite[finite > 0]
    return max(float(positive.min()), high * 10.0**-decades), high
