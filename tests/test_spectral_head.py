"""The Walrus model's per-Fourier-mode output head (surrogates.models.spectral_head)."""

import json

import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, KS2D, PERIODIC, WALLS2D, write_dataset
from test_train import config, one_thread  # noqa: F401 (an autouse fixture)

from surrogates.cli import main
from surrogates.data import WellWindows, scan
from surrogates.models import build
from surrogates.models.spectral_head import SpectralHead, resolved_band
from surrogates.runs import load_model
from surrogates.train import TrainConfig, batch_loss, fit_head


@pytest.fixture(scope="module")
def ks1d(tmp_path_factory):
    splits = ("train", "valid", "test")
    return write_dataset(tmp_path_factory.mktemp("ks1d"), KS1D, n_traj=4, n_t=24, splits=splits)


def test_an_unfitted_head_is_the_identity_on_the_network_output(ks1d):
    """With persistence 1 and gain 1 the head returns the network's change unchanged,
    so the model equals the same weights without a head (jitter off: deterministic)."""
    info = scan(ks1d)
    torch.manual_seed(0)
    plain = build("tiny", [info], jitter=False)
    headed = build("tiny", [info], jitter=False, spectral_head=True)
    headed.load_state_dict(plain.state_dict(), strict=False)
    window = WellWindows(ks1d, "train", 3, 1)[0]["input_fields"].movedim(-1, 1)[None]
    bcs = [(PERIODIC, PERIODIC)]
    with torch.no_grad():
        a, _ = plain(window, bcs, ["u"], ["u"])
        b, _ = headed(window, bcs, ["u"], ["u"])
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_fit_gives_the_wiener_factor_and_the_residual_scale_of_a_linear_process():
    """Frames of a known per-mode AR(1), u' = a u + w e (white u and e), seen with
    white input noise of variance sigma^2 per mode, on a 2-D grid: the persistence is
    g = 1 / (1 + sigma^2) and the gain sqrt((a - g)^2 + w^2 + g^2 sigma^2), to within
    their sampling error (1 / sqrt(n))."""
    shape, n, sigma = (8, 12), 20_000, 0.5
    gen = torch.Generator().manual_seed(1)
    head = SpectralHead(1, shape)
    # functions of (|k_x|, k_y): a real field's modes k and -k are one mode
    fold = torch.from_numpy(np.abs(np.fft.fftfreq(shape[0], 1 / shape[0])).astype(int))
    table = (shape[0] // 2 + 1, shape[1] // 2 + 1)
    true_a = (torch.rand(table, generator=gen, dtype=torch.float64) * 0.9)[fold]
    true_w = (torch.rand(table, generator=gen, dtype=torch.float64) + 0.5)[fold]

    def white():
        return torch.randn(n, 1, *shape, generator=gen, dtype=torch.float64)

    inverse = dict(s=shape, dim=(-2, -1), norm="ortho")
    now = white()
    spec = torch.fft.rfftn(now, dim=(-2, -1), norm="ortho")
    nxt = torch.fft.irfftn(
        true_a * spec + true_w * torch.fft.rfftn(white(), dim=(-2, -1), norm="ortho"), **inverse
    )
    head.fit([(now, now + sigma * white(), nxt)], torch.tensor([0]))
    g = 1 / (1 + sigma**2)
    expected_gain = ((true_a - g) ** 2 + true_w**2 + g**2 * sigma**2).sqrt()
    # the real FFT's self-conjugate modes are real, with half the samples of the complex
    # ones (but E|e|^2 = 1 too in the orthonormal convention): 10 / sqrt(n) covers both
    tol = 10 / np.sqrt(n)
    assert (head.persistence[0].double() - g).abs().max() < tol
    assert ((head.gain[0].double() / expected_gain) - 1).abs().max() < tol
    clean = SpectralHead(1, shape)
    clean.fit([(now, now, nxt)], torch.tensor([0]))
    torch.testing.assert_close(clean.persistence, torch.ones_like(clean.persistence))


def test_whitened_l1_is_one_for_an_error_of_one_residual_scale_at_every_mode():
    """An error whose every mode has modulus w(k) measures 1; modes outside the 2/3
    band or at the floor are left out."""
    shape = (24,)
    head = SpectralHead(1, shape)
    gain = torch.logspace(0, -5, 13)
    head.gain[0] = gain
    phase = torch.linspace(0, 3, 13)
    phase[[0, -1]] = 0  # the mean and Nyquist modes of a real field are real
    spec = gain * torch.exp(1j * phase)
    error = torch.fft.irfftn(spec, s=shape, norm="ortho")[None, None]
    band = resolved_band(shape)
    assert band.tolist() == [True] * 9 + [False] * 4
    assert head.whitened_l1(error.float(), torch.tensor([0])).item() == pytest.approx(1, rel=1e-4)
    head.gain[0, 3] = 1e-9  # below the floor: not counted, however large its whitened error
    assert head.whitened_l1(error.float(), torch.tensor([0])).item() == pytest.approx(1, rel=1e-4)


def test_fit_on_noisy_inputs_keeps_the_modes_above_the_noise_and_forgets_the_rest(ks1d):
    """Without input noise the persistence is 1 at every mode (Walrus's change
    prediction); with it, the wave's mode (far above the noise) stays near 1 and the
    modes the data holds at round-off go to ~0."""
    ds = WellWindows(ks1d, "train", 3, 1)
    heads = {}
    for noise in (0.0, 0.05):
        model = build("tiny", [ds.info], spectral_head=True)
        fit_head(model, [ds], config([ks1d], "unused", input_noise=noise), "cpu")
        heads[noise] = model.head.persistence[0]
    torch.testing.assert_close(heads[0.0], torch.ones_like(heads[0.0]))
    assert float(heads[0.05][1]) > 0.99
    assert heads[0.05][8:].abs().max() < 1e-3


def test_a_run_with_a_spectral_head_keeps_its_statistics_for_evaluation(ks1d, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--data", str(ks1d), "--out", str(run), "--steps", "2", "--quiet"]
    assert main([*args, "--val-every", "0", "--spectral-head", "--whitened-loss", "0.1"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["spectral_head"] and saved["model_config"]["spectral_head"]
    _, model, _ = load_model(run)
    assert model.head is not None
    assert not torch.equal(model.head.gain, torch.ones_like(model.head.gain))
    ds = WellWindows(ks1d, "train", 3, 1)
    fresh = build("tiny", [ds.info], spectral_head=True)
    fit_head(fresh, [ds], TrainConfig(data=[str(ks1d)], out="unused"), "cpu")
    torch.testing.assert_close(model.head.gain, fresh.head.gain)


def test_the_whitened_loss_adds_to_the_l1_loss(ks1d):
    ds = WellWindows(ks1d, "train", 3, 1)
    samples = [ds[i] for i in range(4)]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    batch["dataset_index"] = torch.zeros(4, dtype=torch.long)
    model = build("tiny", [ds.info], jitter=False, spectral_head=True)
    fit_head(model, [ds], config([ks1d], "unused"), "cpu")
    plain = batch_loss(model, batch, [ds.info], config([ks1d], "unused", spectral_head=True), "cpu")
    cfg = config([ks1d], "unused", spectral_head=True, whitened_loss=0.5)
    both = batch_loss(model, batch, [ds.info], cfg, "cpu")
    assert float(both.detach()) > float(plain.detach()) > 0


def test_bad_spectral_head_settings_are_refused_by_name(tmp_path, capsys):
    walls = scan(write_dataset(tmp_path / "walls", WALLS2D, splits=("train",)))
    with pytest.raises(ValueError, match="periodic boundaries on every axis"):
        build("tiny", [walls], spectral_head=True)
    ks2d = scan(write_dataset(tmp_path / "ks2d", KS2D, splits=("train",)))
    small = scan(
        write_dataset(tmp_path / "small", ("ks2d", {"L": 10.0, "N": 32}), splits=("train",))
    )
    with pytest.raises(ValueError, match="needs one grid"):
        build("tiny", [ks2d, small], spectral_head=True)
    with pytest.raises(ValueError, match=r"whitened_loss=0.1.*0 without spectral_head"):
        TrainConfig(data=["x"], out="o", whitened_loss=0.1)
    with pytest.raises(ValueError, match="whitened_loss=-1"):
        TrainConfig(data=["x"], out="o", spectral_head=True, whitened_loss=-1.0)
    with pytest.raises(ValueError, match="spectral_head applies to walrus only"):
        TrainConfig(data=["x"], out="o", model="ncde", spectral_head=True)
    out = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "walls"), "--out", str(out), "--steps", "1"]
    assert main([*args, "--quiet", "--val-every", "0", "--spectral-head"]) == 2
    assert "periodic boundaries" in capsys.readouterr().err
    assert not (out / "checkpoint.pt").exists()
