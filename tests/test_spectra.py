"""The one shell-summed spectrum: Parseval, a single mode in its shell, and the
surrogates' energy spectrum as the same numbers on a 2 pi grid."""

import numpy as np
import pytest

from pdesim.diagnostics import isotropic_spectrum
from surrogates.metrics import energy_spectrum


@pytest.mark.parametrize(
    "shape, lengths",
    [((4, 64), (22.0,)), ((4, 63), (5.0,)), ((3, 48, 32), (20.0, 10.0)), ((2, 8, 8, 6), (1, 1, 2))],
)
def test_the_shell_sum_is_the_mean_square(shape, lengths):
    field = 0.7 + np.random.default_rng(1).normal(size=shape)
    space = tuple(range(-len(lengths), 0))
    _, e = isotropic_spectrum(field, lengths)
    np.testing.assert_allclose(e.sum(-1), (field**2).mean(space), rtol=1e-12)
    _, few = isotropic_spectrum(field, lengths, n_bins=3)  # the rest summed into the last
    assert few.shape[-1] == 3
    np.testing.assert_allclose(few.sum(-1), (field**2).mean(space), rtol=1e-12)
    np.testing.assert_array_equal(few[..., :2], e[..., :2])


def test_a_single_mode_lands_in_its_shell():
    length, n, m = 22.0, 64, 5
    x = np.arange(n) * length / n
    k, e = isotropic_spectrum(0.3 + 2.0 * np.cos(2 * np.pi * m * x / length), (length,))
    assert k[1] - k[0] == pytest.approx(2 * np.pi / length)  # radians per unit length
    assert len(k) == n // 2 + 1 and k[m] == pytest.approx(2 * np.pi * m / length)
    expected = np.zeros(len(k))
    expected[0], expected[m] = 0.09, 2.0  # mean^2 and a^2 / 2
    np.testing.assert_allclose(e, expected, atol=1e-12)
    # 2-D: |k| = 5 dk exactly for the mode (3, 4), whatever its direction
    lx, nx = 8.0, 32
    x, y = np.meshgrid(*[np.arange(nx) * lx / nx] * 2, indexing="ij")
    k, e = isotropic_spectrum(np.sin(2 * np.pi * (3 * x - 4 * y) / lx), (lx, lx))
    assert int(np.argmax(e)) == 5 and e[5] == pytest.approx(0.5)
    assert e.sum() == pytest.approx(0.5)


def test_the_surrogates_energy_spectrum_is_it_on_complete_shells():
    rng = np.random.default_rng(2)
    frames = rng.normal(size=(3, 2, 64))
    k, e = energy_spectrum(frames)
    _, full = isotropic_spectrum(frames, (2 * np.pi,))
    assert k.tolist() == list(range(33))  # integer wavenumbers, units of the fundamental
    np.testing.assert_array_equal(e, full)  # 1-D: every shell is complete
    np.testing.assert_allclose(e.sum(-1), (frames**2).mean(-1), rtol=1e-12)
    square = rng.normal(size=(3, 1, 16, 16))
    k, e = energy_spectrum(square)
    _, full = isotropic_spectrum(square, (2 * np.pi, 2 * np.pi))
    assert len(k) == 9 and full.shape[-1] == 12  # the corners reach |k| = 8 sqrt(2)
    np.testing.assert_array_equal(e, full[..., :9])  # the corner shells are dropped
    with pytest.raises(ValueError, match="square grid"):
        energy_spectrum(rng.normal(size=(1, 1, 16, 8)))
