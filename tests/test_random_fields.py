"""The one random band-limited field every random initial condition is drawn from."""

import numpy as np
import pytest
import scipy.fft

from pdesim.grid import Grid
from pdesim.systems.base import band_limited_noise, random_band_field


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_the_field_is_zero_mean_and_holds_only_the_band(boundary):
    grid = Grid((10.0, 6.0), (32, 24), boundary=boundary)
    field = random_band_field(grid, np.random.default_rng(1), 3)
    assert field.shape == (32, 24) and abs(field.mean()) < 1e-12
    if boundary == "periodic":
        coeffs = np.fft.rfftn(field)
        modes = np.meshgrid(np.fft.fftfreq(32, 1 / 32), np.arange(13), indexing="ij")
    else:  # cosine modes: the field meets du/dn = 0
        coeffs = scipy.fft.dctn(field, type=2)
        modes = np.meshgrid(np.arange(32), np.arange(24), indexing="ij")
    outside = (np.abs(modes[0]) > 3) | (np.abs(modes[1]) > 3)
    assert np.abs(coeffs[outside]).max() < 1e-10 * np.abs(coeffs).max()


def test_the_draw_depends_only_on_the_generator():
    grid = Grid((22.0,), (64,))
    first = random_band_field(grid, np.random.default_rng(5), 8)
    np.testing.assert_array_equal(first, random_band_field(grid, np.random.default_rng(5), 8))
    noise = band_limited_noise(grid, np.random.default_rng(5), 8, std=2.0)
    np.testing.assert_array_equal(noise, first * (2.0 / first.std()))
