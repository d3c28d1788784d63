"""Checks for user-supplied values that raise errors naming the parameter.

Every public entry point validates its inputs with these helpers so that a bad
value fails at once with a message of the form
``parameter 'N' must be an even integer >= 16, got 15``. Numpy scalars are accepted
wherever Python numbers are, and returned as Python numbers (:func:`plain`). Output
paths are checked before any work starts (:func:`require_output_file`,
:func:`require_output_folder`), so that a finished run is never lost to a bad path.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pdesim.files import temporary_path

#: The most grid points along one axis (or nodes of a graph) a system accepts: beyond
#: it no grid is useful, and derived limits name the physical parameter instead.
MAX_POINTS = 2**20

#: Integers longer than this many digits are shown by their length in messages.
_SHOWN_DIGITS = 30


def _show(value: Any) -> str:
    """``repr(value)``, except that a huge integer is described by its number of digits."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        digits = len(str(abs(int(value))))
        if digits > _SHOWN_DIGITS:
            sign = "-" if value < 0 else ""
            return f"{sign}an integer of {digits} digits"
    return repr(value)


def _describe(value: Any) -> str:
    return f"{_show(value)} ({type(value).__name__})"


def plain(value: Any) -> Any:
    """``value`` with a numpy scalar (``np.int64(64)``, ``np.float32(0.5)``, ``np.True_``)
    turned into the Python number it holds; anything else unchanged. Parameters are
    stored this way, so that JSON and HDF5 attributes take them."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):  # float(), not .item(): longdouble stays numpy there
        return float(value)
    return value.item() if isinstance(value, np.generic) else value


def require_real(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> float:
    """Return ``value`` as a finite float, or raise naming ``name`` and the allowed range."""
    bounds = []
    if gt is not None:
        bounds.append(f"> {gt:g}")
    if ge is not None:
        bounds.append(f">= {ge:g}")
    if lt is not None:
        bounds.append(f"< {lt:g}")
    if le is not None:
        bounds.append(f"<= {le:g}")
    allowed = "a finite real number" + (" " + " and ".join(bounds) if bounds else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"parameter {name!r} must be {allowed}, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range, e.g. 10**400
        raise ValueError(
            f"parameter {name!r} must be {allowed}, got {_show(value)} (too large for a float)"
        ) from None
    ok = math.isfinite(number)
    ok = ok and (gt is None or number > gt) and (ge is None or number >= ge)
    ok = ok and (lt is None or number < lt) and (le is None or number <= le)
    if not ok:
        raise ValueError(f"parameter {name!r} must be {allowed}, got {value!r}")
    return number


def require_int(
    name: str,
    value: Any,
    *,
    ge: int | None = None,
    le: int | None = None,
    even: bool = False,
) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the allowed values.

    Without ``le`` the value must fit in a signed 64-bit integer, as files and arrays
    store it; a caller that needs more (a seed) says how much with ``le``.
    """
    bounds = []
    if ge is not None:
        bounds.append(f">= {ge}")
    if le is not None:
        bounds.append(f"<= {le}")
    allowed = " ".join(["an even integer" if even else "an integer", *bounds[:1]])
    allowed = " and ".join([allowed, *bounds[1:]])
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"parameter {name!r} must be {allowed}, got {_describe(value)}")
    number = int(value)
    if (
        (ge is not None and number < ge)
        or (le is not None and number > le)
        or (even and number % 2)
    ):
        raise ValueError(f"parameter {name!r} must be {allowed}, got {_show(number)}")
    if le is None and not -(2**63) <= number < 2**63:
        raise ValueError(
            f"parameter {name!r} must be {allowed} that fits in 64 bits, got {_show(number)}"
        )
    return number


def require_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, or raise listing them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"parameter {name!r} must be one of {', '.join(options)}; got {value!r}")
    return value


def require_multiple(name: str, value: float, of_name: str, step: float) -> int:
    """Return ``value / step`` as an int if ``value`` is a whole multiple of ``step``."""
    ratio = value / step
    if not math.isfinite(ratio):  # e.g. 1e308 / 0.25: no whole number of steps
        raise ValueError(
            f"parameter {name!r} must be a positive whole multiple of {of_name}={step:g}, "
            f"got {value:g} (more than a float can count of {of_name})"
        )
    count = round(ratio)
    if count < 1 or abs(ratio - count) > 1e-9 * max(1.0, ratio):
        raise ValueError(
            f"parameter {name!r} must be a positive whole multiple of {of_name}={step:g}, "
            f"got {value:g} ({ratio:.6g} x {of_name})"
        )
    return count


