"""Tests for chaos on a scalar time series: the 0-1 test and sample entropy.

**0-1 test** (Gottwald & Melbourne, Proc. R. Soc. A 460 (2004) 603; correlation
method of SIAM J. Appl. Dyn. Syst. 8 (2009) 129). For a series ``phi_j`` (mean
removed), ``j = 1..N``, and a frequency ``c`` in ``(pi/5, 4 pi/5)``::

    p_c(n) = sum_{j<=n} phi_j cos(j c),      q_c(n) = sum_{j<=n} phi_j sin(j c)
    M_c(n) = < (p_c(j+n) - p_c(j))^2 + (q_c(j+n) - q_c(j))^2 >_j,   n <= N / 10
    K_c    = corr(n, M_c(n))

(with the mean removed the oscillatory correction ``(E phi)^2 (1 - cos nc)/(1 - cos c)``
vanishes). ``K`` is the median of ``K_c`` over random ``c``: ``K ~ 1`` for chaos
(``p, q`` diffuse), ``K ~ 0`` for regular dynamics (``p, q`` bounded).

**Sample entropy** (Richman & Moorman, Am. J. Physiol. 278 (2000) H2039):
``SampEn(m, r) = -ln(A / B)`` with ``B`` the number of pairs of templates of length
``m`` within Chebyshev distance ``r`` (self-matches excluded, the first ``N - m``
templates) and ``A`` the same for length ``m + 1``. For i.i.d. Gaussian noise with
``r = 0.2 std`` it is ``-ln erf(0.1) = 2.185``.
"""

from __future__ import annotations

import numpy as np

from pdesim.validation import require_int, require_real


def _series(name: str, values, min_length: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size < min_length:
        raise ValueError(
            f"parameter {name!r} must be a 1-D series of at least {min_length} values, "
            f"got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"parameter {name!r} contains non-finite values")
    return arr


def zero_one_test(series, n_c: int = 100, seed: int = 0, n_cut: int | None = None) -> float:
    """Median ``K`` of the 0-1 test (correlation method) over ``n_c`` random ``c``.

    ``series``: at least 100 samples (use N >= 2000; subsample flows to avoid
    oversampling). ``n_cut``: largest lag (default ``N // 10``). ``seed`` seeds the
    draw of the frequencies ``c`` from ``U(pi/5, 4 pi/5)``.
    """
    phi = _series("series", series, 100)
    phi = phi - phi.mean()
    n = phi.size
    n_c = require_int("n_c", n_c, ge=1)
    n_cut = require_int("n_cut", n_cut if n_cut is not None else n // 10, ge=2, le=n // 2)
    if not np.any(phi):
        raise ValueError("parameter 'series' is constant: the 0-1 test is undefined")
    c = np.random.default_rng(require_int("seed", seed, ge=0)).uniform(
        np.pi / 5, 4 * np.pi / 5, n_c
    )
    j = np.arange(1, n + 1)
    z = np.cumsum(phi * np.exp(1j * np.outer(c, j)), axis=1)  # p + i q, shape (n_c, N)
    lags = np.arange(1, n_cut + 1)
    # M(n) = [sum_{j<N-n} |z_{j+n}|^2 + |z_j|^2 - 2 Re z_{j+n} conj(z_j)] / (N - n), with
    # the lagged products from one FFT autocorrelation per c.
    power = np.abs(z) ** 2
    csum = np.concatenate([np.zeros((n_c, 1)), np.cumsum(power, axis=1)], axis=1)
    head = csum[:, n - lags]  # sum_{j < N-n} |z_j|^2
    tail = csum[:, -1:] - csum[:, lags]  # sum_{j >= n} |z_j|^2
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.fft(z, size, axis=1)
    auto = np.fft.ifft(np.abs(spec) ** 2, axis=1)[:, lags].real  # sum_j Re z_{j+n} conj z_j
    m = (head + tail - 2 * auto) / (n - lags)
    lag = lags - lags.mean()
    dev = m - m.mean(axis=1, keepdims=True)
    k_c = (dev @ lag) / np.sqrt((dev**2).sum(axis=1) * (lag**2).sum())
    return float(np.median(k_c))


def sample_entropy(series, m: int = 2, r: float = 0.2) -> float:
    """``SampEn(m, r * std)`` of a series (``r`` relative to the standard deviation).

    Raises ValueError when no template pair of length ``m + 1`` matches (the entropy
    is then undefined, not infinite by convention).
    """
    x = _series("series", series, 10)
    m = require_int("m", m, ge=1, le=x.size // 2)
    tol = require_real("r", r, gt=0.0) * x.std()
    n_templates = x.size - m
    count_m = count_m1 = 0
    for lag in range(1, n_templates):
        diff = np.abs(x[lag:] - x[:-lag])  # |x_{i+lag} - x_i|, i = 0 .. N - lag - 1
        pairs = n_templates - lag  # template pairs (i, i + lag) among the first N - m
        dist = diff[:pairs].copy()
        for offset in range(1, m):
            np.maximum(dist, diff[offset : offset + pairs], out=dist)
        within = dist <= tol
        count_m += int(within.sum())
        count_m1 += int((within & (diff[m : m + pairs] <= tol)).sum())
    if count_m1 == 0:
        raise ValueError(
            f"sample entropy is undefined: no matching templates of length {m + 1} within "
            f"r = {r:g} std (series of {x.size} values)"
        )
    return float(-np.log(count_m1 / count_m))
