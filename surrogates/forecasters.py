"""Reference forecasters (not learned models): persistence, climatology, DMD and the
solver's twin, each a :class:`surrogates.rollout.Forecaster`.

- persistence: ``u_{t+1} = u_t`` (the last context frame forever);
- climatology: the training data's time- and trajectory-mean field;
- DMD: ``x_{t+1} = m + U (A U^T (x_t - m) + b)`` with ``m`` the training mean and
  ``U`` the ``rank`` leading POD modes of the training snapshots, ``A`` and ``b`` the
  least-squares one-step map of their coefficients (exact DMD's reduced operator,
  with an offset so that a linear system is recovered despite the mean subtraction);
- twin: the true solver (:func:`pdesim.simulate`, the dataset's system, parameters,
  time step and method, from its description's provenance) from the context's last
  frame plus Gaussian noise of ``noise`` times each field's training standard
  deviation, its frames stored as the dataset stores them (``System.dataset_frame``,
  e.g. 2-D KS without its mean): the intrinsic predictability limit of the data.
"""

from __future__ import annotations

import numpy as np

from pdesim import simulate
from surrogates.data import DatasetInfo, dataset_system
from surrogates.rollout import Forecaster


class Persistence(Forecaster):
    name = "persistence"

    def step(self, window: np.ndarray) -> np.ndarray:
        return window[:, -1].copy()


class Climatology(Forecaster):
    name = "climatology"

    def __init__(self, train: np.ndarray) -> None:
        """``train``: training trajectories ``(n_traj, T, C, *space)``."""
        self.mean = np.asarray(train, dtype=np.float64).mean((0, 1))

    def step(self, window: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.mean, window[:, -1].shape).copy()


class DMD(Forecaster):
    name = "dmd"

    def __init__(self, train: np.ndarray, rank: int = 16) -> None:
        train = np.asarray(train, dtype=np.float64)
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank={rank!r}; allowed: an integer >= 1")
        self.shape = train.shape[2:]
        x = train.reshape(*train.shape[:2], -1)
        self.mean = x.reshape(-1, x.shape[-1]).mean(0)
        _, _, vt = np.linalg.svd(x.reshape(-1, x.shape[-1]) - self.mean, full_matrices=False)
        self.modes = vt[: min(rank, len(vt))]
        a = (x - self.mean) @ self.modes.T
        r = len(self.modes)
        past, future = a[:, :-1].reshape(-1, r), a[:, 1:].reshape(-1, r)
        past = np.concatenate([past, np.ones((len(past), 1))], 1)
        self.operator = np.linalg.lstsq(past, future, rcond=None)[0]  # rows: A^T then b

    def step(self, window: np.ndarray) -> np.ndarray:
        a = (window[:, -1].reshape(len(window), -1) - self.mean) @ self.modes.T
        nxt = self.mean + (a @ self.operator[:-1] + self.operator[-1]) @ self.modes
        return nxt.reshape(len(window), *self.shape)


class Twin(Forecaster):
    name = "twin"

    def __init__(
        self, info: DatasetInfo, field_std: np.ndarray, noise: float = 1e-6, seed: int = 0
    ) -> None:
        """The solver of the pdesim dataset split ``info`` (:func:`surrogates.data.dataset_system`:
        ValueError for files not written by pdesim or a split of several settings)."""
        self.system = dataset_system(info)
        provenance = info.provenance
        self.dt = provenance["dt"]
        self.method = provenance["method"]
        self.save_every = provenance["save_every"]
        self.noise = noise * np.asarray(field_std, dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def begin(self, context: np.ndarray, constants: np.ndarray) -> np.ndarray:
        """The context with the noise kicked into its last frame."""
        kick = self.noise.reshape(1, -1, *(1,) * (context.ndim - 3))
        out = context.copy()
        out[:, -1] += kick * self.rng.standard_normal(context[:, -1].shape)
        return out

    def run(self, initial: np.ndarray, n_steps: int) -> np.ndarray:
        """``n_steps`` frames ``(B, n_steps, C, *space)`` of one solver run from ``initial``
        ``(B, C, *space)`` (no noise): the solver's own speed, without per-step calls."""
        run = simulate(
            self.system,
            n_steps * self.save_every,
            self.dt,
            self.save_every,
            n_traj=len(initial),
            initial=initial,
            t_warmup=self.save_every,
            method=self.method,
        )
        frames = np.stack([run.fields[f] for f in self.system.field_names], 2)
        return np.stack([self.system.dataset_frame(frames[:, k])[0] for k in range(n_steps)], 1)

    def step(self, window: np.ndarray) -> np.ndarray:
        run = simulate(
            self.system,
            self.save_every,
            self.dt,
            self.save_every,
            n_traj=len(window),
            initial=window[:, -1],
            method=self.method,
        )
        frame = np.stack([run.fields[f][:, -1] for f in self.system.field_names], 1)
        return self.system.dataset_frame(frame)[0]
