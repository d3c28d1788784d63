"""Surrogate models trained on pdesim datasets (transformers, neural CDEs) and their evaluation."""
