"""Grids, wavenumbers, dealiasing and the FFT/DCT backend of every spectral solver.

A :class:`Grid` is a box ``[x0, x0 + L)`` per axis with ``N`` points per axis and one
boundary kind for the whole box:

* ``"periodic"``: nodes ``x_j = x0 + j L / N``; fields are expanded in
  ``exp(i k x)`` with ``k = 2 pi m / L`` and stored in the real-FFT layout
  (last axis ``N // 2 + 1`` modes, the others ``N``).
* ``"neumann"``: cell-centred nodes ``x_j = x0 + (j + 1/2) L / N``; fields are
  expanded in ``cos(k x)`` with ``k = pi p / L`` (DCT-II forward, DCT-III
  inverse), so every mode satisfies ``du/dn = 0`` on the walls.

Transforms act on the last ``grid.ndim`` axes of batched arrays shaped
``(batch, field, *space)``. The forward transform is unnormalised and the
inverse carries ``1/N`` (numpy's convention) for both kinds.

Backends: pyfftw (FFTW plans built once per shape and kind with the planner
effort of ``PDESIM_FFT_PLANNER`` -- ``measure`` by default -- and reused; wisdom
kept in a per-user cache keyed by machine and FFTW version (``PDESIM_FFT_WISDOM=off``
neither loads nor saves it); planning bounded by
``PDESIM_FFT_PLAN_SECONDS``; ``PDESIM_FFT_THREADS`` threads, 1 by default) and
``scipy.fft`` as the fallback when pyfftw is missing or ``PDESIM_FFT=scipy``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.fft

from pdesim.files import atomic_write_text
from pdesim.validation import require_choice, require_int, require_real

log = logging.getLogger(__name__)

BOUNDARIES = ("periodic", "neumann")
DEALIAS_RULES = ("2/3", "1/2", "none")
_KINDS = ("rfft", "irfft", "dct", "idct")
#: Per-axis real-to-real kinds of ``execute_r2r``: DCT-II, DCT-III, DST-II, DST-III.
R2R_KINDS = ("dct2", "dct3", "dst2", "dst3")
_R2R_INV = ("dct3", "dst3")
_SCIPY_R2R = {
    "dct2": scipy.fft.dct,
    "dct3": scipy.fft.idct,
    "dst2": scipy.fft.dst,
    "dst3": scipy.fft.idst,
}
_FFTW_R2R = {
    "dct2": "FFTW_REDFT10",
    "dct3": "FFTW_REDFT01",
    "dst2": "FFTW_RODFT10",
    "dst3": "FFTW_RODFT01",
}


@dataclass(frozen=True)
class Grid:
    """A rectangular box of ``ndim`` = 1, 2 or 3 axes with one boundary kind.

    Parameters
    ----------
    lengths: box length ``L`` per axis (> 0).
    points: number of points ``N`` per axis (even, >= 4).
    boundary: ``"periodic"`` (Fourier) or ``"neumann"`` (cosine, no-flux walls).
    origin: coordinate of the box's lower corner per axis (default 0).
    """

    lengths: tuple[float, ...]
    points: tuple[int, ...]
    boundary: str = "periodic"
    origin: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        lengths = tuple(self.lengths) if np.iterable(self.lengths) else (self.lengths,)
        points = tuple(self.points) if np.iterable(self.points) else (self.points,)
        if not 1 <= len(lengths) <= 3 or len(points) != len(lengths):
            raise ValueError(
                "a Grid needs 1 to 3 axes with one length and one point count per axis, "
                f"got lengths={lengths!r} and points={points!r}"
            )
        lengths = tuple(require_real("L", v, gt=0.0) for v in lengths)
        points = tuple(require_int("N", v, ge=4, even=True) for v in points)
        require_choice("boundary", self.boundary, BOUNDARIES)
        origin = (0.0,) * len(lengths) if self.origin is None else tuple(self.origin)
        if len(origin) != len(lengths):
            raise ValueError(f"origin needs {len(lengths)} values, got {origin!r}")
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "origin", tuple(float(v) for v in origin))

    @property
    def ndim(self) -> int:
        return len(self.points)

    @property
    def periodic(self) -> bool:
        return self.boundary == "periodic"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of a field in physical space."""
        return self.points

    @property
    def spectral_shape(self) -> tuple[int, ...]:
        """Shape of a field's coefficients (real-FFT layout when periodic)."""
        if self.periodic:
            return (*self.points[:-1], self.points[-1] // 2 + 1)
        return self.points

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(length / n for length, n in zip(self.lengths, self.points, strict=True))

    @property
    def size(self) -> int:
        return int(np.prod(self.points))

    @cached_property
    def coords(self) -> tuple[np.ndarray, ...]:
        """Node coordinates per axis (cell centres for Neumann grids)."""
        shift = 0.0 if self.periodic else 0.5
        return tuple(
            x0 + (np.arange(n) + shift) * h
            for x0, n, h in zip(self.origin, self.points, self.spacing, strict=True)
        )

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Coordinate arrays of the full grid (``indexing='ij'``)."""
        return tuple(np.meshgrid(*self.coords, indexing="ij"))

    @cached_property
    def mode_indices(self) -> tuple[np.ndarray, ...]:
        """Integer mode number per axis, shaped to broadcast over the spectral shape."""
        out = []
        for axis, n in enumerate(self.points):
            if not self.periodic:
                m = np.arange(n)
            elif axis == self.ndim - 1:
                m = np.arange(n // 2 + 1)
            else:
                m = np.fft.fftfreq(n, 1.0 / n).astype(int)
            shape = [1] * self.ndim
            shape[axis] = m.size
            out.append(m.reshape(shape))
        return tuple(out)

    @cached_property
    def wavenumbers(self) -> tuple[np.ndarray, ...]:
        """Wavenumber per axis (``2 pi m / L`` periodic, ``pi p / L`` Neumann), broadcastable."""
        factor = 2.0 * np.pi if self.periodic else np.pi
        return tuple(
            factor * m / length for m, length in zip(self.mode_indices, self.lengths, strict=True)
        )

    @cached_property
    def k_squared(self) -> np.ndarray:
        """``|k|^2`` over the spectral shape (minus the Laplacian's symbol)."""
        return sum(np.broadcast_to(k**2, self.spectral_shape) for k in self.wavenumbers)

    def derivative(self, axis: int, order: int = 1) -> np.ndarray:
        """Multiplier ``(i k_axis)^order`` of a periodic grid, broadcastable.

        For odd orders the Nyquist mode is zeroed (its derivative is not real).
        """
        if not self.periodic and order % 2:
            raise ValueError(
                "odd derivatives of a cosine series are sine series; "
                "a Neumann grid has no diagonal multiplier for them"
            )
        k = self.wavenumbers[axis]
        if not self.periodic:
            return (-1.0) ** (order // 2) * k**order
        multiplier = (1j * k) ** order
        if order % 2:
            nyquist = self.points[axis] // 2
            multiplier = np.where(np.abs(self.mode_indices[axis]) == nyquist, 0.0, multiplier)
        return multiplier

    def dealias_mask(self, rule: str = "2/3") -> np.ndarray:
        """Boolean mask over the spectral shape: True where a mode is kept.

        ``"2/3"`` keeps ``|m| < N/3`` on every axis (exact for quadratic products),
        ``"1/2"`` keeps ``|m| < N/4`` (exact for cubic products), ``"none"`` keeps all.
        On a Neumann grid (an even extension to ``2N`` points) the cuts are
        ``p < 2N/3`` and ``p < N/2``.
        """
        require_choice("dealias", rule, DEALIAS_RULES)
        mask = np.ones(self.spectral_shape, dtype=bool)
        if rule == "none":
            return mask
        fraction = 1.0 / 3.0 if rule == "2/3" else 0.25
        for m, n in zip(self.mode_indices, self.points, strict=True):
            extent = n if self.periodic else 2 * n
            mask &= np.abs(m) < fraction * extent
        return mask

    def integrate(self, u: np.ndarray) -> np.ndarray:
        """Integral over the box of the last ``ndim`` axes (spectrally exact rectangle rule)."""
        axes = tuple(range(-self.ndim, 0))
        return u.sum(axis=axes) * float(np.prod(self.spacing))

    def mean(self, u: np.ndarray) -> np.ndarray:
        return u.mean(axis=tuple(range(-self.ndim, 0)))


# --------------------------------------------------------------------------- backends


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an integer >= 1, got {raw!r}"
        ) from None
    return require_int(name, value, ge=1)


def cache_dir() -> Path:
    """Per-user cache folder: ``$PDESIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/pdesim``."""
    explicit = os.environ.get("PDESIM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pdesim"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _io_shapes(kind: str, shape: tuple[int, ...], ndim: int) -> tuple[tuple, tuple, type, type]:
    """Input/output shapes and dtypes of a transform keyed by its physical shape."""
    if kind in ("dct", "idct"):
        return shape, shape, np.float64, np.float64
    half = (*shape[:-1], shape[-1] // 2 + 1)
    if kind == "rfft":
        return shape, half, np.float64, np.complex128
    return half, shape, np.complex128, np.float64


class ScipyBackend:
    """``scipy.fft`` (pocketfft) transforms; scipy keeps its own plan cache."""

    name = "scipy"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def empty(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def execute(
        self,
        kind: str,
        src: np.ndarray,
        dst: np.ndarray,
        ndim: int,
        normalise: bool = True,
        band: int | None = None,
    ) -> None:
        """Unnormalised forward, inverse normalised unless told not to; ``src`` is kept.
        ``band`` is accepted and ignored: pocketfft has no pruned transforms, and the full
        transform satisfies what a band promises."""
        axes = tuple(range(-ndim, 0))
        w = self.threads
        norm = "backward" if normalise else "forward"  # "forward": the inverse is unscaled
        if kind == "rfft":
            dst[...] = scipy.fft.rfftn(src, axes=axes, workers=w)
        elif kind == "irfft":
            dst[...] = scipy.fft.irfftn(src, s=dst.shape[-ndim:], axes=axes, workers=w, norm=norm)
        elif kind == "dct":
            dst[...] = scipy.fft.dctn(src, type=2, axes=axes, workers=w)
        else:
            dst[...] = scipy.fft.idctn(src, type=2, axes=axes, workers=w, norm=norm)

    def execute_r2r(self, kinds: tuple[str, ...], src: np.ndarray, dst: np.ndarray) -> None:
        """Real-to-real transform with one kind per last axis (see :data:`R2R_KINDS`).

        Forward kinds (DCT-II, DST-II) are unnormalised; inverse kinds (DCT-III, DST-III)
        carry ``1/(2N)`` per axis. ``src`` is left intact.
        """
        out = src
        for offset, kind in enumerate(kinds):
            axis = offset - len(kinds)
            out = _SCIPY_R2R[kind](out, type=2, axis=axis, workers=self.threads)
        dst[...] = out


class PyFFTWBackend:
    """FFTW plans via pyfftw, built once per (kind, shape) and reused with bound arrays.

    The inverse real transform may overwrite its input (``FFTW_DESTROY_INPUT``);
    :class:`SpectralTransform` copies first unless told the input is scratch.
    """

    name = "pyfftw"

    def __init__(
        self,
        threads: int = 1,
        planner: str = "measure",
        plan_seconds: float = 10.0,
        wisdom: bool = True,
    ) -> None:
        import pyfftw

        self._pyfftw = pyfftw
        self.threads = threads
        self.planner = "FFTW_" + planner.upper()
        self.plan_seconds = plan_seconds
        self._plans: dict[tuple, tuple] = {}
        self.wisdom = wisdom
        self.wisdom_path = cache_dir() / (
            f"fftw-{pyfftw.fftw_version}-{platform.machine()}-"
            f"{hashlib.sha1(_cpu_model().encode()).hexdigest()[:10]}.json"
        )
        if wisdom:
            self._load_wisdom()

    def _load_wisdom(self) -> None:
        try:
            data = json.loads(self.wisdom_path.read_text(encoding="utf-8"))
            self._pyfftw.import_wisdom(tuple(s.encode("ascii") for s in data["wisdom"]))
        except (OSError, ValueError, KeyError, TypeError):
            return

    def _save_wisdom(self) -> None:
        wisdom = [w.decode("ascii") for w in self._pyfftw.export_wisdom()]
        try:
            atomic_write_text(self.wisdom_path, json.dumps({"wisdom": wisdom}))
        except OSError as exc:  # a read-only home must not stop a simulation
            log.warning("could not save FFTW wisdom to %s: %s", self.wisdom_path, exc)

    def empty(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return self._pyfftw.empty_aligned(shape, dtype=dtype)

    def _fftw(self, a: np.ndarray, b: np.ndarray, axes: tuple[int, ...], **extra: object) -> object:
        """A ``pyfftw.FFTW`` plan from ``a`` to ``b`` with this backend's planner settings."""
        return self._pyfftw.FFTW(
            a,
            b,
            axes=axes,
            flags=(self.planner, "FFTW_DESTROY_INPUT"),
            threads=self.threads,
            planning_timelimit=self.plan_seconds,
            **extra,
        )

    def _plan(self, kind: str, physical_shape: tuple[int, ...], ndim: int) -> tuple:
        key = (kind, physical_shape, ndim)
        plan = self._plans.get(key)
        if plan is None:
            in_shape, out_shape, in_dtype, out_dtype = _io_shapes(kind, physical_shape, ndim)
            a = self.empty(in_shape, in_dtype)
            b = self.empty(out_shape, out_dtype)
            axes = tuple(range(-ndim, 0))
            extra = {}
            if kind in ("dct", "idct"):
                extra["direction"] = ["FFTW_REDFT10" if kind == "dct" else "FFTW_REDFT01"] * ndim
            elif kind == "irfft":
                extra["direction"] = "FFTW_BACKWARD"
            fftw = self._fftw(a, b, axes, **extra)
            if kind == "irfft":
                scale = 1.0 / math.prod(physical_shape[-ndim:])
            elif kind == "idct":
                scale = 1.0 / math.prod(2 * n for n in physical_shape[-ndim:])
            else:
                scale = None
            plan = (fftw, a, b, scale)
            self._plans[key] = plan
            if self.wisdom:
                self._save_wisdom()
        return plan

    def _pruned_plan(
        self, kind: str, physical_shape: tuple[int, ...], ndim: int, band: int
    ) -> tuple:
        """Plans of a real transform whose leading axes are transformed for the first
        ``band`` columns of the last spectral axis only: in-place complex transforms of
        those columns over the leading axes, and real transforms along the last axis."""
        key = (kind, physical_shape, ndim, band)
        plan = self._plans.get(key)
        if plan is None:
            in_shape, out_shape, in_dtype, out_dtype = _io_shapes(kind, physical_shape, ndim)
            a = self.empty(in_shape, in_dtype)
            b = self.empty(out_shape, out_dtype)
            inverse = kind == "irfft"
            columns = (a if inverse else b)[..., :band]
            direction = {"direction": "FFTW_BACKWARD"} if inverse else {}
            plan = self._plans[key] = (
                self._fftw(columns, columns, tuple(range(-ndim, -1)), **direction),
                self._fftw(a, b, (-1,), **direction),
                a,
                b,
                1.0 / math.prod(physical_shape[-ndim:]) if inverse else None,
            )
            if self.wisdom:
                self._save_wisdom()
        return plan

    def execute(
        self,
        kind: str,
        src: np.ndarray,
        dst: np.ndarray,
        ndim: int,
        normalise: bool = True,
        band: int | None = None,
    ) -> None:
        """Unnormalised forward, inverse normalised unless told not to; inverse kinds may
        destroy ``src``. With ``band`` (real transforms of 2+ axes) the leading axes are
        transformed for the first ``band`` columns of the last spectral axis only (see
        :meth:`SpectralTransform.forward`)."""
        physical = dst.shape if kind in ("irfft", "idct") else src.shape
        if band is None:
            fftw, a, b, scale = self._plan(kind, physical, ndim)
            _run_plan(fftw, a, b, scale if normalise else None, src, dst)
            return
        columns, rows, a, b, scale = self._pruned_plan(kind, physical, ndim, band)
        inverse = kind == "irfft"

        def run(x: np.ndarray, y: np.ndarray) -> None:
            view = (x if inverse else y)[..., :band]
            columns.update_arrays(view, view)  # both checked before either runs
            rows.update_arrays(x, y)
            for plan in (columns, rows) if inverse else (rows, columns):
                plan.execute()

        try:
            run(src, dst)
        except ValueError:  # misaligned or strided arrays: go through the plans' own buffers
            a[...] = src
            run(a, b)
            dst[...] = b
        if scale is not None and normalise:
            np.multiply(dst, scale, out=dst)

    def execute_r2r(self, kinds: tuple[str, ...], src: np.ndarray, dst: np.ndarray) -> None:
        """Real-to-real transform with one kind per last axis (see :data:`R2R_KINDS`).

        FFTW's REDFT10/REDFT01/RODFT10/RODFT01 are DCT-II/DCT-III/DST-II/DST-III;
        inverse kinds are scaled by ``1/(2N)`` per axis. ``src`` may be destroyed.
        """
        key = ("r2r", tuple(kinds), src.shape)
        plan = self._plans.get(key)
        if plan is None:
            a = self.empty(src.shape, np.float64)
            b = self.empty(src.shape, np.float64)
            fftw = self._fftw(
                a,
                b,
                tuple(range(-len(kinds), 0)),
                direction=[_FFTW_R2R[kind] for kind in kinds],
            )
            inverse = [
                2 * n
                for kind, n in zip(kinds, src.shape[-len(kinds) :], strict=True)
                if kind in _R2R_INV
            ]
            scale = 1.0 / math.prod(inverse) if inverse else None
            plan = self._plans[key] = (fftw, a, b, scale)
            if self.wisdom:
                self._save_wisdom()
        _run_plan(*plan, src, dst)


def _run_plan(
    fftw: object,
    a: np.ndarray,
    b: np.ndarray,
    scale: float | None,
    src: np.ndarray,
    dst: np.ndarray,
) -> None:
    """Execute an FFTW plan on ``src`` into ``dst``, then apply the inverse's ``scale``."""
    try:
        fftw.update_arrays(src, dst)
        fftw.execute()
    except ValueError:  # misaligned or strided arrays: go through the plan's own buffers
        a[...] = src
        fftw.update_arrays(a, b)
        fftw.execute()
        dst[...] = b
    if scale is not None:
        np.multiply(dst, scale, out=dst)


_BACKENDS: dict[tuple, object] = {}


def get_backend(name: str | None = None) -> ScipyBackend | PyFFTWBackend:
    """The backend named ``name`` or ``$PDESIM_FFT`` (``pyfftw`` | ``scipy``); pyfftw if found."""
    requested = name or os.environ.get("PDESIM_FFT") or "auto"
    require_choice("PDESIM_FFT", requested, ("auto", "pyfftw", "scipy"))
    threads = _env_int("PDESIM_FFT_THREADS", 1)
    planner = os.environ.get("PDESIM_FFT_PLANNER", "measure").lower()
    require_choice("PDESIM_FFT_PLANNER", planner, ("estimate", "measure", "patient"))
    seconds = float(os.environ.get("PDESIM_FFT_PLAN_SECONDS", "10"))
    wisdom = (
        require_choice(
            "PDESIM_FFT_WISDOM", os.environ.get("PDESIM_FFT_WISDOM", "on"), ("on", "off")
        )
        == "on"
    )
    if requested in ("auto", "pyfftw"):
        try:
            import pyfftw  # noqa: F401
        except ImportError:
            if requested == "pyfftw":
                raise
            requested = "scipy"
        else:
            requested = "pyfftw"
    key = (requested, threads, planner, seconds, wisdom)
    if key not in _BACKENDS:
        if requested == "pyfftw":
            _BACKENDS[key] = PyFFTWBackend(threads, planner, seconds, wisdom)
        else:
            _BACKENDS[key] = ScipyBackend(threads)
    return _BACKENDS[key]


class SpectralTransform:
    """Forward/inverse transforms of a grid over the last ``grid.ndim`` axes.

    ``forward``: physical (real) -> coefficients (complex rfft layout, or real DCT-II);
    ``inverse``: coefficients -> physical with ``1/N`` normalisation.
    """

    def __init__(self, grid: Grid, backend: str | None = None) -> None:
        self.grid = grid
        self.backend = get_backend(backend)
        self._forward_kind, self._inverse_kind = (
            ("rfft", "irfft") if grid.periodic else ("dct", "idct")
        )
        self.spectral_dtype = np.complex128 if grid.periodic else np.float64
        self._scratch: dict[tuple, np.ndarray] = {}

    def empty_physical(self, lead: tuple[int, ...]) -> np.ndarray:
        return self.backend.empty((*lead, *self.grid.shape), np.float64)

    def empty_spectral(self, lead: tuple[int, ...]) -> np.ndarray:
        return self.backend.empty((*lead, *self.grid.spectral_shape), self.spectral_dtype)

    def _band(self, band: int | None) -> int | None:
        """``band`` validated, or None where it would prune nothing."""
        if band is None:
            return None
        if not self.grid.periodic:
            raise ValueError("parameter 'band' needs a periodic grid (rfft layout)")
        band = require_int("band", band, ge=1, le=self.grid.spectral_shape[-1])
        return band if self.grid.ndim > 1 and band < self.grid.spectral_shape[-1] else None

    def forward(
        self, u: np.ndarray, out: np.ndarray | None = None, *, band: int | None = None
    ) -> np.ndarray:
        """Forward transform. ``band``: only the first ``band`` modes of the last axis are
        wanted; the other axes are transformed for those columns only (about a sixth less
        work at the 2/3 rule in 2-D), and the remaining columns of ``out`` hold partial
        transforms, for callers that mask them."""
        lead = u.shape[: u.ndim - self.grid.ndim]
        if out is None:
            out = self.empty_spectral(lead)
        self.backend.execute(self._forward_kind, u, out, self.grid.ndim, band=self._band(band))
        return out

    @property
    def inverse_scale(self) -> float:
        """The inverse's normalisation: ``1/N`` (periodic) or ``1/(2N)`` (Neumann) per axis."""
        factor = 1 if self.grid.periodic else 2
        return 1.0 / math.prod(factor * n for n in self.grid.points)

    def inverse(
        self,
        coeffs: np.ndarray,
        out: np.ndarray | None = None,
        *,
        overwrite_input: bool = False,
        normalise: bool = True,
        band: int | None = None,
    ) -> np.ndarray:
        """Inverse transform; with ``overwrite_input=True`` ``coeffs`` may be destroyed.

        ``normalise=False`` skips the ``inverse_scale`` factor, for callers that fold it
        into a multiplier they apply anyway (one full-array pass less). ``band``: the
        coefficients vanish beyond the first ``band`` modes of the last axis, so the other
        axes are transformed for those columns only.
        """
        lead = coeffs.shape[: coeffs.ndim - self.grid.ndim]
        if out is None:
            out = self.empty_physical(lead)
        src = coeffs
        if not overwrite_input and self.backend.name == "pyfftw":
            src = self._scratch.get(coeffs.shape)
            if src is None:
                src = self._scratch[coeffs.shape] = self.empty_spectral(lead)
            src[...] = coeffs
        self.backend.execute(
            self._inverse_kind, src, out, self.grid.ndim, normalise, band=self._band(band)
        )
        return out


# --------------------------------------------------------------------------- fluxes


class FluxOperators:
    """Gradient, divergence and the flux divergence ``div(a grad c)`` on any :class:`Grid`.

    Periodic grids multiply Fourier coefficients by ``i k``. On Neumann grids the
    gradient of a cosine series ``sum_p a_p cos(k_p x)`` along an axis is the sine
    series ``sum_p -k_p a_p sin(k_p x)``, evaluated on the cell centres by a DST-III
    along that axis (its index ``j`` stands for frequency ``j + 1``; the frequency-``N``
    term is zero) and DCT-III along the others. A flux that vanishes on the walls is a
    sine series along its own axis: DST-II there and DCT-II elsewhere give its
    coefficients ``b_p`` and ``d/dx`` maps them back to cosine coefficients ``k_p b_p``.
    The divergence therefore never has a ``p = 0`` (mean) coefficient: the integral
    of ``div(a grad c)`` is zero by construction, so mass is conserved to round-off.

    Dealiasing (``dealias``, a rule of :meth:`Grid.dealias_mask`) masks the inputs of
    the product ``a grad c`` and the divergence.
    """

    def __init__(
        self, grid: Grid, transform: SpectralTransform | None = None, dealias: str = "2/3"
    ) -> None:
        self.grid = grid
        self.transform = transform if transform is not None else SpectralTransform(grid)
        self.backend = self.transform.backend
        mask = grid.dealias_mask(dealias)
        self._mask = mask.astype(self.transform.spectral_dtype)
        self._work: dict[tuple, np.ndarray] = {}
        d = grid.ndim
        if grid.periodic:
            self._grad = [(grid.derivative(a) * mask).astype(np.complex128) for a in range(d)]
            return
        full = grid.spectral_shape
        self._grad = [np.broadcast_to(-grid.wavenumbers[a] * mask, full) for a in range(d)]
        self._div = [np.broadcast_to(grid.wavenumbers[a] * mask, full) for a in range(d)]
        self._inverse_kinds = [
            tuple("dst3" if b == a else "dct3" for b in range(d)) for a in range(d)
        ]
        self._forward_kinds = [
            tuple("dst2" if b == a else "dct2" for b in range(d)) for a in range(d)
        ]

    def _buffer(self, role: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        arr = self._work.get((role, shape))
        if arr is None:
            arr = self._work[(role, shape)] = self.backend.empty(shape, dtype)
        return arr

    def _shifted(self, axis: int, lower: bool) -> tuple[slice, ...]:
        """Index of frequencies ``0..N-2`` (``lower``) or ``1..N-1`` along ``axis``."""
        index = [slice(None)] * self.grid.ndim
        index[axis] = slice(0, -1) if lower else slice(1, None)
        return (Ellipsis, *index)

    def gradient(self, coeffs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Physical ``grad u`` (dealiased input) shaped ``(ndim, *lead, *space)``."""
        grid = self.grid
        lead = coeffs.shape[: coeffs.ndim - grid.ndim]
        if out is None:
            out = self.backend.empty((grid.ndim, *lead, *grid.shape), np.float64)
        spectral = self._buffer("grad", coeffs.shape, self.transform.spectral_dtype)
        for a in range(grid.ndim):
            if grid.periodic:
                np.multiply(coeffs, self._grad[a], out=spectral)
                self.transform.inverse(spectral, out=out[a], overwrite_input=True)
                continue
            low, high = self._shifted(a, True), self._shifted(a, False)
            np.multiply(coeffs[high], self._grad[a][high], out=spectral[low])
            last = [slice(None)] * grid.ndim
            last[a] = -1
            spectral[(Ellipsis, *last)] = 0.0
            self.backend.execute_r2r(self._inverse_kinds[a], spectral, out[a])
        return out

    def divergence(self, flux: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Coefficients of ``div F`` (dealiased) for a physical flux ``(ndim, *lead, *space)``.

        On a Neumann grid each component must vanish on the walls across its own axis
        (as ``a grad c`` does); ``flux`` may be overwritten.
        """
        grid = self.grid
        lead = flux.shape[1 : flux.ndim - grid.ndim]
        shape = (*lead, *grid.spectral_shape)
        if out is None:
            out = self.transform.empty_spectral(lead)
        coeffs = self._buffer("div", shape, self.transform.spectral_dtype)
        out[...] = 0.0
        for a in range(grid.ndim):
            if grid.periodic:
                self.transform.forward(flux[a], out=coeffs)
                coeffs *= self._grad[a]
                out += coeffs
                continue
            self.backend.execute_r2r(self._forward_kinds[a], flux[a], coeffs)
            low, high = self._shifted(a, True), self._shifted(a, False)
            part = coeffs[low]
            part *= self._div[a][high]
            out[high] += part
        return out

    def flux_divergence(
        self, a_coeffs: np.ndarray, c_coeffs: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Coefficients of ``div(a grad c)`` from the coefficients of ``a`` and ``c``."""
        grid = self.grid
        lead = c_coeffs.shape[: c_coeffs.ndim - grid.ndim]
        grad = self._buffer("flux", (grid.ndim, *lead, *grid.shape), np.float64)
        self.gradient(c_coeffs, out=grad)
        spectral = self._buffer("a_hat", a_coeffs.shape, self.transform.spectral_dtype)
        physical = self._buffer("a", (*lead, *grid.shape), np.float64)
        np.multiply(a_coeffs, self._mask, out=spectral)
        self.transform.inverse(spectral, out=physical, overwrite_input=True)
        grad *= physical
        return self.divergence(grad, out=out)
