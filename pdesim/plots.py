"""Pictures of runs: space-time diagrams of 1-D fields and snapshot rows of 2-D fields."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pdesim.simulate import Run


def plot_run(run: Run, path: str | os.PathLike, trajectory: int = 0, n_snapshots: int = 4) -> Path:
    """Save a PNG of one trajectory: space-time diagram (1-D) or snapshots (2-D)."""
    path = Path(path)
    names = list(run.fields)
    if run.grid.ndim == 1:
        fig, axes = plt.subplots(len(names), 1, figsize=(8, 3.2 * len(names)), squeeze=False)
        x = run.grid.coords[0]
        for ax, name in zip(axes[:, 0], names, strict=True):
            data = run.fields[name][trajectory]
            image = ax.pcolormesh(x, run.t, data, shading="auto", cmap="RdBu_r")
            ax.set_xlabel("x")
            ax.set_ylabel("t")
            ax.set_title(f"{run.system}: {name}(x, t)")
            fig.colorbar(image, ax=ax)
    elif run.grid.ndim == 2:
        frames = np.unique(np.linspace(0, len(run.t) - 1, n_snapshots).round().astype(int))
        fig, axes = plt.subplots(
            len(names), len(frames), figsize=(3.2 * len(frames), 3.0 * len(names)), squeeze=False
        )
        extent = [
            run.grid.origin[1],
            run.grid.origin[1] + run.grid.lengths[1],
            run.grid.origin[0],
            run.grid.origin[0] + run.grid.lengths[0],
        ]
        for row, name in enumerate(names):
            for col, frame in enumerate(frames):
                ax = axes[row, col]
                image = ax.imshow(
                    run.fields[name][trajectory, frame],
                    origin="lower",
                    extent=extent,
                    cmap="RdBu_r",
                )
                ax.set_title(f"{name}, t = {run.t[frame]:g}")
                ax.set_xticks([])
                ax.set_yticks([])
                fig.colorbar(image, ax=ax, shrink=0.8)
    else:
        raise ValueError(f"plots need 1-D or 2-D fields, got {run.grid.ndim}-D")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def animate_run(
    run: Run, path: str | os.PathLike, trajectory: int = 0, max_frames: int = 120, fps: int = 12
) -> Path:
    """Save a GIF of one trajectory's frames (at most ``max_frames``, evenly picked)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    path = Path(path)
    names = list(run.fields)
    frames = np.unique(np.linspace(0, len(run.t) - 1, max_frames).round().astype(int))
    fig, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 3.6), squeeze=False)
    artists = []
    for ax, name in zip(axes[0], names, strict=True):
        data = run.fields[name][trajectory]
        low, high = float(data.min()), float(data.max())
        if run.grid.ndim == 1:
            (line,) = ax.plot(run.grid.coords[0], data[0])
            ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
            ax.set_xlabel("x")
            artists.append(line)
        elif run.grid.ndim == 2:
            image = ax.imshow(data[0], origin="lower", cmap="RdBu_r", vmin=low, vmax=high)
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
                artist.set_clim(float(data.min()), float(data.max()))
        title.set_text(f"{run.system}: t = {run.t[frame]:g}")
        return [*artists, title]

    animation = FuncAnimation(fig, draw, frames=frames, blit=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    animation.save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)
    return path
