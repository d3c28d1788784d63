"""Error, horizon and long-run statistics of forecasts, per frame and per field.

Frames are arrays ``(N, C, *space)``: N samples (trajectories or time steps), C
fields; every per-frame metric returns ``(N, C)`` (or ``(N, C, bins)``). With
``p`` the prediction, ``y`` the target and ``<.>`` the spatial mean:

- ``vrmse = sqrt(<(p - y)^2> / (var_x(y) + 1e-7))`` with the unbiased spatial
  variance (The Well's headline metric; predicting the spatial mean scores ~1);
- ``nrmse = sqrt(<(p - y)^2> / (<y^2> + 1e-7))``;
- ``pearson = cov_x(p, y) / (std_x p std_x y + 1e-7)``;
- ``binned_spectral_error``: the residual's power ``|F(p - y)|^2 / n^2`` summed over
  3 shells of ``|k|`` (k in radians per grid spacing) with edges
  ``0, logspace(log10(2 pi / n_max), log10(pi sqrt(d)), 4)[1:]`` (The Well), so the
  three bins add up to the MSE; ``nmse`` divides by the target's power in each bin.

Horizons threshold an error curve at its first crossing (a non-finite value counts
as a crossing). Stability: the first non-finite frame, the first exit from the
training envelope, the spectral drift time (windows of the energy spectrum against
the true time-mean one, :func:`drift_time`) and the collapse of the temporal
variability (:func:`collapsed`). Long-run statistics compare sets of states or
series: the state-space divergence ``D_stsp = KL(p_true || p_gen)`` (binned for
<= 5 dims, Gaussian mixture otherwise; Hess et al. 2023), the power-spectrum
Hellinger distance ``D_H`` (Mikhaeil et al. 2022), the isotropic energy-spectrum
error up to the 2/3 dealiasing cut-off (:func:`spectrum_log2_error`), the histogram
1-Wasserstein distance and the temporal autocorrelation error (:func:`acf_error`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from pdesim.diagnostics import isotropic_spectrum, mode_power

EPS = 1e-7


def vrmse(pred, true, unbiased: bool = True):
    """VRMSE per sample and field of ``(N, C, *space)`` arrays or tensors (see module)."""
    if isinstance(true, np.ndarray):
        out = vrmse(torch.from_numpy(np.array(pred)), torch.from_numpy(np.array(true)), unbiased)
        return out.numpy()
    dims = tuple(range(2, true.ndim))
    mse = (pred - true).pow(2).mean(dims)
    var = true.var(dims, correction=1 if unbiased else 0)
    return (mse / (var + EPS)).sqrt()


def _spatial(a: np.ndarray) -> tuple[int, ...]:
    if a.ndim < 3:
        raise ValueError(f"frames of shape {a.shape}; expected (N, C, *space) with >= 1 axis")
    return tuple(range(2, a.ndim))


def _pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"pred has shape {p.shape} but true has shape {y.shape}")
    _spatial(y)
    return p, y


def nrmse(pred, true) -> np.ndarray:
    """``sqrt(<(p - y)^2> / (<y^2> + 1e-7))`` per sample and field."""
    p, y = _pair(pred, true)
    dims = _spatial(y)
    return np.sqrt(((p - y) ** 2).mean(dims) / ((y**2).mean(dims) + EPS))


def pearson(pred, true) -> np.ndarray:
    """Spatial Pearson correlation per sample and field."""
    p, y = _pair(pred, true)
    dims = _spatial(y)
    pc = p - p.mean(dims, keepdims=True)
    yc = y - y.mean(dims, keepdims=True)
    cov = (pc * yc).mean(dims)
    return cov / (np.sqrt((pc**2).mean(dims) * (yc**2).mean(dims)) + EPS)


def _wavenumbers(shape: tuple[int, ...]) -> np.ndarray:
    """``|k|`` in radians per grid spacing on the full FFT grid of ``shape``."""
    ks = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n) for n in shape], indexing="ij")
    return np.sqrt(sum(k**2 for k in ks))


def spectral_bins(shape: tuple[int, ...]) -> np.ndarray:
    """The Well's 4 bin edges of ``|k|`` (3 bins: low, mid, high wavenumbers)."""
    edges = np.logspace(np.log10(2 * np.pi / max(shape)), np.log10(np.pi * np.sqrt(len(shape))), 4)
    edges[0] = 0.0
    return edges


