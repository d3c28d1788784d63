"""Neural CDE surrogates: control paths, CDE solvers, SLiCE layers, log-signatures,
latents (graph, Fourier, 2-D patches) and the forecasters built from them (see
:mod:`.models`)."""

from surrogates.models.ncde.models import VARIANTS, NCDEConfig, NCDEForecaster, build

__all__ = ["VARIANTS", "NCDEConfig", "NCDEForecaster", "build"]
