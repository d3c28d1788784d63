"""The vocabulary every layer shares: the package version and the errors that cross layers.

This module imports nothing from pdesim, so any module may import it at the top: a
system can raise :class:`SimulationDiverged` without importing the driver that catches
it, and the writers stamp :data:`VERSION` without importing the package root.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    #: The installed distribution's version (pyproject.toml is the one place it is set).
    VERSION: str = version("pdesim")
except PackageNotFoundError:  # imported from a source tree that was never installed
    VERSION = "0+unknown"


class SimulationDiverged(RuntimeError):
    """A trajectory became non-finite or exceeded the system's blow-up threshold."""

    def __init__(self, trajectory: int, time: float, reason: str) -> None:
        self.trajectory = trajectory
        self.time = time
        self.reason = reason
        super().__init__(f"trajectory {trajectory} diverged at t = {time:g}: {reason}")
