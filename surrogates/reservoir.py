"""Reservoir-computing (echo-state network) forecaster, Pathak et al. 2017/2018 style.

With ``u(t)`` the frame flattened to ``C * prod(space)`` coordinates and standardised
per field by the training split's mean and standard deviation (one scalar each):

- reservoir ``r(t+1) = tanh(A r(t) + W_in u(t) + b)``, ``r in R^D_r``, ``r = 0`` at the
  start of each trajectory; ``A`` sparse random (each entry nonzero with probability
  ``degree / D_r``, nonzero entries uniform in ``[-1, 1]``) rescaled to spectral
  radius ``rho`` (its largest-modulus eigenvalue by ARPACK, seeded); ``W_in`` one
  nonzero per row, uniform in ``[-sigma, sigma]``, node ``i`` reading coordinate
  ``floor(i n_in / D_r)`` (nodes split evenly); ``b`` uniform in ``[-bias, bias]``
  (``bias = 0``, no bias, by default, as in Pathak et al.);
- readout ``u(t+1) = W_out r~(t+1)`` with ``r~ = r`` except every second entry squared
  (``r~[1::2] = r[1::2]^2``), by ridge regression over the training states,
  ``W_out = Y R~^T (R~ R~^T + beta I)^{-1}`` (sums in float64, in chunks);
- training: every trajectory is driven by its true frames as one batch; the state after
  feeding frames ``0..washout-1`` predicts frame ``washout`` and is the first one used
  (the ``washout - 1`` states before it are dropped), at most ``max_states`` states
  in all (the first frames of every trajectory, or the first trajectories, that fit);
- forecast: ``n_context = washout``; :meth:`EchoStateNetwork.begin` starts ``r = 0`` and
  feeds all context frames but the last, so each ``step`` feeds the window's last
  frame (true or predicted) exactly once and returns the next one, as in training.

:func:`select_reservoir` fits a grid on the training split and keeps the combination
with the best median valid-prediction time (VRMSE >= 0.5, averaged over fields).

Parameters: ``size`` D_r, ``spectral_radius`` rho, ``input_scale`` sigma, ``ridge``
beta, ``washout``, ``degree`` (mean nonzeros per row of A), ``bias``, ``seed``. The
defaults come from 1-D KS (L = 22, N = 64, frames 1 time unit apart, ~21 frames per
Lyapunov time): valid VPT ~2.5 Lyapunov times at D_r = 4000, rho 0.3, sigma 0.5-1,
beta 0.03-0.1 from 50 000 states; smaller reservoirs, rho >= 0.5 or <= 0.15 and
sigma <= 0.1 or >= 1.5 do worse, the washout (5-50) hardly matters; the cost of a fit
is the ``n_states D_r^2`` of the Gram matrix (~45 s on one core at these settings).
"""

from __future__ import annotations

import copy
import itertools
import math
import time

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from pdesim.validation import require_int, require_real
from surrogates.metrics import first_crossing, vrmse
from surrogates.rollout import Forecaster, rollout

_CHUNK_ROWS = 4096  # states per float64 accumulation of R~ R~^T


def _check(name: str, value, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r}; allowed: {allowed}")


