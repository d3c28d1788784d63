"""The registry of systems: one module per system, one line here per name."""

from __future__ import annotations

from typing import Any

from pdesim.systems.base import SpectralSystem, System
from pdesim.systems.burgers import Burgers
from pdesim.systems.chemotaxis import KellerSegel, KellerSegelIndirect
from pdesim.systems.chialvo import ChialvoRingStar
from pdesim.systems.ginzburg_landau import ComplexGinzburgLandau
from pdesim.systems.kuramoto_sivashinsky import KuramotoSivashinsky1D, KuramotoSivashinsky2D
from pdesim.systems.reaction_diffusion import Barkley, GrayScott, RDSpiral

SYSTEMS: dict[str, type[System]] = {
    "ks1d": KuramotoSivashinsky1D,
    "ks2d": KuramotoSivashinsky2D,
    "burgers": Burgers,
    "keller_segel": KellerSegel,
    "keller_segel_indirect": KellerSegelIndirect,
    "chialvo_ring_star": ChialvoRingStar,
    "rd_spiral": RDSpiral,
    "barkley": Barkley,
    "gray_scott": GrayScott,
    "cgle": ComplexGinzburgLandau,
}


def make_system(name: str, preset: str | None = None, **params: Any) -> System:
    """Build the system registered as ``name`` with validated parameters.

    ``preset`` names one of the system's published parameter sets; ``params``
    override single values of it.

    >>> make_system("ks1d", L=22.0, N=64)
    KuramotoSivashinsky1D(L=22.0, N=64, dealias='2/3')
    """
    if not isinstance(name, str) or name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; known systems: {', '.join(sorted(SYSTEMS))}")
    cls = SYSTEMS[name]
    if preset is not None:
        return cls.from_preset(preset, **params)
    return cls(**params)


__all__ = ["SYSTEMS", "SpectralSystem", "System", "make_system"]
