"""Work arrays made once and reused: the scratch space of every hot loop."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class WorkArrays:
    """A cache of work arrays keyed by what determines them (a shape, a role).

    ``get(key, make, *args)`` returns what ``make(*args)`` built the first time ``key``
    was asked for -- an array or a tuple of arrays -- and the same object every time
    after. Nothing is ever freed: an owner keeps one set per state shape it has seen.
    ``make`` and its arguments are passed, not a closure, so a hit allocates nothing.
    """

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[..., Any], *args: Any) -> Any:
        """The work arrays stored under ``key``, built by ``make(*args)`` if new."""
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = make(*args)
        return made

    def values(self) -> list[Any]:
        """Everything made so far (what a benchmark counts as the working set)."""
        return list(self._made.values())