def _bin_sum(power: np.ndarray, kmag: np.ndarray, edges: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(edges) - 1):
        last = i == len(edges) - 2
        mask = (kmag >= edges[i]) & ((kmag <= edges[i + 1]) if last else (kmag < edges[i + 1]))
        out.append(power[..., mask].sum(-1))
    return np.stack(out, -1)


def binned_spectral_error(pred, true) -> tuple[np.ndarray, np.ndarray]:
    """``(mse, nmse)`` per sample, field and bin ``(N, C, 3)`` (see module)."""
    p, y = _pair(pred, true)
    kmag = _wavenumbers(y.shape[2:])
    edges = spectral_bins(y.shape[2:])
    mse = _bin_sum(mode_power(p - y, p.ndim - 2), kmag, edges)
    ref = _bin_sum(mode_power(y, y.ndim - 2), kmag, edges)
    return mse, mse / (ref + EPS)


def energy_spectrum(frames) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic spectrum ``E(k)`` per sample and field of frames ``(N, C, *space)`` on a
    square grid: :func:`pdesim.diagnostics.isotropic_spectrum` with the domain taken as
    ``2 pi`` on each axis, so shell k holds the modes of integer wavenumber
    ``rint(|k|) = k`` in units of the fundamental and ``E = |F u|^2 / n^2`` summed
    there. Only the complete shells ``k = 0 .. n_min // 2`` are kept (beyond them lie a
    2-D grid's corners), so ``E.sum(-1) = mean(u^2)`` in 1-D only. Returns
    ``(k, E (N, C, len(k)))``."""
    a = np.asarray(frames, dtype=np.float64)
    shape = a.shape[2:]
    if len(set(shape)) != 1:
        raise ValueError(f"energy_spectrum needs a square grid, got spatial shape {shape}")
    _, spec = isotropic_spectrum(a, (2 * np.pi,) * len(shape))
    k = np.arange(min(shape) // 2 + 1)
    return k, spec[..., : len(k)]


def dealias_cutoff(shape: tuple[int, ...]) -> int:
    """The 2/3-rule cut-off ``k_c = min(shape) // 3`` of the integer shell index of
    :func:`energy_spectrum` (``N / 3`` on each axis of a square grid: 21 for N = 64)."""
    return min(shape) // 3


def spectrum_log_error(pred_spectrum, true_spectrum, floor: float = 1e-12) -> np.ndarray:
    """``max_k |log E_pred(k) - log E_true(k)|`` over the last axis, for ``k >= 1`` where
    the true spectrum exceeds ``floor`` times its maximum (resolved wavenumbers)."""
    p = np.asarray(pred_spectrum, dtype=np.float64)[..., 1:]
    t = np.asarray(true_spectrum, dtype=np.float64)[..., 1:]
    keep = t > floor * t.max(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.abs(np.log(p) - np.log(t))
    diff = np.where(keep, diff, 0.0)
    diff = np.where(np.isnan(diff) & keep, np.inf, diff)
    return diff.max(-1)


def spectrum_log2_error(pred_spectrum, true_spectrum, k_max: int) -> np.ndarray:
    """``max_{1 <= k <= k_max} |log2(E_pred(k) / E_true(k))|`` over the last axis of two
    spectra (as :func:`energy_spectrum` returns them, index = shell k).

    1 means "within a factor 2 at every wavenumber up to ``k_max``" (take ``k_max`` =
    :func:`dealias_cutoff`). A wavenumber where exactly one of the two is zero or where
    the prediction is non-finite scores ``inf``; one where both are zero scores 0."""
    p = np.asarray(pred_spectrum, dtype=np.float64)[..., 1 : k_max + 1]
    t = np.asarray(true_spectrum, dtype=np.float64)[..., 1 : k_max + 1]
    if p.shape[-1] < 1:
        raise ValueError(f"k_max={k_max!r}; allowed: 1..{np.shape(true_spectrum)[-1] - 1}")
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.abs(np.log2(p) - np.log2(t))
    diff = np.where((p == 0) & (t == 0), 0.0, diff)
    return np.where(np.isnan(diff), np.inf, diff).max(-1)


def histogram_w1(pred, true) -> float:
    """1-Wasserstein distance between the pooled values of two arrays of samples, over
    the standard deviation of ``true`` (a shift by ``c`` scores ``c / std``)."""
    p = np.sort(np.asarray(pred, dtype=np.float64).ravel())
    y = np.sort(np.asarray(true, dtype=np.float64).ravel())
    if not np.all(np.isfinite(p)):
        return math.inf
    n = max(len(p), len(y))
    q = (np.arange(n) + 0.5) / n
    pq = np.interp(q, (np.arange(len(p)) + 0.5) / len(p), p)
    yq = np.interp(q, (np.arange(len(y)) + 0.5) / len(y), y)
    return float(np.mean(np.abs(pq - yq)) / (y.std() + EPS))


# -- horizons and stability


def first_crossing(curve, threshold: float, below: bool = False):
    """First index along the last axis where ``curve >= threshold`` (``<`` with
    ``below``) or is non-finite; the axis length if it never crosses (a censored
    horizon). An int for one curve ``(T,)``, an integer array for curves ``(..., T)``."""
    c = np.asarray(curve, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(c) | ((c < threshold) if below else (c >= threshold))
    hits = np.where(bad.any(-1), np.argmax(bad, -1), c.shape[-1])
    return int(hits) if c.ndim == 1 else hits


def first_nonfinite(frames) -> int:
    """First index along axis 0 with any non-finite value; ``len(frames)`` if none."""
    a = np.asarray(frames)
    bad = ~np.isfinite(a.reshape(len(a), -1)).all(1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else len(a)


def rms(frames) -> np.ndarray:
    """Spatial RMS per sample and field of ``(N, C, *space)``."""
    a = np.asarray(frames, dtype=np.float64)
    return np.sqrt((a**2).mean(_spatial(a)))


def envelope_exit(frames, max_train_rms, factor: float = 5.0) -> int:
    """First index whose RMS of some field exceeds ``factor`` x the largest training
    RMS of that field (or is non-finite); ``len(frames)`` if never."""
    r = rms(frames) / (factor * np.asarray(max_train_rms, dtype=np.float64))
    return first_crossing(np.nanmax(np.where(np.isfinite(r), r, np.inf), axis=1), 1.0)


def drift_time(
    frames,
    reference_spectrum,
    window: int,
    tol: float = 1.0,
    floor: float = 1e-3,
    k_max: int | None = None,
) -> int:
    """First step of the first window of ``frames (T, C, *space)`` whose time-mean
    energy spectrum leaves a factor ``2**tol`` of ``reference_spectrum (C, K)``; ``T``
    if none (see :func:`drift_times`, which this calls for one trajectory)."""
    a = np.asarray(frames, dtype=np.float64)
    _, e = energy_spectrum(a)
    return int(drift_times(e[None], reference_spectrum, window, tol, floor, k_max)[0])


def drift_times(
    spectra,
    reference_spectrum,
    window: int,
    tol: float = 1.0,
    floor: float = 1e-3,
    k_max: int | None = None,
) -> np.ndarray:
    """Spectral drift step per trajectory of the energy spectra ``(B, T, C, K)`` of its
    frames (:func:`energy_spectrum` of each frame).

    The frames are cut into consecutive windows ``[j W, (j + 1) W)`` of ``W = window``
    steps (a tail shorter than W is not tested). Window j of trajectory b drifts when

        max_{c, k in R_c} |log2( mean_{t in window} E_b(t, c, k) / E_ref(c, k) )| > tol

    with ``R_c`` the resolved wavenumbers ``1 <= k <= k_max`` (default: all) whose
    reference energy exceeds ``floor`` times the field's peak, or when the window holds
    a non-finite value. The drift step is ``j W`` of the first drifting window, ``T``
    if none (censored). ``E_ref`` should be the time-mean spectrum of the true frames,
    pooled over trajectories, and W long enough that true trajectories do not drift:
    on KS (L = 22, N = 64) the 1-Lyapunov-time mean spectrum of one trajectory swings
    by orders of magnitude at the odd wavenumbers k = 1, 3, 5, 7 (the flow lingers near
    L/2-periodic states) and 20 Lyapunov times are needed (see
    :mod:`surrogates.evaluate`)."""
    e = np.asarray(spectra, dtype=np.float64)
    ref = np.asarray(reference_spectrum, dtype=np.float64)
    if e.ndim != 4 or ref.shape != e.shape[2:]:
        raise ValueError(f"spectra {e.shape}, reference {ref.shape}: need (B, T, C, K) and (C, K)")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window={window!r}; allowed: an integer >= 1")
    b, t = e.shape[:2]
    k = np.arange(ref.shape[-1])
    resolved = (ref > floor * ref.max(-1, keepdims=True)) & (k >= 1)
    if k_max is not None:
        resolved &= k <= k_max
    n_win = t // window
    out = np.full(b, t, dtype=np.int64)
    if n_win == 0:
        return out
    chunks = e[:, : n_win * window].reshape(b, n_win, window, *ref.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = chunks.mean(2)
        err = np.abs(np.log2(mean) - np.log2(ref))
    bad = np.where(resolved, np.where(np.isnan(err), np.inf, err), 0.0).max((-2, -1)) > tol
    bad |= ~np.isfinite(chunks).all((2, 3, 4))
    first = np.argmax(bad, 1)
    hit = bad.any(1)
    out[hit] = first[hit] * window
    return out


def collapse_ratio(pred, true) -> np.ndarray:
    """Temporal variability of ``pred`` over that of ``true``, per trajectory and field,
    of series ``(B, T, C, *space)``:

        r_bc = s_c(pred_b) / s_c(true_b),   s_c(u) = <sqrt((1/T) sum_t (u(t, x) - u_bar(x))^2)>_x

    with ``u_bar(x)`` the time mean at each point and ``<.>_x`` the mean over space.
    ``inf`` where the truth does not vary (and the prediction does), 1 where neither does;
    ``nan`` for a trajectory with a non-finite value."""
    p, y = _pair(pred, true)
    if y.ndim < 4:
        raise ValueError(f"series of shape {y.shape}; expected (B, T, C, *space)")
    space = tuple(range(2, y.ndim - 1))  # of the time std (B, C, *space)
    sp, st = p.std(1).mean(space), y.std(1).mean(space)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(st > 0, sp / st, np.where(sp > 0, np.inf, 1.0))
    finite = np.isfinite(p).all((1, *range(3, p.ndim)))  # (B, C)
    return np.where(finite.all(1, keepdims=True), r, np.nan)


def collapsed(pred, true, ratio: float = 0.5) -> np.ndarray:
    """``(B,)``: True where some field of a finite trajectory of ``pred (B, T, C, *space)``
    has ``r_bc < ratio`` (:func:`collapse_ratio`): its temporal standard deviation,
    averaged over space, is below ``ratio`` times the truth's over the same span (a
    rollout frozen into a fixed point or a small limit cycle). A trajectory with a
    non-finite value is not collapsed (it is counted as non-finite instead)."""
    r = collapse_ratio(pred, true)
    with np.errstate(invalid="ignore"):
        return np.any(r < ratio, axis=1)


def mass_drift(frames) -> np.ndarray:
    """Relative drift of each field's spatial mean from the first frame, ``(N, C)``:
    ``(<u_t> - <u_0>) / (|<u_0>| + rms(u_0) + 1e-7)``."""
    a = np.asarray(frames, dtype=np.float64)
    m = a.mean(_spatial(a))
    return (m - m[:1]) / (np.abs(m[:1]) + rms(a[:1]) + EPS)


# -- long-run statistics


def pod(frames, n_modes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leading POD modes of ``(N, ...)`` snapshots: ``(mean, modes (n_modes, D), std)``,
    with ``std`` the standard deviation of each coefficient over the snapshots."""
    x = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1)
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    n = min(n_modes, len(s))
    std = s[:n] / np.sqrt(len(x))
    return mean, vt[:n], np.where(std > 0, std, 1.0)


