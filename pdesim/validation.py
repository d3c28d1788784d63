"""Checks for user-supplied values that raise errors naming the parameter.

Every public entry point validates its inputs with these helpers so that a bad
value fails at once with a message of the form
``parameter 'N' must be an even integer >= 16, got 15``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


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
    number = float(value)
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
    """Return ``value`` as an int, or raise naming ``name`` and the allowed values."""
    parts = ["an even integer" if even else "an integer"]
    if ge is not None:
        parts.append(f">= {ge}")
    if le is not None:
        parts.append(f"<= {le}")
    allowed = " ".join(parts)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"parameter {name!r} must be {allowed}, got {_describe(value)}")
    number = int(value)
    if (
        (ge is not None and number < ge)
        or (le is not None and number > le)
        or (even and number % 2)
    ):
        raise ValueError(f"parameter {name!r} must be {allowed}, got {number}")
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
    count = round(ratio)
    if count < 1 or abs(ratio - count) > 1e-9 * max(1.0, ratio):
        raise ValueError(
            f"parameter {name!r} must be a positive whole multiple of {of_name}={step:g}, "
            f"got {value:g} ({ratio:.6g} x {of_name})"
        )
    return count
