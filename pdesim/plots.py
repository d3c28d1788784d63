"""Pictures of runs: space-time diagrams of 1-D fields and snapshot rows of 2-D fields.

Figures are built as :class:`matplotlib.figure.Figure` objects, without pyplot: no
backend is chosen and no global figure state is touched, so importing this module
changes nothing for a program (or notebook) that uses matplotlib itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.figure import Figure

from pdesim.files import atomic_path
from pdesim.simulate import Run


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save ``fig`` to ``path`` atomically (:func:`pdesim.files.atomic_path`), in the
    format its suffix names (PNG without one)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi)


def plot_run(
    run: Run,
    path: str | os.PathLike,
    trajectory: int = 0,
    n_snapshots: int = 4,
    log_fields: Sequence[str] = (),
) -> Path:
    """Save a PNG of one trajectory: space-time diagram (1-D) or snapshots (2-D).

    Fields named in ``log_fields`` (e.g. a cell density) get a logarithmic colour scale.
    """
    if getattr(run.grid, "grid_type", "cartesian") == "graph":
        return plot_network_run(run, path, trajectory)
    path = Path(path)
    names = list(run.fields)
    if run.grid.ndim == 1:
        fig = Figure(figsize=(8, 3.2 * len(names)))
        axes = fig.subplots(len(names), 1, squeeze=False)
        x = run.grid.coords[0]
        for ax, name in zip(axes[:, 0], names, strict=True):
            data = run.fields[name][trajectory]
            image = ax.pcolormesh(
                x, run.t, data, shading="auto", **colour_scale(data, name in log_fields)
            )
            ax.set_xlabel("x")
            ax.set_ylabel("t")
            ax.set_title(f"{run.system}: {name}(x, t)")
            fig.colorbar(image, ax=ax)
    elif run.grid.ndim == 2:
        frames = np.unique(np.linspace(0, len(run.t) - 1, n_snapshots).round().astype(int))
        fig = Figure(figsize=(3.2 * len(frames), 3.0 * len(names)))
        axes = fig.subplots(len(names), len(frames), squeeze=False)
        extent = [
            run.grid.origin[1],
            run.grid.origin[1] + run.grid.lengths[1],
            run.grid.origin[0],
            run.grid.origin[0] + run.grid.lengths[0],
        ]
        for row, name in enumerate(names):
            for col, frame in enumerate(frames):
                ax = axes[row, col]
                data = run.fields[name][trajectory, frame]
                image = ax.imshow(
                    data, origin="lower", extent=extent, **colour_scale(data, name in log_fields)
                )
                ax.set_title(f"{name}, t = {run.t[frame]:g}")
                ax.set_xticks([])
                ax.set_yticks([])
                fig.colorbar(image, ax=ax, shrink=0.8)
    else:
        raise ValueError(f"plots need 1-D or 2-D fields, got {run.grid.ndim}-D")
    fig.tight_layout()
    save_figure(fig, path)
    return path


class _GifWriter(PillowWriter):
    """matplotlib's Pillow writer, told the format: it otherwise takes it from the file
    name's suffix, and :func:`pdesim.files.atomic_path`'s temporary name ends in .tmp."""

    def finish(self) -> None:
        self._frames[0].save(
            self.outfile,
            format="GIF",
            save_all=True,
            append_images=self._frames[1:],
            duration=int(1000 / self.fps),
            loop=0,
        )


def animate_run(
    run: Run,
    path: str | os.PathLike,
    trajectory: int = 0,
    max_frames: int = 120,
    fps: int = 12,
    log_fields: Sequence[str] = (),
) -> Path:
    """Save a GIF of one trajectory's frames (at most ``max_frames``, evenly picked).

    Fields named in ``log_fields`` get a logarithmic colour (2-D) or y (1-D) scale.
    """
    from matplotlib.animation import FuncAnimation

    path = Path(path)
    names = list(run.fields)
    frames = np.unique(np.linspace(0, len(run.t) - 1, max_frames).round().astype(int))
    fig = Figure(figsize=(4.0 * len(names), 3.6))
    axes = fig.subplots(1, len(names), squeeze=False)
    artists = []
    for ax, name in zip(axes[0], names, strict=True):
        data = run.fields[name][trajectory]
        low, high = float(np.nanmin(data)), float(np.nanmax(data))  # NaN is drawn blank
        if run.grid.ndim == 1:
            (line,) = ax.plot(run.grid.coords[0], data[0])
            if name in log_fields:
                ax.set_yscale("log")
                ax.set_ylim(*_log_range(data))
            else:
                ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
            ax.set_xlabel("x")
            artists.append(line)
        elif run.grid.ndim == 2:
            image = ax.imshow(data[0], origin="lower", **colour_scale(data, name in log_fields))
            ax.set_xticks([])
            ax.set_yticks([])
            artists.append(image)
        else:
            raise ValueError(f"animations need 1-D or 2-D fields, got {run.grid.ndim}-D")
    title = fig.suptitle("")

    def draw(frame: int) -> list:
        for artist, name in zip(artists, names, strict=True):
            data = run.fields[name][trajectory, frame]
            if run.grid.ndim == 1:
                artist.set_ydata(data)
            else:  # per-frame colour range: fields such as 2-D KS drift in mean
                artist.set_data(data)
                if name in log_fields:
                    artist.set_clim(*_log_range(data))
                else:
                    artist.set_clim(float(np.nanmin(data)), float(np.nanmax(data)))
        title.set_text(f"{run.system}: t = {run.t[frame]:g}")
        return [*artists, title]

    animation = FuncAnimation(fig, draw, frames=frames, blit=False)
    with atomic_path(path) as tmp:
        animation.save(tmp, writer=_GifWriter(fps=fps))
    return path


def plot_network_run(run: Run, path: str | os.PathLike, trajectory: int = 0) -> Path:
    """Save a PNG of a run on a graph: a raster of ``x(node, t)``, the time series of the
    centre and one ring node, and the phase portrait ``(x, y)`` of a few nodes."""
    path = Path(path)
    x, y = run.fields["x"][trajectory], run.fields["y"][trajectory]
    nodes = run.grid.coords[0]
    fig = Figure(figsize=(11, 6.5))
    grid = fig.add_gridspec(2, 2, width_ratios=(1.6, 1))
    raster = fig.add_subplot(grid[:, 0])
    image = raster.pcolormesh(nodes, run.t, x, shading="nearest", cmap="magma")
    raster.set_xlabel("node (0 = centre)")
    raster.set_ylabel("iteration")
    raster.set_title(f"{run.system}: x(node, n)")
    fig.colorbar(image, ax=raster, label="x")
    series = fig.add_subplot(grid[0, 1])
    shown = sorted({0, min(1, x.shape[1] - 1), x.shape[1] // 2})
    last = slice(max(0, len(run.t) - 300), None)
    for j in shown:
        series.plot(run.t[last], x[last, j], lw=0.8, label=f"node {j}")
    series.set_xlabel("iteration")
    series.set_ylabel("x")
    series.legend(fontsize=8, loc="upper right")
    portrait = fig.add_subplot(grid[1, 1])
    for j in shown:
        portrait.plot(x[:, j], y[:, j], ".", ms=1.5, label=f"node {j}")
    portrait.set_xlabel("x")
    portrait.set_ylabel("y")
    portrait.set_title("phase portrait")
    fig.tight_layout()
    save_figure(fig, path)
    return path


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
    bottom.set_ylabel("Lyapunov exponent")
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
    """``(low, high)`` of a log scale: the largest value down to the smallest positive one,
    at most ``decades`` decades below it."""
    high = float(np.nanmax(data))
    if not high > 0:
        raise ValueError(f"a log colour scale needs positive values; the largest is {high:g}")
    positive = data[data > 0]
    return max(float(positive.min()), high * 10.0**-decades), high


def colour_scale(data: np.ndarray, log: bool = False) -> dict:
    """Colour options for ``imshow``/``pcolormesh``: a diverging linear map, or (``log``)
    a sequential map on a logarithmic scale (values <= 0 drawn in the lowest colour)."""
    if not log:
        return {"cmap": "RdBu_r", "vmin": float(np.nanmin(data)), "vmax": float(np.nanmax(data))}
    from matplotlib.colors import LogNorm

    cmap = matplotlib.colormaps["magma"]
    low, high = _log_range(data)
    return {"cmap": cmap.with_extremes(bad=cmap(0.0)), "norm": LogNorm(low, high, clip=True)}
