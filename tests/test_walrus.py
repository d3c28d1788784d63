"""The small Walrus: shapes, adaptive strides, jitter, field vocabulary, delta and scaling."""

import pytest
import torch

from surrogates.data import OPEN, PERIODIC, WALL, DatasetInfo
from surrogates.models import build
from surrogates.models.jitter import geometry, jitter, strides_for, unjitter
from surrogates.models.walrus import WalrusConfig
from surrogates.train import TrainConfig


def info(shape, fields=("u",), bcs=None, constants=(), grid_type="cartesian", name="d"):
    dims = ("x", "y", "z")[: len(shape)]
    bcs = bcs or tuple((PERIODIC, PERIODIC) for _ in shape)
    return DatasetInfo(name, name, grid_type, dims, tuple(shape), fields, constants, bcs, ())


def window(b, t, c, shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, c, *shape, generator=gen) + 1.0


@pytest.mark.parametrize(
    ("shape", "bcs"),
    [
        ((32,), ((PERIODIC, PERIODIC),)),
        ((64,), ((WALL, OPEN),)),
        ((16, 16), ((PERIODIC, PERIODIC), (PERIODIC, PERIODIC))),
        ((32, 48), ((WALL, WALL), (PERIODIC, PERIODIC))),
        ((24, 16), ((OPEN, OPEN), (WALL, OPEN))),
    ],
)
def test_shapes_for_1d_and_2d_at_several_resolutions(shape, bcs):
    fields = ("u", "v")
    model = build("tiny", [info(shape, fields, bcs)])
    x = window(2, 3, 2, shape)
    delta, d = model(x, bcs, fields, fields)
    assert delta.shape == (2, 3, 2, *shape)
    assert d.shape == (2, 1, 2, *[1] * len(shape))
    assert torch.isfinite(delta).all()
    nxt = model.rollout(x, 2, bcs, fields, fields)
    assert nxt.shape == (2, 2, 2, *shape)


def test_strides_follow_walrus_table_and_give_32_or_33_tokens():
    # Walrus's deterministic choice at 32 tokens/axis (reference notes, section 1.5)
    assert [strides_for(n, 32) for n in (128, 256, 512, 1024)] == [(2, 2), (4, 2), (4, 4), (8, 4)]
    assert strides_for(64, 16) == (2, 2)
    cfg = WalrusConfig(dim=16, n_blocks=1, n_heads=1, intermediate_dim=8, groups=2)
    for bc, tokens in ((PERIODIC, 32), (WALL, 33)):
        model = build(WalrusConfig(**{**cfg.to_dict(), "tokens_per_axis": 32}), [info((128,))])
        codec = model.codecs["1"]
        strides = model.strides((128,))
        x, _ = jitter(torch.ones(1, 1, 128), [(bc, bc)], strides)
        columns = torch.tensor([3, 0, 1, 2])
        assert codec.encode(x, columns, 1, strides).shape[-1] == tokens


@pytest.mark.parametrize("n", [17, 1000, 6])
def test_resolution_no_stride_fits(n):
    with pytest.raises(ValueError, match=f"resolution {n} on x"):
        build("tiny", [info((n,))])


BC_CASES = [
    [(PERIODIC, PERIODIC)],
    [(WALL, WALL)],
    [(OPEN, OPEN)],
    [(WALL, OPEN)],
    [(PERIODIC, PERIODIC), (WALL, WALL)],
    [(OPEN, WALL), (PERIODIC, PERIODIC)],
    [(OPEN, OPEN), (WALL, WALL)],
]


@pytest.mark.parametrize("bcs", BC_CASES)
def test_jitter_is_exactly_invertible_for_every_boundary_type(bcs):
    shape = (32, 24)[: len(bcs)]
    strides = [strides_for(n, 16) for n in shape]
    x = torch.randn(3, 2, *shape)
    rolls = set()
    for _ in range(20):
        y, record = jitter(x, bcs, strides)
        assert torch.equal(unjitter(y[:, :2], record), x)
        rolls.add(record.rolls)
        for axis, (n, (lo, _)) in enumerate(zip(shape, bcs, strict=True)):
            extra, eff_stride = geometry(strides[axis])
            bound = n // 2 - 1 if lo == PERIODIC else extra + eff_stride // 2 - 1
            assert abs(record.rolls[axis]) <= bound
        # flags: interior cells carry the bias flag; padding carries WALL/OPEN flags
        flags = unjitter(y[:, 2:], record)
        assert torch.equal(flags[:, 0], torch.ones_like(flags[:, 0]))
        assert flags[:, 1:].abs().sum() == 0
        walls = [s for pair in bcs for s in pair].count(WALL)
        assert (y[:, 3].sum() > 0) == (walls > 0)
    assert len(rolls) > 1  # the patch grid really moves
    y, record = jitter(x, bcs, strides, enabled=False)
    assert set(record.rolls) == {0} and torch.equal(unjitter(y[:, :2], record), x)


