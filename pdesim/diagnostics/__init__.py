"""Measures of the dynamics, one module per family; the public names are re-exported here."""

from pdesim.diagnostics.lyapunov import LyapunovSpectrum, kaplan_yorke_dimension, lyapunov_spectrum

__all__ = ["LyapunovSpectrum", "kaplan_yorke_dimension", "lyapunov_spectrum"]

from pdesim.diagnostics.chaos_tests import sample_entropy, zero_one_test
from pdesim.diagnostics.regimes import (
    REGIME_CLASSIFIERS,
    REGIME_LABELS,
    Defects,
    Regime,
    Rotation,
    classify_regime,
    phase_singularities,
    rotation_frequency,
)
from pdesim.diagnostics.spectra import isotropic_spectrum, mode_power
from pdesim.diagnostics.statistics import (
    DEFAULT_BINS,
    FrameStatistics,
    MutualInformation,
    excess_kurtosis,
    frame_statistics,
    mutual_information,
    shannon_entropy,
)
from pdesim.diagnostics.synchrony import (
    PHASES,
    cross_correlation,
    kuramoto_order_parameter,
    network_cross_correlation,
)

__all__ += [
    "DEFAULT_BINS",
    "REGIME_CLASSIFIERS",
    "REGIME_LABELS",
    "Defects",
    "FrameStatistics",
    "MutualInformation",
    "Regime",
    "Rotation",
    "classify_regime",
    "excess_kurtosis",
    "frame_statistics",
    "isotropic_spectrum",
    "mode_power",
    "mutual_information",
    "phase_singularities",
    "rotation_frequency",
    "shannon_entropy",
]

__all__ += [
    "PHASES",
    "cross_correlation",
    "kuramoto_order_parameter",
    "network_cross_correlation",
    "sample_entropy",
    "zero_one_test",
]
