"""pdesim: fast, validated pseudo-spectral simulators of pattern-forming and chaotic systems.

>>> import pdesim
>>> system = pdesim.make_system("ks1d", L=22.0, N=64)
>>> run = pdesim.simulate(system, t_end=10.0, dt=0.25, save_every=1.0, n_traj=2, seed=0)
>>> run.fields["u"].shape
(2, 11, 64)
"""

from pdesim import diagnostics, observers
from pdesim.common import VERSION as __version__
from pdesim.common import SimulationDiverged
from pdesim.grid import Grid
from pdesim.observers import LivePlot, Observer, ScalarSeries
from pdesim.simulate import Run, simulate
from pdesim.spectral import SpectralTransform
from pdesim.systems import SYSTEMS, make_system

__all__ = [
    "SYSTEMS",
    "Grid",
    "LivePlot",
    "Observer",
    "Run",
    "ScalarSeries",
    "SimulationDiverged",
    "SpectralTransform",
    "__version__",
    "diagnostics",
    "make_system",
    "observers",
    "simulate",
]
