"""Surrogate models: a small Walrus (:mod:`surrogates.models.walrus`) and neural CDE
forecasters (:mod:`surrogates.models.ncde`)."""

from functools import partial

from surrogates.models import ncde
from surrogates.models.walrus import CONFIGS, Walrus, WalrusConfig, build

MODELS = {"walrus": build, **{v: partial(ncde.build, variant=v) for v in ncde.VARIANTS}}

__all__ = ["CONFIGS", "MODELS", "Walrus", "WalrusConfig", "build"]
