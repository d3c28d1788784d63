"""Lyapunov spectra and the Kaplan-Yorke dimension.

Lyapunov exponents are computed with the Benettin / QR method on the tangent
dynamics of the *discrete* map: the base state and ``m`` tangent vectors ``v_i`` are
advanced together by the same ETDRK4 step applied to the augmented system

    u_t = L u + N(u),        v_t = L v + N'(u) v,

which is exactly the derivative of the ETDRK4 map (its stages are linear in the
nonlinear evaluations). Every ``qr_every`` steps the tangent vectors are
re-orthonormalised in the grid's L2 inner product and ``log |R_ii|`` accumulated;
``lambda_i = sum log |R_ii| / T``. For systems whose spatial mean is neutral
(``mean_is_neutral``) the tangent vectors are kept mean-free, so the spectrum is that
of the dynamics modulo the mean (as usual for Kuramoto-Sivashinsky).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pdesim.integrators import ETDRK4
from pdesim.systems import SYSTEMS
from pdesim.systems.base import SpectralSystem, band_limited_noise
from pdesim.validation import require_int, require_multiple, require_real


@dataclass(frozen=True)
class LyapunovSpectrum:
    """Leading Lyapunov exponents (descending, per unit time) and derived numbers."""

    exponents: np.ndarray
    kaplan_yorke: float
    t_average: float
    dt: float

    @property
    def leading(self) -> float:
        return float(self.exponents[0])


def kaplan_yorke_dimension(exponents: np.ndarray) -> float:
    """``D = j + (l_1 + ... + l_j) / |l_{j+1}|`` with ``j`` the last index whose partial
    sum is >= 0; 0 if ``l_1 < 0``; NaN if all partial sums are >= 0 (more exponents needed).
    """
    lam = np.sort(np.asarray(exponents, dtype=float))[::-1]
    sums = np.cumsum(lam)
    if lam.size == 0 or lam[0] < 0:
        return 0.0
    nonneg = np.nonzero(sums >= 0)[0]
    j = int(nonneg[-1]) + 1
    if j == lam.size:
        return float("nan")
    return j + sums[j - 1] / abs(lam[j])


class _TangentSystem:
    """The augmented nonlinearity ``(N(u), N'(u) v_1, ..., N'(u) v_m)`` on a stacked batch."""

    def __init__(self, system: SpectralSystem) -> None:
        self.system = system

    def __call__(self, state: np.ndarray, t: float, out: np.ndarray) -> None:
        self.system.nonlinear(state[:1], t, out[:1])
        self.system.nonlinear_tangent(state[:1], state[1:], out[1:])


def lyapunov_spectrum(
    system: SpectralSystem,
    n_exponents: int = 1,
    t_end: float = 2000.0,
    dt: float = 0.25,
    seed: int = 0,
    *,
    t_warmup: float = 200.0,
    qr_every: int = 4,
    initial: str | None = None,
) -> LyapunovSpectrum:
    """The ``n_exponents`` leading Lyapunov exponents of a spectral system.

    Parameters
    ----------
    system: a spectral system with tangent dynamics (``has_tangent_dynamics``).
    n_exponents: how many exponents (>= 1).
    t_end: averaging time after the warm-up (a multiple of ``qr_every * dt``).
    dt: ETDRK4 step.
    seed: seeds the initial state and the initial tangent vectors.
    t_warmup: time the base trajectory runs first to reach the attractor.
    qr_every: steps between re-orthonormalisations.
    initial: initial-condition family (default: the system's default).
    """
    if not isinstance(system, SpectralSystem):
        raise TypeError(
            f"parameter 'system' must be a spectral system, got {type(system).__name__}"
        )
    if not system.has_tangent_dynamics:
        with_tangent = sorted(name for name, cls in SYSTEMS.items() if cls.has_tangent_dynamics)
        raise ValueError(
            f"parameter 'system' = {system.name!r} has no tangent dynamics, so no Lyapunov "
            f"exponents; systems with them: {', '.join(with_tangent)}"
        )
    n_exponents = require_int("n_exponents", n_exponents, ge=1)
    dt = require_real("dt", dt, gt=0.0)
    t_end = require_real("t_end", t_end, gt=0.0)
    t_warmup = require_real("t_warmup", t_warmup, ge=0.0)
    qr_every = require_int("qr_every", qr_every, ge=1)
    n_blocks = require_multiple("t_end", t_end, "qr_every * dt", qr_every * dt)
    warmup_steps = round(t_warmup / dt)

    grid = system.grid
    transform = system.transform
    n_fields = system.n_fields
    rng_state, rng_tangent = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    u0 = system.initial_condition(initial or system.initial_conditions[0], rng_state)
    state = transform.empty_spectral((1 + n_exponents, n_fields))
    state[:1] = transform.forward(u0[None])

    base = system.make_stepper(dt)
    for step in range(warmup_steps):
        base.step(state[:1], step * dt)
    if not np.isfinite(state[:1]).all():
        raise ValueError(f"the base trajectory diverged during the warm-up (dt={dt:g})")

    tangent = np.stack(
        [
            np.stack(
                [
                    band_limited_noise(grid, rng_tangent, grid.points[0] // 3 - 1, 1.0)
                    for _ in range(n_fields)
                ]
            )
            for _ in range(n_exponents)
        ]
    )
    vectors = _orthonormalise(tangent)[0]
    state[1:] = transform.forward(vectors)

    augmented = ETDRK4(
        system.linear_operator(),
        _TangentSystem(system),
        dt,
        empty=transform.backend.empty,
    )
    log_growth = np.zeros(n_exponents)
    physical = transform.empty_physical((n_exponents, n_fields))
    t = warmup_steps * dt
    for _ in range(n_blocks):
        for _ in range(qr_every):
            augmented.step(state, t)
            t += dt
        transform.inverse(state[1:], out=physical)
        if system.mean_is_neutral:
            physical -= grid.mean(physical).reshape(*physical.shape[:2], *([1] * grid.ndim))
        vectors, growth = _orthonormalise(physical)
        if not np.isfinite(growth).all():
            raise ValueError(f"the tangent dynamics diverged at t = {t:g} (dt={dt:g})")
        log_growth += np.log(growth)
        state[1:] = transform.forward(vectors)
    exponents = log_growth / t_end
    return LyapunovSpectrum(
        exponents=exponents,
        kaplan_yorke=kaplan_yorke_dimension(exponents),
        t_average=t_end,
        dt=dt,
    )


def _orthonormalise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """QR of ``m`` stacked fields; returns the orthonormal fields and ``|R_ii|``."""
    m = vectors.shape[0]
    q, r = np.linalg.qr(vectors.reshape(m, -1).T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return (q * signs).T.reshape(vectors.shape), np.abs(np.diag(r))
