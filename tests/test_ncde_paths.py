"""Control paths: exactness of each interpolation, NaN handling, time and count channels."""

import pytest
import torch

from surrogates.models.ncde.paths import (
    forward_fill,
    hermite,
    linear,
    observation_channels,
    rectilinear,
)

pytestmark = pytest.mark.usefixtures("float64_torch")


def _times(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.zeros(1), torch.rand(n - 1, generator=g) + 0.2]).cumsum(0)


def _eval_at(path, times, n=5):
    """``(t, X(t))`` at ``n`` local parameters of every interval."""
    ts, xs = [], []
    for k in range(path.n_intervals):
        for s in torch.linspace(0, 1, n):
            ts.append(times[k] + s * (times[k + 1] - times[k]))
            xs.append(path.evaluate(k, s))
    return torch.stack(ts), torch.stack(xs, 1)


def test_linear_reproduces_lines_at_irregular_times():
    t = _times()
    line = lambda s: torch.stack([2.0 * s - 1.0, -0.5 * s + 3.0], -1)  # noqa: E731
    path = linear(t, line(t)[None])
    ts, xs = _eval_at(path, t)
    assert torch.allclose(xs[0], line(ts), atol=1e-12)


def test_hermite_with_exact_slopes_reproduces_cubics():
    t = _times()
    cubic = lambda s: torch.stack([s**3 - 2 * s**2 + s - 1, 0.5 * s**3 + s], -1)  # noqa: E731
    slope = lambda s: torch.stack([3 * s**2 - 4 * s + 1, 1.5 * s**2 + 1], -1)  # noqa: E731
    path = hermite(t, cubic(t)[None], slope(t)[None])
    ts, xs = _eval_at(path, t)
    assert torch.allclose(xs[0], cubic(ts), atol=1e-12)
    # dX/ds = h dX/dt
    k, s = 2, 0.3
    h = t[k + 1] - t[k]
    assert torch.allclose(path.derivative(k, s)[0], h * slope(t[k] + s * h), atol=1e-12)


def test_hermite_backward_differences_lines_knots_and_causality():
    t = _times()
    line = lambda s: torch.stack([3.0 * s + 1.0], -1)  # noqa: E731
    ts, xs = _eval_at(hermite(t, line(t)[None]), t)
    assert torch.allclose(xs[0], line(ts), atol=1e-12)
    x = torch.randn(2, 7, 3)
    path = hermite(t, x)
    for k in range(6):
        assert torch.allclose(path.evaluate(k, 0.0), x[:, k], atol=1e-12)
        assert torch.allclose(path.evaluate(k, 1.0), x[:, k + 1], atol=1e-12)
    # continuous first derivative at interior knots (dX/dt, not dX/ds)
    h = t.diff()
    for k in range(5):
        left = path.derivative(k, 1.0) / h[k]
        right = path.derivative(k + 1, 0.0) / h[k + 1]
        assert torch.allclose(left, right, atol=1e-12)
    # causal: changing x_5 does not change the path before t_4
    y = x.clone()
    y[:, 5] += 1.0
    other = hermite(t, y)
    assert torch.allclose(other.a[:, :4], path.a[:, :4]) and torch.allclose(
        other.d[:, :4], path.d[:, :4]
    )


def test_rectilinear_moves_time_then_values():
    t = torch.tensor([0.0, 1.0, 3.0])
    x = torch.tensor([[[1.0], [2.0], [0.0]]])
    path = rectilinear(t, x)
    knots = torch.cat([path.a, (path.a + path.increments())[:, -1:]], 1)
    expected = torch.tensor([[0, 1], [1, 1], [1, 2], [3, 2], [3, 0]], dtype=torch.float64)
    assert torch.equal(knots[0], expected)
    # each segment moves time or the values, never both
    inc = path.increments()[0]
    assert bool(((inc[:, 0] == 0) | (inc[:, 1:] == 0).all(-1)).all())


def test_forward_fill_and_observation_counts():
    nan = float("nan")
    x = torch.tensor([[[nan, 1.0], [2.0, nan], [nan, nan], [5.0, 4.0]]])
    t = torch.tensor([0.0, 0.5, 2.0, 2.5])
    ch = observation_channels(t, x)
    assert torch.equal(ch[0, :, 0], t)
    # before its first observation a channel takes that first value (back-fill)
    assert torch.equal(ch[0, :, 1], torch.tensor([2.0, 2.0, 2.0, 5.0]))
    assert torch.equal(ch[0, :, 2], torch.tensor([1.0, 1.0, 1.0, 4.0]))
    assert torch.equal(ch[0, :, 3:], torch.tensor([[0, 1], [1, 1], [1, 1], [2, 2]]).double())
    never = forward_fill(torch.full((1, 3, 1), nan))
    assert torch.equal(never, torch.zeros(1, 3, 1))


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="times must increase"):
        linear(torch.tensor([0.0, 0.0, 1.0]), torch.zeros(1, 3, 1))
    with pytest.raises(ValueError, match="knots"):
        linear(torch.tensor([0.0]), torch.zeros(1, 1, 1))
    with pytest.raises(ValueError, match="slopes"):
        hermite(torch.arange(3.0), torch.zeros(1, 3, 1), torch.zeros(1, 2, 1))