def furthest_from_default(
    params: Any, names: Iterable[str], like: dict[str, str] | None = None
) -> str:
    """Of the dataclass fields ``names`` of ``params``, the one whose value lies furthest
    from its default (by ``|log(value / default)|``): the parameter to name when a limit
    derived from several of them cannot be met (``eps = 1e-300`` rather than ``Du``).

    ``like`` maps a field without a default of its own (``Ly``) to the one whose default
    it takes (``L``). A value of 0 with a non-zero default is furthest of all.
    """
    table = type(params).__dataclass_fields__
    like = like or {}

    def distance(name: str) -> float:
        value = getattr(params, name)
        default = table[like.get(name, name)].default
        if not isinstance(default, numbers.Real) or not default or value is None:
            return 0.0
        if not value:
            return math.inf
        return abs(math.log(abs(float(value)) / abs(float(default))))

    ordered = list(names)
    return max(ordered, key=distance)  # the first of equals: the caller's order decides


def _as_path(label: str, path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{label} must be a file name (str or path), got {_describe(path)}")
    return Path(path)


def _nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing ancestor."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(label: str, path: Path, folder: Path) -> None:
    """Raise naming ``label`` and ``path`` unless a new file can be created in ``folder``
    (an empty hidden one, made and removed at once)."""
    probe = temporary_path(folder / "pdesim-probe")
    try:
        with open(probe, "x"):
            pass
    except OSError as exc:
        raise ValueError(
            f"{label} {str(path)!r} cannot be written: creating a file in {str(folder)!r} "
            f"failed ({exc.strerror or exc})"
        ) from None
    probe.unlink(missing_ok=True)


def require_output_file(label: str, path: Any, *, make_folder: bool = True) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if a file can be written there, or raise.

    ``label`` names the input in messages (``"--out"``, ``"parameter 'checkpoint'"``).
    ``path`` must not be a folder; with ``make_folder`` its nearest existing ancestor
    must be a folder (the missing ones are made by the writer), without it its own
    folder must exist; that folder must take a new file (an empty hidden temporary file
    is created and removed to find out, which also catches read-only file systems).

    Raises
    ------
    TypeError: ``path`` is not a str or path.
    ValueError: ``path`` is a folder, lies under a file or a missing folder (without
        ``make_folder``), or its folder refuses new files.
    """
    path = _as_path(label, path)
    if path.is_dir():
        raise ValueError(f"{label} {str(path)!r} is a folder; give the name of a file in it")
    folder = _nearest_existing(path.parent)
    if not folder.is_dir():
        raise ValueError(f"{label} {str(path)!r} lies under {str(folder)!r}, which is a file")
    if not make_folder and folder != path.parent.absolute():
        raise ValueError(
            f"{label} {str(path)!r}: its folder {str(path.parent)!r} does not exist; "
            "create it first (mkdir -p)"
        )
    _probe(label, path, folder)
    return path


def require_output_folder(label: str, path: Any) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it is, or can be made, a folder that
    takes new files, or raise ``ValueError`` naming ``label`` (see
    :func:`require_output_file`): it must not be a file, nor lie under one, and the
    nearest existing folder must take a new file."""
    path = _as_path(label, path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{label} {str(path)!r} is a file, not a folder")
    folder = _nearest_existing(path)
    if not folder.is_dir():
        raise ValueError(f"{label} {str(path)!r} lies under {str(folder)!r}, which is a file")
    _probe(label, path, folder)
    return path


def second_axis(params: Any, min_points: int) -> tuple[float, int]:
    """``(Ly, Ny)`` of a rectangle's parameters ``params`` (with ``L``, ``N``, ``Ly``,
    ``Ny``): each defaults to its x counterpart; given, ``Ly`` must be a finite real
    > 0 and ``Ny`` an even integer in ``min_points .. MAX_POINTS``."""
    ly = params.L if params.Ly is None else require_real("Ly", params.Ly, gt=0.0)
    ny = (
        params.N
        if params.Ny is None
        else require_int("Ny", params.Ny, ge=min_points, le=MAX_POINTS, even=True)
    )
    return ly, ny
