"""Capabilities declared on System: phase pair, tangent dynamics, regime classifier.

Diagnostics and the CLI read these flags instead of comparing system names, so each
flag must be true exactly where the thing it promises exists.
"""

import numpy as np
import pytest

import pdesim
from pdesim.cli import main
from pdesim.diagnostics import REGIME_CLASSIFIERS, lyapunov_spectrum
from pdesim.systems.base import SpectralSystem

#: A tiny valid instance of every registered system.
TINY = {
    "ks1d": {"L": 10.0, "N": 16},
    "ks2d": {"L": 10.0, "N": 16},
    "burgers": {"N": 16},
    "keller_segel": {"N": 16, "width": 0.8},
    "keller_segel_indirect": {"N": 16, "width": 0.8},
    "chialvo_ring_star": {"N": 16},
    "rd_spiral": {"L": 5.0, "N": 16},
    "barkley": {"L": 5.0, "N": 16},
    "gray_scott": {"L": 0.3, "N": 16},
    "cgle": {"L": 5.0, "N": 16},
}


def test_every_system_has_a_tiny_instance():
    assert sorted(TINY) == sorted(pdesim.SYSTEMS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_declared_phase_pair_and_classifier_exist(name):
    system = pdesim.make_system(name, **TINY[name])
    if system.phase_fields is not None:
        assert len(system.phase_fields) == 2
        assert set(system.phase_fields) <= set(system.field_names)
    assert system.regime_classifier is None or system.regime_classifier in REGIME_CLASSIFIERS


def test_only_rd_spiral_declares_a_phase_pair_and_rd_spirals_classifier():
    phase = {n for n, cls in pdesim.SYSTEMS.items() if cls.phase_fields is not None}
    classified = {n for n, cls in pdesim.SYSTEMS.items() if cls.regime_classifier is not None}
    assert phase == classified == {"rd_spiral"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tangent_dynamics_flag_is_true_exactly_where_the_tangent_runs(name):
    system = pdesim.make_system(name, **TINY[name])
    if not isinstance(system, SpectralSystem):
        assert not system.has_tangent_dynamics
        assert not callable(getattr(system, "nonlinear_tangent", None))
        with pytest.raises(TypeError, match="spectral system"):
            lyapunov_spectrum(system)
        return
    rng = np.random.default_rng(0)
    shape = (1, system.n_fields, *system.grid.shape)
    u = system.transform.forward(0.3 * rng.standard_normal(shape))
    v = system.transform.forward(rng.standard_normal((2, *shape[1:])))
    out = np.empty_like(v)
    if not system.has_tangent_dynamics:
        with pytest.raises(NotImplementedError, match="no tangent dynamics"):
            system.nonlinear_tangent(u, v, out)
        with pytest.raises(ValueError, match=f"{name!r} has no tangent dynamics.*ks1d"):
            lyapunov_spectrum(system, t_end=1.0, dt=0.25, t_warmup=0.0)
        return
    system.nonlinear_tangent(u, v, out)
    # N'(u) v against a central difference (exact up to rounding for quadratic N)
    eps = 1e-4
    plus, minus = np.empty_like(v), np.empty_like(v)
    system.nonlinear(u + eps * v, 0.0, plus)
    system.nonlinear(u - eps * v, 0.0, minus)
    scale = np.abs(out).max()
    assert scale > 0
    np.testing.assert_allclose(out, (plus - minus) / (2 * eps), rtol=0, atol=1e-6 * scale)


def test_a_ks1d_run_prints_no_regime_line(capsys):
    argv = ["run", "ks1d", "--set", "L=10.0", "--set", "N=16", "--t-end", "5", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "KuramotoSivashinsky1D" in printed
    assert "trajectory 0" not in printed and "classifier" not in printed
    assert "regime" not in printed


def test_an_rd_spiral_run_still_reports_its_regime_and_rotation(capsys):
    argv = ["run", "rd_spiral", "--set", "L=5.0", "--set", "N=16", "--t-end", "5"]
    assert main([*argv, "--save-every", "0.25", "--dt", "0.05", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "trajectory 0: " in printed
    assert "(rd-spiral classifier on std(u) over the last 10 frames" in printed
    assert "rotation omega = " in printed and "phase singularities at t = 5" in printed
