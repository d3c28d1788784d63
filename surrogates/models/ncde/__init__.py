"""Neural CDE surrogates: control paths, CDE solvers, SLiCE layers, log-signatures and
the forecasters built from them (see :mod:`.models`)."""

from surrogates.models.ncde.models import VARIANTS, NCDEConfig, NCDEForecaster, build

__all__ = ["VARIANTS", "NCDEConfig", "NCDEForecaster", "build"]