def test_jitter_is_on_at_inference_and_can_be_switched_off():
    shape, bcs = (32,), [(WALL, WALL)]
    x = window(2, 3, 1, shape)
    on = build("tiny", [info(shape, bcs=tuple(bcs))]).eval()
    # jitter offsets are few on a 32-point grid: two draws can agree (seeded: five do not)
    torch.manual_seed(0)
    first, *others = (on.rollout(x, 1, bcs, ["u"], ["u"]) for _ in range(5))
    assert not all(torch.equal(first, other) for other in others)
    off = build("tiny", [info(shape, bcs=tuple(bcs))], jitter=False).eval()
    assert torch.equal(off.rollout(x, 1, bcs, ["u"], ["u"]), off.rollout(x, 1, bcs, ["u"], ["u"]))


def test_field_vocabulary_shares_one_model_between_field_sets():
    a = info((16, 16), ("u",), name="a")
    b = info((32, 32), ("u", "v"), ((WALL, WALL), (WALL, WALL)), name="b")
    model = build("tiny", [a, b])
    assert model.fields == ["u", "v"]
    xa, xb = window(2, 3, 1, (16, 16)), window(2, 3, 2, (32, 32), seed=1)
    torch.manual_seed(0)
    ya = model(xa, a.boundary_conditions, ["u"], ["u"])[0]
    # dataset a uses only its own slots: v's input column and output row get no gradient
    ya.square().mean().backward()
    enc, dec = model.codecs["2"].enc1.grad, model.codecs["2"].dec2.grad
    assert enc[:, 4].abs().sum() == 0 and enc[:, 3].abs().sum() > 0  # columns 3 = u, 4 = v
    assert dec[:, 1].abs().sum() == 0 and dec[:, 0].abs().sum() > 0
    model.zero_grad()
    yb = model(xb, b.boundary_conditions, ["u", "v"], ["u", "v"])[0]
    yb.square().mean().backward()
    assert model.codecs["2"].enc1.grad[:, 4].abs().sum() > 0
    assert yb.shape == (2, 3, 2, 32, 32)
    with pytest.raises(ValueError, match=r"incompatible fields: \['w'\]"):
        model(window(1, 2, 1, (16, 16)), a.boundary_conditions, ["w"], ["w"])
    with pytest.raises(ValueError, match="incompatible fields"):
        model.check(info((16, 16), ("u", "pressure")))


def test_graphs_and_unbuilt_dimensions_are_refused():
    with pytest.raises(ValueError, match="graph datasets are not supported"):
        build("tiny", [info((12,), grid_type="graph", bcs=((OPEN, OPEN),))])
    model = build("tiny", [info((16,))])
    with pytest.raises(ValueError, match="built for"):
        model.check(info((16, 16)))
    with pytest.raises(ValueError, match="config='huge'"):
        build("huge", [info((16,))])


def test_zero_change_predicts_persistence_and_output_scales_with_input():
    shape, bcs = (16, 16), [(PERIODIC, PERIODIC)] * 2
    model = build("tiny", [info(shape, ("u", "v"))]).eval()
    x = window(2, 4, 2, shape)
    torch.manual_seed(1)
    pred = model.rollout(x, 1, bcs, ["u", "v"], ["u", "v"])
    # RMS normalisation without mean subtraction: u -> c u maps predictions to c times
    torch.manual_seed(1)
    scaled = model.rollout(3.5 * x, 1, bcs, ["u", "v"], ["u", "v"])
    torch.testing.assert_close(scaled, 3.5 * pred, rtol=1e-4, atol=1e-5)
    # a decoder that outputs no change: the prediction is the last frame
    with torch.no_grad():
        model.codecs["2"].dec2.zero_()
        model.codecs["2"].dec2_bias.zero_()
    same = model.rollout(x, 3, bcs, ["u", "v"], ["u", "v"])
    torch.testing.assert_close(same, x[:, -1:].expand(-1, 3, -1, -1, -1), rtol=0, atol=0)


def test_delta_scale_is_the_rms_of_frame_changes():
    model = build("tiny", [info((16,))])
    t = torch.arange(5.0).view(1, 5, 1, 1)
    x = 2.0 + 0.5 * t * torch.ones(1, 5, 1, 16)  # every change is 0.5
    s, d = model.scales(x)
    torch.testing.assert_close(d.flatten(), torch.tensor([0.5]))
    torch.testing.assert_close(
        s.flatten(), (2.0 + 0.5 * torch.arange(5.0)).square().mean().sqrt()[None]
    )


