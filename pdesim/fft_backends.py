"""FFT/DCT backends: pyfftw (FFTW plans and wisdom) and scipy.fft, chosen by environment.

pyfftw: FFTW plans built once per shape and kind with the planner effort of
``PDESIM_FFT_PLANNER`` -- ``measure`` by default -- and reused; wisdom kept in a
per-user cache keyed by machine and FFTW version (``PDESIM_FFT_WISDOM=off`` neither
loads nor saves it); planning bounded by ``PDESIM_FFT_PLAN_SECONDS``;
``PDESIM_FFT_THREADS`` threads, 1 by default. ``scipy.fft`` is the fallback when
pyfftw is missing or ``PDESIM_FFT=scipy``. Forward transforms are unnormalised and
inverse ones carry ``1/N`` (numpy's convention) unless told not to.

The pyfftw backend also hands out raw FFTW plans and the addresses of FFTW's execute
functions (:meth:`PyFFTWBackend.real_plans_1d`), for loops compiled with numba that
call FFTW themselves (:mod:`pdesim.compiled`).

:func:`reproducible_plans` scopes a computation to FFTW's ``estimate`` planner without
wisdom, for chaotic runs whose result must not depend on timings (a measured plan can
differ from one process to the next and change the last bits, which chaos amplifies).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import math
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.fft

from pdesim.files import atomic_write_text
from pdesim.validation import require_choice, require_int

log = logging.getLogger(__name__)

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

    @cached_property
    def _c_interface(self) -> _FFTWCInterface:
        return _FFTWCInterface(self._pyfftw)

    @property
    def execute_addresses(self) -> tuple[int, int]:
        """Addresses of FFTW's new-array execute functions ``fftw_execute_dft_r2c`` and
        ``fftw_execute_dft_c2r`` (each ``f(plan, in, out)``), for compiled loops."""
        c = self._c_interface
        return c.address("fftw_execute_dft_r2c"), c.address("fftw_execute_dft_c2r")

    def real_plans_1d(self, n: int, howmany: int) -> tuple[int, int]:
        """FFTW plans (addresses) of ``howmany`` real transforms of length ``n``, for compiled
        loops that run them with :attr:`execute_addresses` on arrays from :meth:`empty`.

        Forward: float64 ``(howmany, n)`` to complex128 ``(howmany, n // 2 + 1)``,
        unnormalised; inverse: back, unnormalised, destroying its input. Planned with this
        backend's planner (and wisdom), single-threaded; cached for the life of the
        process (as the backend's other plans, never freed).
        """
        key = ("c-r2c", n, howmany)
        plans = self._plans.get(key)
        if plans is None:
            real = self.empty((howmany, n), np.float64)
            spectral = self.empty((howmany, n // 2 + 1), np.complex128)
            flags = _FFTW_PLANNER_FLAGS[self.planner]
            c = self._c_interface
            with c.lock:
                c.prepare(self.plan_seconds)
                forward = c.plan_r2c(n, howmany, real, spectral, flags)
                inverse = c.plan_c2r(n, howmany, spectral, real, flags | _FFTW_DESTROY_INPUT)
            plans = self._plans[key] = (forward, inverse)
            if self.wisdom:
                self._save_wisdom()
        return plans

    @property
    def execute_address_c2c(self) -> int:
        """Address of FFTW's new-array complex execute ``fftw_execute_dft(plan, in, out)``."""
        return self._c_interface.address("fftw_execute_dft")

    def banded_plans_2d(self, n0: int, n1: int, band: int, fields: int) -> tuple[int, ...]:
        """FFTW plans (addresses) of the banded real 2-D transforms of :meth:`execute`
        with ``band``, for compiled loops (:mod:`pdesim.compiled_ks2d`), on arrays from
        :meth:`empty`: ``(inverse columns, inverse rows, forward rows, forward columns)``.

        Inverse, of ``fields`` fields ``(fields, n0, m)`` complex (``m = n1 // 2 + 1``) to
        ``(fields, n0, n1)`` float64: in place, the first ``band`` columns backward over
        axis 0, then every row ``c2r`` (destroying its input). Forward, of one field
        ``(n0, n1)`` to ``(n0, m)``: every row ``r2c``, then in place the first ``band``
        columns forward over axis 0. Unnormalised; the layout of the general path's plans
        for one trajectory; this backend's planner (and wisdom), single-threaded, cached
        for the life of the process.
        """
        key = ("c-banded-2d", n0, n1, band, fields)
        plans = self._plans.get(key)
        if plans is None:
            m = n1 // 2 + 1
            spectral = self.empty((fields, n0, m), np.complex128)
            physical = self.empty((fields, n0, n1), np.float64)
            flags = _FFTW_PLANNER_FLAGS[self.planner]
            column = [(n0, m, m)]
            c = self._c_interface
            with c.lock:
                c.prepare(self.plan_seconds)
                plans = (
                    c.plan_guru(
                        "dft",
                        column,
                        [(fields, n0 * m, n0 * m), (band, 1, 1)],
                        spectral,
                        spectral,
                        flags,
                        sign=1,
                    ),
                    c.plan_guru(
                        "c2r",
                        [(n1, 1, 1)],
                        [(fields * n0, m, n1)],
                        spectral,
                        physical,
                        flags | _FFTW_DESTROY_INPUT,
                    ),
                    c.plan_guru("r2c", [(n1, 1, 1)], [(n0, n1, m)], physical, spectral, flags),
                    c.plan_guru("dft", column, [(band, 1, 1)], spectral, spectral, flags, sign=-1),
                )
            self._plans[key] = plans
            if self.wisdom:
                self._save_wisdom()
        return plans

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


#: FFTW's planner flags (fftw3.h) for the planner names of ``PDESIM_FFT_PLANNER``.
_FFTW_PLANNER_FLAGS = {"FFTW_ESTIMATE": 1 << 6, "FFTW_MEASURE": 0, "FFTW_PATIENT": 1 << 5}
_FFTW_DESTROY_INPUT = 1


class _FFTWCInterface:
    """FFTW's C planner and execute functions, found through pyfftw's extension module.

    ``dlsym`` on that module's handle searches the libraries it links, so these are the
    functions of the very FFTW that pyfftw uses (its wheel's bundled copy or the system's),
    sharing its wisdom. ``fftw_plan_with_nthreads`` is global FFTW state that pyfftw sets
    before each of its own plans; it is set to 1 here before ours.
    """

    def __init__(self, pyfftw_module: object) -> None:
        self._lib = ctypes.CDLL(pyfftw_module.pyfftw.__file__)
        #: Serialises our planning calls (FFTW's planner is not thread-safe; pyfftw holds
        #: its own lock around its plans, and planning happens when a stepper is built).
        self.lock = threading.Lock()
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        signature = [integer, pointer, integer, pointer, pointer, integer, integer]
        signature += [pointer, pointer, integer, integer, ctypes.c_uint]
        for name in ("fftw_plan_many_dft_r2c", "fftw_plan_many_dft_c2r"):
            function = getattr(self._lib, name)
            function.restype = pointer
            function.argtypes = signature
        for name in ("fftw_plan_guru_dft", "fftw_plan_guru_dft_r2c", "fftw_plan_guru_dft_c2r"):
            function = getattr(self._lib, name)
            function.restype = pointer
        self._lib.fftw_set_timelimit.restype = None
        self._lib.fftw_set_timelimit.argtypes = [ctypes.c_double]
        self._threads = getattr(self._lib, "fftw_plan_with_nthreads", None)
        if self._threads is not None:
            self._threads.restype = None
            self._threads.argtypes = [integer]

    def address(self, name: str) -> int:
        return ctypes.cast(getattr(self._lib, name), ctypes.c_void_p).value

    def prepare(self, seconds: float) -> None:
        """Planner settings for the next plans: one thread, ``seconds`` of planning at most."""
        if self._threads is not None:
            self._threads(1)
        self._lib.fftw_set_timelimit(seconds)

    def plan_r2c(
        self, n: int, howmany: int, real: np.ndarray, spectral: np.ndarray, flags: int
    ) -> int:
        """``howmany`` forward transforms between contiguous rows of ``n`` and ``n // 2 + 1``."""
        m = n // 2 + 1
        layout = (real.ctypes.data, None, 1, n, spectral.ctypes.data, None, 1, m)
        plan = self._lib.fftw_plan_many_dft_r2c(1, (ctypes.c_int * 1)(n), howmany, *layout, flags)
        return _checked_plan(plan, "r2c", n, howmany)

    def plan_c2r(
        self, n: int, howmany: int, spectral: np.ndarray, real: np.ndarray, flags: int
    ) -> int:
        """``howmany`` inverse transforms, the layout of :meth:`plan_r2c` the other way."""
        m = n // 2 + 1
        layout = (spectral.ctypes.data, None, 1, m, real.ctypes.data, None, 1, n)
        plan = self._lib.fftw_plan_many_dft_c2r(1, (ctypes.c_int * 1)(n), howmany, *layout, flags)
        return _checked_plan(plan, "c2r", n, howmany)

    def plan_guru(
        self,
        kind: str,
        dims: list[tuple[int, int, int]],
        howmany: list[tuple[int, int, int]],
        src: np.ndarray,
        dst: np.ndarray,
        flags: int,
        sign: int = -1,
    ) -> int:
        """A guru plan of ``kind`` (``"dft"``, ``"r2c"``, ``"c2r"``) over ``dims`` and
        ``howmany`` loops, each ``(n, input stride, output stride)`` in elements; ``sign``
        (-1 forward, +1 backward) for ``"dft"`` only."""
        pointer = ctypes.c_void_p
        head = [len(dims), _iodims(dims), len(howmany), _iodims(howmany)]
        arrays = [pointer(src.ctypes.data), pointer(dst.ctypes.data)]
        if kind == "dft":
            function = self._lib.fftw_plan_guru_dft
            plan = function(*head, *arrays, ctypes.c_int(sign), ctypes.c_uint(flags))
        else:
            function = getattr(self._lib, "fftw_plan_guru_dft_" + kind)
            plan = function(*head, *arrays, ctypes.c_uint(flags))
        return _checked_plan(plan, kind, [d[0] for d in dims], [d[0] for d in howmany])


class _IODim(ctypes.Structure):
    """FFTW's ``fftw_iodim``: a length and the input and output strides (in elements)."""

    _fields_ = [("n", ctypes.c_int), ("is_", ctypes.c_int), ("os", ctypes.c_int)]


def _iodims(dims: list[tuple[int, int, int]]) -> ctypes.Array:
    return (_IODim * len(dims))(*(_IODim(*d) for d in dims))


def _checked_plan(plan: int | None, kind: str, n: object, howmany: object) -> int:
    if not plan:
        raise RuntimeError(f"FFTW could not plan {howmany} {kind} transforms of length {n}")
    return plan


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

#: The planner settings of :func:`reproducible_plans` (and of dataset shards).
REPRODUCIBLE_ENVIRONMENT = {"PDESIM_FFT_PLANNER": "estimate", "PDESIM_FFT_WISDOM": "off"}


@contextmanager
def reproducible_plans() -> Iterator[None]:
    """Inside the block, backends plan with FFTW's ``estimate`` planner and no wisdom:
    fresh backends, and FFTW holding none of the plans this process measured before
    (FFTW answers an estimate request with any wisdom it holds for the problem). The
    plans then depend on the machine and the FFTW build only, not on timings or on what
    ran earlier, so a chaotic run computed inside gives the same bits every time on one
    machine. The process's environment, backends and wisdom are restored afterwards."""
    global _BACKENDS
    saved_env = {key: os.environ.get(key) for key in REPRODUCIBLE_ENVIRONMENT}
    saved_backends, _BACKENDS = _BACKENDS, {}
    try:
        import pyfftw
    except ImportError:
        pyfftw = None
    if pyfftw is not None:
        wisdom = pyfftw.export_wisdom()
        pyfftw.forget_wisdom()
    os.environ.update(REPRODUCIBLE_ENVIRONMENT)
    try:
        yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _BACKENDS = saved_backends
        if pyfftw is not None:
            pyfftw.forget_wisdom()
            pyfftw.import_wisdom(wisdom)


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