def project(frames, basis: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Standardised POD coefficients ``(N, n_modes)`` of snapshots in ``basis``."""
    mean, modes, std = basis
    x = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1)
    return (x - mean) @ modes.T / std


def d_stsp_binned(true, gen, n_bins: int = 30, alpha: float = 1e-5) -> float:
    """``KL(p_true || p_gen)`` of Laplace-smoothed histograms ``(h + alpha) / (sum h +
    alpha n_bins^D)`` on the box ``[min - 0.1 std, max + 0.1 std]`` of ``true``;
    points ``(T, D)`` with D <= 5; points of ``gen`` outside the box are dropped."""
    x, g = np.asarray(true, dtype=np.float64), np.asarray(gen, dtype=np.float64)
    if x.ndim != 2 or g.ndim != 2 or x.shape[1] != g.shape[1] or not 1 <= x.shape[1] <= 5:
        raise ValueError(f"true {x.shape}, gen {g.shape}: need (T, D) points with D in 1..5")
    if not np.all(np.isfinite(g)):
        return math.inf
    sd = x.std(0)
    edges = [
        np.linspace(lo - 0.1 * s, hi + 0.1 * s, n_bins + 1)
        for lo, hi, s in zip(x.min(0), x.max(0), sd, strict=True)
    ]
    hx, _ = np.histogramdd(x, bins=edges)
    hg, _ = np.histogramdd(g, bins=edges)
    size = n_bins ** x.shape[1]
    px = (hx + alpha) / (hx.sum() + alpha * size)
    pg = (hg + alpha) / (hg.sum() + alpha * size)
    return float(np.sum(px * np.log(px / pg)))


def _log_gmm(points: np.ndarray, centres: np.ndarray, sigma2: float) -> np.ndarray:
    d = centres.shape[1]
    sq = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None]
    logk = -0.5 * np.maximum(sq, 0) / sigma2
    top = logk.max(1, keepdims=True)
    log_mean = top[:, 0] + np.log(np.exp(logk - top).mean(1))
    return log_mean - 0.5 * d * np.log(2 * np.pi * sigma2)


def d_stsp_gmm(
    true, gen, sigma2: float = 1.0, n_samples: int = 1000, max_points: int = 10000, seed: int = 0
) -> float:
    """Monte-Carlo ``KL(p_true || p_gen)`` between isotropic Gaussian mixtures
    ``N(x_t, sigma2 I)`` placed on the points ``(T, D)`` (Hershey & Olsen 2007)."""
    x = np.asarray(true, dtype=np.float64)[:max_points]
    g = np.asarray(gen, dtype=np.float64)[:max_points]
    if x.ndim != 2 or g.ndim != 2 or x.shape[1] != g.shape[1]:
        raise ValueError(f"true {x.shape}, gen {g.shape}: need (T, D) points of equal D")
    if not np.all(np.isfinite(g)):
        return math.inf
    rng = np.random.default_rng(seed)
    s = x[rng.integers(len(x), size=n_samples)] + np.sqrt(sigma2) * rng.standard_normal(
        (n_samples, x.shape[1])
    )
    return float(np.mean(_log_gmm(s, x, sigma2) - _log_gmm(s, g, sigma2)))


def stsp_bins(n_points: int, dims: int) -> int:
    """Bins per axis for a binned ``D_stsp`` of ``n_points`` true points: about 10 points
    per occupied bin, ``(n_points / 10)^(1/D)``, within 4..30 (30: Hess et al.'s default
    for long series)."""
    return int(np.clip(round((n_points / 10) ** (1 / dims)), 4, 30))


def d_stsp(true, gen) -> float:
    """Binned ``D_stsp`` (bins from :func:`stsp_bins`) for <= 5 dimensions, the
    Gaussian-mixture one otherwise."""
    x = np.asarray(true)
    if x.shape[-1] <= 5:
        return d_stsp_binned(true, gen, n_bins=stsp_bins(len(x), x.shape[-1]))
    return d_stsp_gmm(true, gen)


def power_spectrum_hellinger(true, gen, smoothing: float = 20.0) -> float:
    """``D_H``: per dimension of ``(T, D)`` series, the standardised series' ``|rfft|^2``,
    Gaussian-smoothed (sigma ``smoothing`` bins) and normalised to sum 1, then
    ``sqrt(1 - sum sqrt(p q))``; averaged over dimensions (1 for a constant series).

    Series ``(B, T, D)`` of B trajectories are pooled: each trajectory's normalised
    spectrum is computed as above and ``p``, ``q`` are their means over B."""
    x, g = np.asarray(true, dtype=np.float64), np.asarray(gen, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape != g.shape:
        raise ValueError(f"true {x.shape}, gen {g.shape}: need equal (T, D) or (B, T, D) series")
    if not np.all(np.isfinite(g)):
        return math.inf
    if x.ndim == 2:
        x, g = x[None], g[None]

    def spectrum(a: np.ndarray) -> np.ndarray:
        centred, sd = a - a.mean(1, keepdims=True), a.std(1, keepdims=True)
        # constant up to round-off (a frozen rollout): no spectrum, not white noise
        still = sd <= 1e-10 * (np.abs(a).max(1, keepdims=True) + EPS)
        a = np.where(still, 0.0, centred / (sd + EPS))
        p = gaussian_filter1d(np.abs(np.fft.rfft(a, axis=1)) ** 2, smoothing, axis=1)
        total = p.sum(1, keepdims=True)
        return (p / np.where(total > 0, total, 1.0)).mean(0)

    # a constant series has no spectrum (all zeros): its overlap is 0, so D_H = 1
    bc = np.sqrt(spectrum(x) * spectrum(g)).sum(0)
    return float(np.mean(np.sqrt(np.clip(1.0 - bc, 0.0, None))))


# -- temporal autocorrelation


def autocorrelation(series, max_lag: int) -> np.ndarray:
    """Autocorrelation function ``(C, max_lag + 1)`` of series ``(B, T, C, *space)``,
    pooled over trajectories b and points x, per field c:

        ACF_c(tau) = G_c(tau) / G_c(0),
        G_c(tau) = (1 / (B |X|)) sum_{b, x} (1 / (T - tau)) sum_{t < T - tau} v(t) v(t + tau)

    with ``v = u - mu_c`` and ``mu_c`` the mean of field c over all b, t, x (so a series
    frozen in time but not in space has ACF = 1 at every lag); a field constant over
    all b, t, x has ACF = 1 by convention. Computed with zero-padded FFTs, one
    trajectory at a time."""
    a = np.asarray(series, dtype=np.float64)
    if a.ndim < 4:
        raise ValueError(f"series of shape {a.shape}; expected (B, T, C, *space)")
    b, t, c = a.shape[:3]
    if not isinstance(max_lag, (int, np.integer)) or not 0 <= max_lag < t:
        raise ValueError(f"max_lag={max_lag!r}; allowed: 0..{t - 1} for {t} steps")
    if not np.all(np.isfinite(a)):
        return np.full((c, max_lag + 1), np.nan)
    space = tuple(range(3, a.ndim))
    mu = a.mean((0, 1, *space))
    n = 1 << int(2 * t - 1).bit_length()
    total = np.zeros((c, max_lag + 1))
    for traj in a:
        v = (traj - mu.reshape(c, *(1,) * len(space))).reshape(t, c, -1)
        f = np.fft.rfft(v, n, axis=0)
        lagged = np.fft.irfft(np.abs(f) ** 2, n, axis=0)[: max_lag + 1]
        total += lagged.sum(-1).T
    g = total / (b * math.prod(a.shape[3:]) * (t - np.arange(max_lag + 1)))
    return np.where(g[:, :1] > 0, g / np.where(g[:, :1] > 0, g[:, :1], 1.0), 1.0)


def acf_error(pred, true, max_lag: int) -> float:
    """``max_{c, 0 <= tau <= max_lag} |ACF_pred(c, tau) - ACF_true(c, tau)|`` of
    :func:`autocorrelation` (0 for equal series, up to 2; ``inf`` when ``pred`` holds a
    non-finite value)."""
    p, y = _pair(pred, true)
    acf_p = autocorrelation(p, max_lag)
    if not np.all(np.isfinite(acf_p)):
        return math.inf
    return float(np.abs(acf_p - autocorrelation(y, max_lag)).max())