def _check_train(name: str, a, min_t: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    _check(f"{name} of shape", a.shape, a.ndim >= 4, "(n_traj, T, C, *space)")
    _check(f"{name} of shape", a.shape, a.shape[1] >= min_t, f"T >= {min_t} frames")
    _check(f"{name} of shape", a.shape, min(a.shape) > 0, "no empty axis")
    return a


class EchoStateNetwork(Forecaster):
    """An echo-state network (see the module); :meth:`fit` before forecasting."""

    name = "reservoir"

    def __init__(
        self,
        size: int = 4000,
        spectral_radius: float = 0.3,
        input_scale: float = 0.5,
        ridge: float = 0.1,
        washout: int = 10,
        degree: float = 3.0,
        bias: float = 0.0,
        seed: int = 0,
    ) -> None:
        size, washout = require_int("size", size, ge=1), require_int("washout", washout, ge=1)
        spectral_radius = require_real("spectral_radius", spectral_radius, gt=0.0)
        input_scale = require_real("input_scale", input_scale, gt=0.0)
        ridge = require_real("ridge", ridge, ge=0.0)
        degree = require_real("degree", degree, gt=0.0)
        bias = require_real("bias", bias, ge=0.0)
        seed = require_int("seed", seed, ge=0)
        self.size, self.spectral_radius, self.input_scale = size, spectral_radius, input_scale
        self.ridge, self.washout, self.n_context = ridge, washout, washout
        self.degree, self.bias, self.seed = degree, bias, int(seed)
        self.w_out: np.ndarray | None = None
        self.fit_info: dict = {}
        self._r: np.ndarray | None = None

    def describe(self) -> dict:
        """The hyperparameters (and, once fitted, the training set-up) for reports."""
        keys = ("size", "spectral_radius", "input_scale", "ridge", "washout", "degree")
        return {k: getattr(self, k) for k in (*keys, "bias", "seed")} | self.fit_info

    # -- the reservoir

    def _build(self, train: np.ndarray) -> None:
        self.frame_shape = train.shape[2:]
        self.mean = train.mean(axis=(0, 1, *range(3, train.ndim)))
        std = train.std(axis=(0, 1, *range(3, train.ndim)))
        self.std = np.where(std > 0, std, 1.0)
        n, n_in = self.size, math.prod(self.frame_shape)
        rng = np.random.default_rng(self.seed)
        a = scipy.sparse.random(
            n, n, density=min(1.0, self.degree / n), format="csr", random_state=rng,
            data_rvs=lambda k: rng.uniform(-1.0, 1.0, k),
        )  # fmt: skip
        self.in_weight = rng.uniform(-self.input_scale, self.input_scale, n)
        self.in_index = np.arange(n) * n_in // n
        self.in_bias = rng.uniform(-self.bias, self.bias, n) if self.bias > 0 else np.zeros(n)
        if n <= 64:
            radius = np.abs(np.linalg.eigvals(a.toarray())).max(initial=0.0)
        else:
            v0 = rng.uniform(-1.0, 1.0, n)
            lam = scipy.sparse.linalg.eigs(
                a, k=1, which="LM", v0=v0, tol=1e-8, maxiter=10 * n, return_eigenvectors=False
            )
            radius = float(np.abs(lam).max())
        # a nilpotent A (possible when tiny and sparse) has no radius to rescale
        self.adjacency = a * (self.spectral_radius / radius) if radius > 1e-12 else a

    def _inputs(self, frames: np.ndarray) -> np.ndarray:
        """Standardised flat inputs ``(B, n_in)`` of frames ``(B, C, *space)``."""
        shape = (1, -1, *(1,) * (frames.ndim - 2))
        return ((frames - self.mean.reshape(shape)) / self.std.reshape(shape)).reshape(
            len(frames), -1
        )

    def _advance(self, r: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``tanh(A r + W_in u + b)`` for states ``r (B, D_r)`` and inputs ``u (B, n_in)``;
        row by row without BLAS, so a trajectory's result never depends on its batch."""
        return np.tanh(
            (self.adjacency @ r.T).T + self.in_weight * u[:, self.in_index] + self.in_bias
        )

    @staticmethod
    def _features(r: np.ndarray) -> np.ndarray:
        f = r.copy()
        f[:, 1::2] **= 2
        return f

    def _accumulate(self, train: np.ndarray, max_states: int):
        """``(R~^T R~, R~^T Y, n_states, n_traj, frames)`` of the training states."""
        n_traj, n_t = train.shape[:2]
        w = self.washout
        per = min(n_t - w, max(1, max_states // n_traj))
        n_traj = min(n_traj, max_states // per)
        gram = np.zeros((self.size, self.size))
        cross = np.zeros((self.size, math.prod(self.frame_shape)))
        r = np.zeros((n_traj, self.size))
        feats, targets = [], []
        for t in range(w + per - 1):
            r = self._advance(r, self._inputs(train[:n_traj, t]))
            if t >= w - 1:
                feats.append(self._features(r))
                targets.append(self._inputs(train[:n_traj, t + 1]))
            if feats and (len(feats) * n_traj >= _CHUNK_ROWS or t == w + per - 2):
                f, y = np.concatenate(feats), np.concatenate(targets)
                gram = scipy.linalg.blas.dsyrk(1.0, f, beta=1.0, c=gram, trans=1, lower=0)
                cross += f.T @ y
                feats, targets = [], []
        gram = np.triu(gram) + np.triu(gram, 1).T
        return gram, cross, n_traj * per, n_traj, w + per

    def _solve(self, gram: np.ndarray, cross: np.ndarray, ridge: float) -> None:
        lhs = gram + ridge * np.eye(len(gram))
        try:
            self.w_out = scipy.linalg.solve(lhs, cross, assume_a="pos").T
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            self.w_out = scipy.linalg.lstsq(lhs, cross)[0].T  # singular without ridge
        self.ridge = ridge
        self.fit_info["ridge"] = ridge

    def fit(self, train: np.ndarray, max_states: int = 100_000) -> EchoStateNetwork:
        """Build the reservoir and fit the readout on ``train (n_traj, T, C, *space)``."""
        max_states = require_int("max_states", max_states, ge=1)
        train = _check_train("train", train, self.washout + 1)
        tick = time.perf_counter()
        self._prepare(train, max_states)
        self._solve(self._gram, self._cross, self.ridge)
        del self._gram, self._cross
        self.fit_info["fit_seconds"] = time.perf_counter() - tick
        return self

    def _prepare(self, train: np.ndarray, max_states: int) -> None:
        self._build(train)
        g, c, n_states, n_traj, n_frames = self._accumulate(train, max_states)
        self._gram, self._cross = g, c
        self.fit_info = {"n_states": n_states, "n_traj": n_traj, "frames_per_traj": n_frames}

    # -- the Forecaster protocol

    def begin(self, context: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
        """Drive the reservoir through the context's washout (constant fields unused)."""
        if self.w_out is None:
            raise RuntimeError("EchoStateNetwork.begin before fit")
        context = np.asarray(context, dtype=np.float64)
        _check(
            "context of shape", context.shape,
            context.ndim >= 3 and context.shape[1] >= self.washout
            and context.shape[2:] == self.frame_shape,
            f"(B, T >= {self.washout}, *{self.frame_shape})",
        )  # fmt: skip
        r = np.zeros((len(context), self.size))
        for t in range(context.shape[1] - self.washout, context.shape[1] - 1):
            r = self._advance(r, self._inputs(context[:, t]))
        self._r = r
        return context

    def step(self, window: np.ndarray) -> np.ndarray:
        if self._r is None or len(self._r) != len(window):
            raise RuntimeError("EchoStateNetwork.step without a begin for this batch")
        self._r = self._advance(self._r, self._inputs(np.asarray(window)[:, -1]))
        out = np.einsum("bd,nd->bn", self._features(self._r), self.w_out)  # no BLAS, as above
        out = out.reshape(len(window), *self.frame_shape)
        shape = (1, -1, *(1,) * (out.ndim - 2))
        return out * self.std.reshape(shape) + self.mean.reshape(shape)

    def keep(self, mask: np.ndarray) -> None:
        if self._r is not None:
            self._r = self._r[np.asarray(mask, dtype=bool)]


DEFAULT_GRID: dict[str, list] = {
    "size": [4000],
    "spectral_radius": [0.3, 0.5],
    "input_scale": [0.5],
    "washout": [10],
    "ridge": [0.03, 0.1, 0.3],
}


def _starts(n_traj: int, n_t: int, lo: int, horizon: int, n_starts: int) -> list[tuple[int, int]]:
    """``n_starts`` (trajectory, frame) starts, round robin over trajectories, spread evenly
    over the admissible frames ``lo .. n_t - horizon`` of each."""
    per = -(-n_starts // n_traj)
    pos = np.linspace(lo, n_t - horizon, per).round().astype(int)
    pairs = [(j, int(p)) for p in pos for j in range(n_traj)]
    return pairs[:n_starts]


def valid_times(model: Forecaster, valid: np.ndarray, starts, horizon: int) -> np.ndarray:
    """Valid-prediction times (frames) of ``model``'s rollouts from ``starts``: the first
    step whose field-averaged VRMSE reaches 0.5 (``horizon`` if none)."""
    w = model.n_context
    context = np.stack([valid[j, s - w : s] for j, s in starts])
    truth = np.stack([valid[j, s : s + horizon] for j, s in starts])
    r = rollout(model, context, horizon, batch_size=64)
    flat = (len(starts) * horizon, *truth.shape[2:])
    err = vrmse(r.frames.reshape(flat), truth.reshape(flat)).reshape(len(starts), horizon, -1)
    return first_crossing(err.mean(-1), 0.5)


def select_reservoir(
    train: np.ndarray,
    valid: np.ndarray,
    horizon: int,
    grid: dict[str, list] | None = None,
    seed: int = 0,
    max_states: int = 50_000,
    n_starts: int = 32,
) -> tuple[EchoStateNetwork, dict]:
    """Fit every combination of ``grid`` (parameter -> values; missing parameters take
    :data:`DEFAULT_GRID`'s, then the constructor's defaults) on ``train`` and score it by
    the median over ``n_starts`` valid starts of the valid-prediction time (frames),
    ties broken by the mean; starts spread evenly over the valid trajectories, each with
    the ``washout`` frames before it as context. One reservoir run serves every
    ``ridge``; ``max_states`` is lower than :meth:`EchoStateNetwork.fit`'s default so that
    the default grid (2 runs) takes ~2 minutes on one core for 1-D KS. Returns the best
    model and ``{"combinations": [...], "best": {...}, "wall_seconds", ...}``."""
    tick = time.perf_counter()
    grid = DEFAULT_GRID | (grid or {})
    allowed = ("size", "spectral_radius", "input_scale", "ridge", "washout", "degree", "bias")
    for k, v in grid.items():
        _check("grid key", k, k in allowed, f"one of {allowed}")
        _check(f"grid[{k!r}]", v, isinstance(v, list | tuple) and len(v) > 0, "a non-empty list")
    horizon = require_int("horizon", horizon, ge=1)
    n_starts = require_int("n_starts", n_starts, ge=1)
    max_states = require_int("max_states", max_states, ge=1)
    run_keys = [k for k in grid if k != "ridge"]
    runs = [
        dict(zip(run_keys, c, strict=True)) for c in itertools.product(*map(grid.get, run_keys))
    ]
    for p in runs:
        for ridge in grid["ridge"]:
            EchoStateNetwork(**p, ridge=ridge, seed=seed)  # every combination valid, or raise
    w_max = max(grid["washout"])
    train = _check_train("train", train, w_max + 1)
    valid = _check_train("valid", valid, w_max + horizon)
    same = valid.shape[2:] == train.shape[2:]
    _check("valid frame shape", valid.shape[2:], same, f"train's {train.shape[2:]}")
    starts = _starts(len(valid), valid.shape[1], w_max, horizon, n_starts)
    combos, best, best_key = [], None, None
    for p in runs:
        t0 = time.perf_counter()
        model = EchoStateNetwork(**p, seed=seed)
        model._prepare(train, max_states)
        prep = time.perf_counter() - t0
        for ridge in grid["ridge"]:
            t1 = time.perf_counter()
            model._solve(model._gram, model._cross, ridge)
            fit_s = prep + time.perf_counter() - t1
            t2 = time.perf_counter()
            vpt = valid_times(model, valid, starts, horizon)
            key = (float(np.median(vpt)), float(vpt.mean()))
            score_s = time.perf_counter() - t2
            combos.append(
                p
                | {"ridge": ridge, "median_vpt": key[0], "mean_vpt": key[1]}
                | {"fit_seconds": fit_s, "score_seconds": score_s}
            )
            if best_key is None or key > best_key:
                best_key, best = key, copy.copy(model)
                best.fit_info = model.fit_info | {"fit_seconds": fit_s}
                del best._gram, best._cross
        del model._gram, model._cross
    chosen = next(c for c in combos if (c["median_vpt"], c["mean_vpt"]) == best_key)
    report = {
        "combinations": combos,
        "best": chosen,
        "horizon": horizon,
        "n_starts": len(starts),
        "max_states": max_states,
        "seed": seed,
        "wall_seconds": time.perf_counter() - tick,
    }
    return best, report
