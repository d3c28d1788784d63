"""Measures of the dynamics, one module per family; the public names are re-exported here."""

from pdesim.diagnostics.lyapunov import LyapunovSpectrum, kaplan_yorke_dimension, lyapunov_spectrum

__all__ = ["LyapunovSpectrum", "kaplan_yorke_dimension", "lyapunov_spectrum"]
