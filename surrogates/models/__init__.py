"""Surrogate models: a small Walrus (:mod:`surrogates.models.walrus`)."""

from surrogates.models.walrus import CONFIGS, Walrus, WalrusConfig, build

MODELS = {"walrus": build}

__all__ = ["CONFIGS", "MODELS", "Walrus", "WalrusConfig", "build"]
