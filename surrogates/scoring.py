"""Scoring free rollouts against the true frames of the same steps.

:func:`prepare` derives from the true frames ``(B, H, C, *space)`` everything every
forecaster is scored against (a :class:`Reference`); :func:`score` scores one
:class:`surrogates.rollout.Rollout` against it, vectorised over trajectories and
steps, on the data's own units (:mod:`surrogates.metrics`), per trajectory and field;
:func:`noise_floor` scores the truth against itself; :func:`checks` turns a report
entry into pass/fail checks.

Curves per lead step: VRMSE, NRMSE, Pearson correlation, binned spectral NMSE.

Horizons (first crossings per trajectory; a stopped rollout counts as crossed):

- VPT(eps): first step with mean-over-fields VRMSE >= eps, eps in :data:`EPSILONS`;
- correlation time: first step with mean-over-fields Pearson correlation < :data:`CORR`;
- spectral drift: :func:`surrogates.metrics.drift_times` with windows of
  ``Reference.drift_window`` steps (not tested when None) against the time-mean
  spectrum of the true frames of the whole span pooled over trajectories, at the
  resolved wavenumbers (energy > 1e-3 x peak) up to the 2/3 cut-off ``k_c``,
  tolerance :data:`SPECTRUM_TOL` (a factor 2);
- stable time: min(first non-finite step, envelope exit, drift step).

Instability flags per trajectory:

- non-finite: the rollout stopped (a non-finite value or ``|u|`` beyond the rollout's
  bound, :func:`surrogates.rollout.rollout`);
- envelope exit: a finite frame whose RMS of some field exceeds :data:`ENVELOPE` = 5 x
  that field's largest training RMS (:func:`surrogates.metrics.envelope_exit`);
- collapse: a finite rollout whose temporal standard deviation over the last half,
  averaged over space, is below :data:`COLLAPSE` = 0.5 x the truth's (same steps, same
  trajectory) for some field (:func:`surrogates.metrics.collapsed`);
- unstable: the union of the three.

Long-run statistics, over the last half of the span (``Reference.late``) against the
true frames of the same steps and trajectories, pooled over trajectories (``inf`` when
any trajectory is non-finite there):

- spectrum: ``max_{1 <= k <= k_c} |log2(E_pred(k) / E_true(k))|`` of the time- and
  trajectory-mean energy spectra (square grids; ``k_c = N // 3``): <= 1 means within
  a factor 2 at every wavenumber up to the cut-off;
- D_stsp: binned KL divergence of the leading standardised POD coefficients
  (``Reference.basis``);
- D_H: power-spectrum Hellinger distance of those coefficients' series, spectra
  averaged over trajectories;
- W1: 1-Wasserstein distance of the pooled values over the true standard deviation;
- ACF: ``max_{c, tau <= L} |ACF_pred - ACF_true|`` of the autocorrelation of the field
  at each point, pooled over space and trajectories
  (:func:`surrogates.metrics.autocorrelation`), lags up to ``L = Reference.max_lag``;
- the largest relative drift of a field's spatial mean (whole span).

Noise floor: the same statistics between two halves of the true trajectories over the
same span, the median over :data:`FLOOR_SPLITS` = 8 splits (and the truth's own drift
count). Checks: 0 non-finite, 0 envelope exits, 0 collapses, spectrum within a factor
2 up to ``k_c``, D_H <= :data:`D_H_FACTOR` x its floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from surrogates import metrics as m
from surrogates.rollout import Rollout

EPSILONS = (0.3, 0.5, 1.0)
CORR = 0.8
ENVELOPE = 5.0  # x the largest training RMS of each field
COLLAPSE = 0.5  # temporal std below this fraction of the truth's
SPECTRUM_TOL = 1.0  # log2: a factor 2
D_H_FACTOR = 2.0  # D_H check: at most this many noise floors
LONG_RUN_LYAPUNOV = 100.0  # what a long-run test needs
FLOOR_SPLITS = 8  # splits of the true trajectories into halves for the noise floor


def flat(a: np.ndarray) -> np.ndarray:
    """``(B, T, C, *space)`` frames as ``(B * T, C, *space)``."""
    return a.reshape(-1, *a.shape[2:])


@dataclass
class Reference:
    """The truth and everything derived from it that every forecaster is scored against."""

    truth: np.ndarray  # (B, H, C, *space)
    train_rms: np.ndarray  # (C,)
    basis: tuple
    late: slice
    max_lag: int
    drift_window: int | None
    k_cut: int | None = None
    spectra: np.ndarray | None = None  # (B, H, C, K)
    mean_spectrum: np.ndarray | None = None  # (C, K), whole span
    late_spectrum: np.ndarray | None = None  # (C, K), last half
    coeffs: np.ndarray | None = None  # (B, n_late, N_POD)
    acf: np.ndarray | None = None  # (C, max_lag + 1), last half


def _spectra(frames: np.ndarray) -> np.ndarray:
    _, e = m.energy_spectrum(flat(frames))
    return e.reshape(*frames.shape[:2], *e.shape[1:])


def prepare(
    truth: np.ndarray,
    train_rms: np.ndarray,
    basis: tuple,
    max_lag: int,
    drift_window: int | None,
) -> Reference:
    """A :class:`Reference` of ``truth (B, H, C, *space)``: ``train_rms (C,)`` the
    largest training RMS per field, ``basis`` a :func:`surrogates.metrics.pod` basis,
    ``max_lag`` the largest ACF lag, ``drift_window`` the drift windows' steps (None:
    no drift test). Spectra, the cut-off and the drift test need a square grid."""
    h = truth.shape[1]
    ref = Reference(truth, train_rms, basis, slice(h // 2, h), max_lag, drift_window)
    late = truth[:, ref.late]
    ref.coeffs = m.project(flat(late), basis).reshape(len(truth), late.shape[1], -1)
    ref.acf = m.autocorrelation(late, max_lag)
    if len(set(truth.shape[3:])) == 1:
        ref.k_cut = m.dealias_cutoff(truth.shape[3:])
        ref.spectra = _spectra(truth)
        ref.mean_spectrum = ref.spectra.mean((0, 1))
        ref.late_spectrum = ref.spectra[:, ref.late].mean((0, 1))
    return ref


def _long_run(pred_late, true_late, coeffs_pred, coeffs_true, spec_pred, spec_true, ref, acf):
    """Long-run statistics of one set of late frames against another (finite); ``acf``
    the autocorrelation of ``true_late``."""
    n_pod = coeffs_true.shape[-1]
    acf_pred = m.autocorrelation(pred_late, ref.max_lag)
    out = {
        "d_stsp": m.d_stsp(coeffs_true.reshape(-1, n_pod), coeffs_pred.reshape(-1, n_pod)),
        "d_h": m.power_spectrum_hellinger(coeffs_true, coeffs_pred),
        "w1": m.histogram_w1(pred_late, true_late),
        "acf": float(np.abs(acf_pred - acf).max()),
    }
    if spec_true is not None:
        out["spectrum_log2_error"] = float(
            m.spectrum_log2_error(spec_pred, spec_true, ref.k_cut).max()
        )
    return out


def score(r: Rollout, ref: Reference) -> dict:
    """Per-trajectory curves, horizons, instability flags and long-run statistics of
    one rollout (vectorised over trajectories and steps; see the module)."""
    truth, frames = ref.truth, r.frames
    b, h = truth.shape[:2]
    with np.errstate(invalid="ignore"):
        v = m.vrmse(flat(frames), flat(truth)).reshape(b, h, -1)
        corr = m.pearson(flat(frames), flat(truth)).reshape(b, h, -1)
        _, snmse = m.binned_spectral_error(flat(frames), flat(truth))
    stopped = np.asarray(r.stopped_at)
    out = {
        "vrmse": v,
        "nrmse": m.nrmse(flat(frames), flat(truth)).reshape(b, h, -1),
        "pearson": corr,
        "spectral_nmse": snmse.reshape(b, h, *snmse.shape[1:]),
        "stopped_at": stopped,
    }
    for eps in EPSILONS:
        out[f"vpt_{eps}"] = m.first_crossing(v.mean(-1), eps)
    out["corr_time"] = m.first_crossing(corr.mean(-1), CORR, below=True)
    space = tuple(range(3, frames.ndim))
    with np.errstate(invalid="ignore"):
        level = np.sqrt((frames**2).mean(space)) / (ENVELOPE * ref.train_rms)
    out["envelope_exit"] = m.first_crossing(np.where(np.isnan(level), np.inf, level).max(2), 1.0)
    stable = np.minimum(stopped, out["envelope_exit"])
    spectra = None
    if ref.spectra is not None:
        spectra = _spectra(frames)
        if ref.drift_window is not None:
            out["drift_time"] = m.drift_times(
                spectra, ref.mean_spectrum, ref.drift_window, SPECTRUM_TOL, k_max=ref.k_cut
            )
            stable = np.minimum(stable, out["drift_time"])
    out["stable_time"] = stable
    late = ref.late
    pred_late, true_late = frames[:, late], truth[:, late]
    ratio = m.collapse_ratio(pred_late, true_late)
    out["collapse_ratio"] = ratio.min(1)
    flags = {
        "nonfinite": stopped < h,
        "envelope": out["envelope_exit"] < stopped,
        "collapse": m.collapsed(pred_late, true_late, COLLAPSE),
    }
    flags["unstable"] = flags["nonfinite"] | flags["envelope"] | flags["collapse"]
    out["flags"] = flags
    if np.all(np.isfinite(pred_late)):
        coeffs = m.project(flat(pred_late), ref.basis).reshape(b, pred_late.shape[1], -1)
        stats = _long_run(
            pred_late,
            true_late,
            coeffs,
            ref.coeffs,
            None if spectra is None else spectra[:, late].mean((0, 1)),
            ref.late_spectrum,
            ref,
            ref.acf,
        )
        means = frames.mean(space)  # (B, H, C)
        scale = np.abs(means[:, :1]) + np.sqrt((frames[:, :1] ** 2).mean(space)) + m.EPS
        stats["max_mass_drift"] = float(np.abs((means - means[:, :1]) / scale).max())
        if spectra is not None:
            out["late_spectrum"] = spectra[:, late].mean((0, 1))
    else:
        keys = ["d_stsp", "d_h", "w1", "acf", "max_mass_drift"]
        keys += ["spectrum_log2_error"] if spectra is not None else []
        stats = dict.fromkeys(keys, math.inf)
    out["long_run"] = stats
    return out


def noise_floor(ref: Reference, n_splits: int = FLOOR_SPLITS, seed: int = 0) -> dict:
    """Long-run statistics of one half of the true trajectories against the other (same
    span): the median over ``n_splits`` splits into halves (the first: trajectories
    ``[:B//2]`` vs ``[B//2:]``, then random ones), with their range in ``spread``; and
    the truth's own spectral drift. Halves hold B/2 trajectories each, the forecasters'
    comparisons B: the floor of a B-vs-B comparison is lower (about 1/sqrt(2) of it for
    D_H), so a check against it is, if anything, lenient."""
    b = len(ref.truth)
    half = b // 2
    out: dict = {}
    if ref.drift_window is not None and ref.spectra is not None:
        drift = m.drift_times(
            ref.spectra, ref.mean_spectrum, ref.drift_window, SPECTRUM_TOL, k_max=ref.k_cut
        )
        out["truth_drifts"] = int(np.sum(drift < ref.truth.shape[1]))
        out["truth_drift_time_median"] = float(np.median(drift))
    if half < 1:
        return out
    rng = np.random.default_rng(seed)
    orders = [np.arange(b)] + [rng.permutation(b) for _ in range(max(0, n_splits - 1))]
    late = ref.truth[:, ref.late]
    spec = None if ref.spectra is None else ref.spectra[:, ref.late]
    per_split = []
    for order in orders:
        a, c = order[:half], order[half : 2 * half]
        per_split.append(
            _long_run(
                late[c],
                late[a],
                ref.coeffs[c],
                ref.coeffs[a],
                None if spec is None else spec[c].mean((0, 1)),
                None if spec is None else spec[a].mean((0, 1)),
                ref,
                m.autocorrelation(late[a], ref.max_lag),
            )
        )
    for key in per_split[0]:
        values = [d[key] for d in per_split]
        out[key] = float(np.median(values))
        out.setdefault("spread", {})[key] = [float(min(values)), float(max(values))]
    out["n_splits"] = len(orders)
    return out


def checks(entry: dict, floor: dict) -> dict:
    """The pass/fail checks of one forecaster's report entry against the noise
    ``floor`` (see the module)."""
    counts, lr = entry["unstable"], entry["long_run"]
    out: dict = {
        name: {"pass": bool(counts[name] == 0), "value": int(counts[name])}
        for name in ("nonfinite", "envelope", "collapse")
    }
    if "spectrum_log2_error" in lr:
        value = lr["spectrum_log2_error"]
        out["spectrum"] = {"pass": bool(value <= SPECTRUM_TOL), "value": value, "limit": 1.0}
    if "d_h" in floor:
        limit = D_H_FACTOR * floor["d_h"]
        out["d_h"] = {"pass": bool(lr["d_h"] <= limit), "value": lr["d_h"], "limit": limit}
    out["all"] = all(c["pass"] for c in out.values())
    return out
