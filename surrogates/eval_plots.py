"""The evaluation's pictures: error against lead time, energy spectra, space-time panels.

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot, so
importing this module chooses no backend and touches no global figure state. Each
PNG is written atomically (:func:`pdesim.plots.save_figure`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pdesim.plots import save_figure
from surrogates import metrics as m
from surrogates.rollout import Rollout
from surrogates.scoring import EPSILONS, Reference


def write_plots(
    out_dir: Path,
    report: dict,
    rollouts: dict[str, Rollout],
    results: dict[str, dict],
    ref: Reference,
    name: str,
) -> None:
    """Write ``error_vs_lead.png`` (median VRMSE per forecaster against lead time in the
    report's time unit), ``spectra.png`` (square grids: energy spectra at four lead steps
    and over the last half) and ``spacetime.png`` (the first trajectory, truth and every
    forecaster) to ``out_dir``, for the JSON-ready ``report`` of ``rollouts`` and their
    ``results`` (:func:`surrogates.scoring.score`) against ``ref``; ``name`` titles them."""
    scale = report["time_scale"]
    truth = ref.truth
    labels = {k: e["label"] for k, e in report["forecasters"].items()}
    lead = (np.arange(report["horizon"]) + 1) * report["dt"] / scale["length"]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for key, e in report["forecasters"].items():
        curve = np.array(e["curves"]["vrmse"]["median"], dtype=np.float64)
        ax.semilogy(lead, np.clip(np.nan_to_num(curve, nan=1e3), 1e-8, 1e3), label=labels[key])
    for eps in EPSILONS:
        ax.axhline(eps, color="grey", lw=0.5, ls="--")
    ax.set_xlabel(f"lead time [{scale['unit']}s]")
    ax.set_ylabel("median VRMSE")
    ax.set_title(f"{name}: error vs lead time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out_dir / "error_vs_lead.png")

    if ref.spectra is not None:
        h = truth.shape[1]
        leads = sorted({0, h // 4, h // 2, h - 1})
        k = np.arange(ref.spectra.shape[-1])
        fig = Figure(figsize=(3.2 * (len(leads) + 1), 3))
        axes = fig.subplots(1, len(leads) + 1)
        for ax, step in zip(axes[:-1], leads, strict=True):
            ax.loglog(k[1:], ref.spectra[:, step].mean((0, 1))[1:], "k", lw=2, label="true")
            for key, r in rollouts.items():
                frames = r.frames[:, step]
                if np.all(np.isfinite(frames)):
                    _, ep = m.energy_spectrum(frames)
                    ax.loglog(k[1:], ep.mean((0, 1))[1:], lw=1, label=labels[key])
            ax.set_title(f"step {step + 1}")
            ax.set_xlabel("k")
        ax = axes[-1]
        ax.loglog(k[1:], ref.late_spectrum.mean(0)[1:], "k", lw=2, label="true")
        for key, res in results.items():
            if "late_spectrum" in res:
                ax.loglog(k[1:], res["late_spectrum"].mean(0)[1:], lw=1, label=labels[key])
        ax.axvline(ref.k_cut, color="grey", lw=0.5, ls="--")
        ax.set_title("mean over the last half")
        ax.set_xlabel("k")
        axes[0].set_ylabel("E(k)")
        axes[0].legend(fontsize=6)
        fig.tight_layout()
        save_figure(fig, out_dir / "spectra.png")

    panels = [("true", truth[0])] + [(labels[k], r.frames[0]) for k, r in rollouts.items()]
    fig = Figure(figsize=(2.6 * len(panels), 3.5))
    axes = fig.subplots(1, len(panels), sharey=True)
    vmax = float(np.abs(truth[0]).max())
    for ax, (label, frames) in zip(axes, panels, strict=True):
        img = frames[:, 0] if frames.ndim == 3 else frames[-1, 0]
        ax.imshow(img, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(label, fontsize=8)
    axes[0].set_ylabel("step" if truth.ndim == 4 else "y")
    fig.tight_layout()
    save_figure(fig, out_dir / "spacetime.png")