def test_a_steady_window_is_absorbing_under_the_changes_scale_and_not_under_the_state():
    """A window that does not change: Walrus's delta scale falls to eps, so the model
    cannot move it whatever it outputs; with delta_scale="state" the change is scaled
    by the window's RMS."""
    shape, bcs = (16,), [(PERIODIC, PERIODIC)]
    frame = 1.0 + torch.sin(torch.linspace(0, 6.283, 16))
    steady = frame.view(1, 1, 1, 16).expand(1, 4, 1, 16).clone()
    moved = {}
    for scale in ("changes", "state"):
        model = build("tiny", [info(shape)], delta_scale=scale).eval()
        with torch.no_grad():
            model.codecs["1"].dec2_bias.fill_(1.0)  # a network that asks for a change
        s, d = model.scales(steady)
        expected = model.cfg.eps if scale == "changes" else s.flatten().item()
        torch.testing.assert_close(d.flatten(), torch.tensor([expected]))
        nxt = model.rollout(steady, 1, bcs, ["u"], ["u"])
        moved[scale] = (nxt[:, 0] - steady[:, -1]).abs().max().item()
    assert moved["changes"] < 1e-3 < moved["state"]


def test_an_unknown_delta_scale_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"delta_scale='rms'.*changes, state"):
        WalrusConfig(delta_scale="rms")


def test_jitter_mean_averages_independent_draws():
    """The mean of M jitter draws has 1/M of one draw's variance (the draws are
    independent), keeps the draws' expectation, and the scale d is the window's."""
    from surrogates.models.walrus import JitterMean

    shape, bcs = (32,), [(PERIODIC, PERIODIC)]
    x = window(1, 3, 1, shape)
    model = build("tiny", [info(shape)]).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # an untrained output layer predicts ~0: make it speak
            p.add_(0.05 * torch.randn_like(p))
        torch.manual_seed(1)
        single = torch.stack([model(x, bcs, ["u"], ["u"])[0] for _ in range(200)])
        mean4 = JitterMean(model, 4)
        torch.manual_seed(2)
        pairs = [mean4(x, bcs, ["u"], ["u"]) for _ in range(60)]
    averaged = torch.stack([delta for delta, _ in pairs])
    ratio = float(averaged.var(0).mean() / single.var(0).mean())
    assert 0.15 < ratio < 0.4, ratio  # 1/4, within the sampling error of 60 draws
    spread = float(single.std(0).mean())
    assert float((averaged.mean(0) - single.mean(0)).abs().mean()) < 0.2 * spread
    assert all(torch.equal(d, model.scales(x)[1]) for _, d in pairs)
    rolled = mean4.rollout(x, 3, bcs, ["u"], ["u"])
    assert rolled.shape == (1, 3, 1, 32) and torch.isfinite(rolled).all()


def test_jitter_mean_refuses_a_model_without_jitter_and_a_bad_count():
    from surrogates.models.walrus import JitterMean

    model = build("tiny", [info((32,))])
    with pytest.raises(ValueError, match="trained with jitter"):
        JitterMean(build("tiny", [info((32,))], jitter=False), 4)
    with pytest.raises(ValueError, match="jitter_samples"):
        JitterMean(model, 0)
    with pytest.raises(TypeError, match="jitter_samples"):
        JitterMean(model, 2.5)


def test_the_plain_model_is_blind_to_amplitude_and_scale_input_is_not():
    """With the per-sample RMS normalisation and ``delta_scale="state"`` the model maps
    c u to c times its prediction for u (every amplitude of a pattern is a trajectory
    of the model, whatever the data's dynamics); with ``scale_input`` the window's log
    RMS is an input and the prediction for c u differs."""
    frames = window(1, 3, 1, (32,))
    bcs = [(PERIODIC, PERIODIC)]
    gaps = {}
    for flag in (False, True):
        torch.manual_seed(0)
        model = build("tiny", [info((32,))], jitter=False, delta_scale="state", scale_input=flag)
        with torch.no_grad():
            big = model.rollout(frames, 3, bcs, ["u"], ["u"])
            small = model.rollout(0.1 * frames, 3, bcs, ["u"], ["u"])
        gaps[flag] = float((small / 0.1 - big).abs().max() / big.abs().max())
    assert gaps[False] < 1e-5 < 1e-2 < gaps[True]
    with pytest.raises(ValueError, match="scale_input applies to walrus only"):
        TrainConfig(data=["x"], out="o", model="ncde", scale_input=True)
