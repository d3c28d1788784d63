"""Bounds on the work and memory a request may ask for, checked before anything is
allocated or planned, so that an absurd input fails at once with a message instead of
hanging or being killed by the kernel's out-of-memory killer.

* :data:`MAX_STEPS`: time steps of one trajectory (``t_end / dt``).
* :func:`require_fits`: an estimate of the bytes a job will hold in memory, against
  :func:`available_memory_bytes` (``MemAvailable`` of ``/proc/meminfo``, lowered by a
  cgroup memory limit; ``os.sysconf`` elsewhere).
* :func:`require_disk`: an estimate of the bytes a job will write, against the free
  space of the file system it writes to.

The estimates are upper bounds within a small factor (they count every work array a
stepper may hold); a request is refused only when the estimate exceeds what is free.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

#: Most time steps one trajectory may take (``t_end / dt``): 10**9 steps of the cheapest
#: system take hours; more is a mistyped ``dt`` (``1e-300``), not a run.
MAX_STEPS = 10**9

GiB = 2**30


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """``memory.max - memory.current`` of this process's cgroup (v2), if limited."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return max(0, int(limit) - int(used))
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int | None:
    """Bytes of memory this process can still use: ``MemAvailable`` (Linux), or free
    physical pages from ``os.sysconf``, lowered by a cgroup v2 limit; None if unknown."""
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            found = None
    limited = _cgroup_available()
    if limited is not None:
        found = limited if found is None else min(found, limited)
    return found


def _parts(parts: Iterable[tuple[str, float]]) -> str:
    shown = [f"{label} {size / GiB:.3g} GiB" for label, size in parts if size >= 0.01 * GiB]
    return f" ({'; '.join(shown)})" if shown else ""


def require_fits(what: str, estimate_bytes: float, parts: Iterable[tuple[str, float]] = ()) -> None:
    """Raise ``ValueError`` if ``estimate_bytes`` exceed the available memory.

    ``what`` names the request and its parameter (``"parameter 'n_traj' = 1000000000"``);
    ``parts`` optionally break the estimate down (label, bytes). Nothing is checked where
    the available memory is unknown.
    """
    available = available_memory_bytes()
    if available is None or estimate_bytes <= available:
        return
    raise ValueError(
        f"{what}: needs about {estimate_bytes / GiB:.3g} GiB of memory{_parts(parts)}, more "
        f"than the {available / GiB:.3g} GiB available on this machine"
    )


def require_disk(what: str, folder: str | os.PathLike, estimate_bytes: float) -> None:
    """Raise ``ValueError`` if ``estimate_bytes`` exceed the free space of the file system
    holding ``folder`` (or its nearest existing parent)."""
    place = Path(folder).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        free = shutil.disk_usage(place).free
    except OSError:
        return
    if estimate_bytes > free:
        raise ValueError(
            f"{what}: needs about {estimate_bytes / GiB:.3g} GiB on disk, more than the "
            f"{free / GiB:.3g} GiB free under {str(place)!r}"
        )
