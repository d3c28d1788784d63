"""Grids, wavenumbers, dealiasing and the two FFT backends."""

import os

import numpy as np
import pytest

from pdesim import fft_backends
from pdesim.diagnostics import lyapunov_spectrum
from pdesim.fft_backends import PyFFTWBackend, ScipyBackend, get_backend, reproducible_plans
from pdesim.grid import Grid
from pdesim.spectral import SpectralTransform
from pdesim.systems import make_system

BACKENDS = ["pyfftw", "scipy"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("lengths", "points"),
    [((2 * np.pi,), (32,)), ((3.0, 5.0), (16, 24)), ((1.0, 2.0, 3.0), (8, 12, 16))],
)
def test_spectral_derivative_of_trigonometric_field_is_exact(backend, lengths, points):
    grid = Grid(lengths, points)
    mesh = grid.mesh()
    phase = sum(
        2 * np.pi * (a + 1) * x / length
        for a, (x, length) in enumerate(zip(mesh, lengths, strict=True))
    )
    u = np.sin(phase)[None, None]
    transform = SpectralTransform(grid, backend=backend)
    coeffs = transform.forward(u)
    for axis in range(grid.ndim):
        expected = 2 * np.pi * (axis + 1) / lengths[axis] * np.cos(phase)
        du = transform.inverse(coeffs * grid.derivative(axis))
        np.testing.assert_allclose(du[0, 0], expected, atol=1e-11)
    lap = transform.inverse(-grid.k_squared * coeffs)
    k2 = sum((2 * np.pi * (a + 1) / length) ** 2 for a, length in enumerate(lengths))
    np.testing.assert_allclose(lap[0, 0], -k2 * np.sin(phase), atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inverse_keeps_its_input_unless_told(backend):
    grid = Grid((1.0, 1.0), (16, 16))
    transform = SpectralTransform(grid, backend=backend)
    u = np.random.default_rng(0).standard_normal((3, 2, 16, 16))
    coeffs = transform.forward(u)
    before = coeffs.copy()
    np.testing.assert_allclose(transform.inverse(coeffs), u, atol=1e-13)
    np.testing.assert_array_equal(coeffs, before)


def test_backends_agree_on_every_kind():
    rng = np.random.default_rng(1)
    for boundary in ("periodic", "neumann"):
        grid = Grid((2.0, 3.0), (16, 12), boundary=boundary)
        u = rng.standard_normal((2, 1, 16, 12))
        fftw = SpectralTransform(grid, backend="pyfftw")
        scipy_ = SpectralTransform(grid, backend="scipy")
        a, b = fftw.forward(u), scipy_.forward(u)
        np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_allclose(fftw.inverse(a), scipy_.inverse(b), atol=1e-13)
        np.testing.assert_allclose(fftw.inverse(a), u, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("points", "band"), [((16, 24), 9), ((8, 12, 16), 6)])
def test_banded_transforms_match_numpy_on_the_band(backend, points, band):
    # inverse: coefficients that vanish beyond the band; forward: the band's columns
    grid = Grid(tuple(1.0 + a for a in range(len(points))), points)
    transform = SpectralTransform(grid, backend=backend)
    axes = tuple(range(-grid.ndim, 0))
    rng = np.random.default_rng(5)
    u = rng.standard_normal((3, 2, *points))
    coeffs = np.fft.rfftn(u, axes=axes)
    coeffs[..., band:] = 0.0
    expected = np.fft.irfftn(coeffs, s=points, axes=axes)
    banded = transform.inverse(coeffs, band=band)
    np.testing.assert_allclose(banded, expected, rtol=0, atol=1e-13 * np.abs(expected).max())
    scratch = coeffs.copy()  # the in-place path (the input may be destroyed)
    banded = transform.inverse(scratch, overwrite_input=True, band=band)
    np.testing.assert_allclose(banded, expected, rtol=0, atol=1e-13 * np.abs(expected).max())
    full = np.fft.rfftn(u, axes=axes)
    forward = transform.forward(u, band=band)
    np.testing.assert_allclose(
        forward[..., :band], full[..., :band], rtol=0, atol=1e-13 * np.abs(full).max()
    )


def test_a_band_is_validated():
    transform = SpectralTransform(Grid((1.0, 1.0), (16, 16)), backend="pyfftw")
    u = np.zeros((1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"'band'.*<= 9"):
        transform.forward(u, band=10)
    with pytest.raises(TypeError, match="'band'"):
        transform.forward(u, band=2.5)
    neumann = SpectralTransform(Grid((1.0, 1.0), (16, 16), boundary="neumann"))
    with pytest.raises(ValueError, match=r"'band'.*periodic"):
        neumann.forward(u, band=4)


def test_strided_arrays_are_transformed_correctly():
    grid = Grid((1.0,), (32,))
    transform = SpectralTransform(grid, backend="pyfftw")
    u = np.random.default_rng(2).standard_normal((4, 3, 32))
    view = u[:, 1:2]  # not contiguous across the batch
    np.testing.assert_allclose(transform.forward(view), np.fft.rfft(view, axis=-1), atol=1e-12)


def test_neumann_modes_satisfy_no_flux_and_diagonalise_the_laplacian():
    length, n = 2.0, 32
    grid = Grid((length,), (n,), boundary="neumann")
    x = grid.coords[0]
    np.testing.assert_allclose(x[:2], [length / (2 * n), 3 * length / (2 * n)])
    u = np.cos(3 * np.pi * x / length) + 0.5
    transform = SpectralTransform(grid)
    coeffs = transform.forward(u[None, None])
    lap = transform.inverse(-grid.k_squared * coeffs)[0, 0]
    np.testing.assert_allclose(lap, -((3 * np.pi / length) ** 2) * (u - 0.5), atol=1e-10)
    with pytest.raises(ValueError, match="sine series"):
        grid.derivative(0)


def test_dealias_masks_keep_the_right_modes():
    grid = Grid((1.0,), (64,))
    kept = np.nonzero(grid.dealias_mask("2/3"))[0]
    assert kept.max() == 21  # |m| < 64/3
    assert grid.dealias_mask("1/2").sum() == 16  # m = 0..15
    assert grid.dealias_mask("none").all()
    grid2 = Grid((1.0, 1.0), (12, 12))
    mask = grid2.dealias_mask("2/3")
    m0, m1 = grid2.mode_indices
    assert mask.shape == (12, 7)
    np.testing.assert_array_equal(mask, (np.abs(m0) < 4) & (np.abs(m1) < 4))
    assert Grid((1.0,), (12,), boundary="neumann").dealias_mask("2/3").sum() == 8  # p < 8


def test_odd_derivative_zeroes_nyquist():
    grid = Grid((2 * np.pi,), (16,))
    assert grid.derivative(0)[-1] == 0
    assert grid.derivative(0, order=2)[-1] == -(8.0**2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lengths": (0.0,), "points": (16,)}, "'L'"),
        ({"lengths": (1.0,), "points": (15,)}, "'N'"),
        ({"lengths": (1.0, 1.0), "points": (16,)}, "one length and one point count"),
        ({"lengths": (1.0,), "points": (16,), "boundary": "dirichlet"}, "'boundary'"),
    ],
)
def test_bad_grids_are_rejected(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Grid(**kwargs)


def test_backend_selection_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PDESIM_FFT", "scipy")
    assert isinstance(get_backend(), ScipyBackend)
    monkeypatch.setenv("PDESIM_FFT", "mkl")
    with pytest.raises(ValueError, match="PDESIM_FFT"):
        get_backend()
    monkeypatch.delenv("PDESIM_FFT")
    monkeypatch.setenv("PDESIM_FFT_THREADS", "two")
    with pytest.raises(ValueError, match="PDESIM_FFT_THREADS"):
        get_backend()


def test_fftw_wisdom_is_saved_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("PDESIM_CACHE_DIR", str(tmp_path))
    backend = PyFFTWBackend(threads=1, planner="estimate")
    u = np.zeros((1, 20))
    out = np.empty((1, 11), dtype=complex)
    backend.execute("rfft", u, out, 1)
    files = list(tmp_path.glob("fftw-*.json"))
    assert len(files) == 1 and "wisdom" in files[0].read_text()
    again = PyFFTWBackend(threads=1, planner="estimate")
    assert again.wisdom_path == files[0]


def test_reproducible_plans_scope_the_estimate_planner_and_restore_the_process(monkeypatch):
    pyfftw = pytest.importorskip("pyfftw")
    monkeypatch.setenv("PDESIM_FFT_PLANNER", "measure")
    monkeypatch.delenv("PDESIM_FFT_WISDOM", raising=False)
    outside = get_backend()
    system = make_system("ks1d", L=22.0, N=64)

    def exponent() -> float:
        return lyapunov_spectrum(system, 1, t_end=2000.0, dt=0.25).exponents[0]

    with reproducible_plans():
        inside = get_backend()
        assert inside is not outside
        assert (inside.planner, inside.wisdom) == ("FFTW_ESTIMATE", False)
        first = exponent()
    assert get_backend() is outside
    assert os.environ["PDESIM_FFT_PLANNER"] == "measure" and "PDESIM_FFT_WISDOM" not in os.environ
    exponent()  # measured plans for the same transforms, and their wisdom, in between

    def wisdom() -> list[bytes]:  # FFTW's wisdom, as a set of lines (import reorders it)
        return sorted(b"".join(pyfftw.export_wisdom()).splitlines())

    before = wisdom()
    with reproducible_plans():
        again = exponent()
    assert again == first  # a chaotic run: equal to the last bit only with equal plans
    assert wisdom() == before
    assert fft_backends.REPRODUCIBLE_ENVIRONMENT["PDESIM_FFT_PLANNER"] == "estimate"


def test_work_arrays_are_made_once_per_key():
    from pdesim.work_arrays import WorkArrays

    calls = []

    def make(shape):
        calls.append(shape)
        return np.empty(shape)

    work = WorkArrays()
    first = work.get((2, 3), make, (2, 3))
    assert work.get((2, 3), make, (2, 3)) is first
    assert work.get(("other", (2, 3)), make, (2, 3)) is not first
    assert calls == [(2, 3), (2, 3)]
    assert len(work.values()) == 2
