"""Training options for long rollouts: curriculum, noise, teacher forcing, EMA, selection."""

import json

import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, PERIODIC, write_dataset
from test_train import config, one_thread  # noqa: F401 (an autouse fixture)

from surrogates.checkpoints import BEST
from surrogates.cli import main
from surrogates.data import WellWindows
from surrogates.ema import WeightEMA
from surrogates.models import build
from surrogates.runs import build_model
from surrogates.train import (
    TrainConfig,
    batch_loss,
    rollout_length,
    train,
    validate_rollouts,
)


@pytest.fixture(scope="module")
def ks1d(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ks1d"), KS1D, n_traj=4, n_t=24)


def a_batch(root, n_out: int, n: int = 4) -> tuple[dict, WellWindows]:
    ds = WellWindows(root, "train", n_steps_input=3, n_steps_output=n_out)
    samples = [ds[i] for i in np.linspace(0, len(ds) - 1, n).astype(int)]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    batch["dataset_index"] = torch.zeros(n, dtype=torch.long)
    return batch, ds


def test_rollout_curriculum_grows_linearly():
    cfg = TrainConfig(data=["x"], out="o", rollout_steps=5, rollout_curriculum=100)
    assert [rollout_length(cfg, s) for s in (0, 24, 25, 50, 99, 100, 10_000)] == [
        1,
        1,
        2,
        3,
        4,
        5,
        5,
    ]
    assert rollout_length(TrainConfig(data=["x"], out="o", rollout_steps=5), 0) == 5


def test_full_teacher_forcing_is_the_mean_of_one_step_losses(ks1d):
    """With alpha = 1 every rollout-loss input is the true window, so the K-step loss is
    the mean of K one-step losses on windows shifted by hand (jitter off: deterministic)."""
    torch.manual_seed(0)
    batch, ds = a_batch(ks1d, n_out=3)
    model = build("tiny", [ds.info], jitter=False)
    cpu = torch.device("cpu")
    forced = config([ks1d], "unused", rollout_steps=3, teacher_forcing=1.0)
    total = batch_loss(model, batch, [ds.info], forced, cpu)
    frames = torch.cat([batch["input_fields"], batch["output_fields"]], 1)
    one_step = config([ks1d], "unused")
    parts = []
    for k in range(3):
        shifted = dict(batch)
        shifted["input_fields"] = frames[:, k : k + 3]
        shifted["output_fields"] = frames[:, k + 3 : k + 4]
        if k == 0:
            parts.append(batch_loss(model, shifted, [ds.info], one_step, cpu))
            continue
        # later rollout steps score only the last position of the window
        x = shifted["input_fields"].movedim(-1, 2)
        delta, d = model(x, batch["boundary_conditions"][0], ["u"], ["u"])
        true = (shifted["output_fields"].movedim(-1, 2)[:, 0] - x[:, -1]) / d[:, 0]
        parts.append((delta[:, -1] - true).abs().mean())
    torch.testing.assert_close(total, torch.stack(parts).mean())
    # free-running (alpha = 0) feeds the model its own predictions: a different loss
    free = batch_loss(model, batch, [ds.info], config([ks1d], "unused", rollout_steps=3), cpu)
    assert abs(float((free - total).detach())) > 1e-6


def test_input_noise_targets_the_clean_frames(ks1d):
    """A model that predicts exactly the change from its (noisy) input back to the clean
    next frame scores zero loss with noise on; one that predicts no change scores more
    with noise than without."""
    batch, ds = a_batch(ks1d, n_out=1)

    class Oracle(torch.nn.Module):
        """Knows the clean frames: returns (clean_{t+1} - input_t) / d."""

        def __init__(self, clean_next):
            super().__init__()
            self.clean_next = clean_next

        def forward(self, window, bcs, in_fields, out_fields):
            d = torch.full_like(window[:, :1, :, :1], 0.5)
            return (self.clean_next - window) / d, d

    x = batch["input_fields"].movedim(-1, 2)
    y = batch["output_fields"].movedim(-1, 2)
    oracle = Oracle(torch.cat([x[:, 1:], y[:, :1]], 1))
    cpu = torch.device("cpu")
    noisy = config([ks1d], "unused", input_noise=0.2)
    assert float(batch_loss(oracle, batch, [ds.info], noisy, cpu)) == pytest.approx(0, abs=1e-6)

    # a model that predicts no change pays for the noise it did not undo
    class NoChange(torch.nn.Module):
        def forward(self, window, bcs, in_fields, out_fields):
            d = torch.full_like(window[:, :1, :, :1], 0.5)
            return torch.zeros_like(window), d

    def loss_of(sigma):
        torch.manual_seed(1)
        cfg = config([ks1d], "unused", input_noise=sigma)
        return float(batch_loss(NoChange(), batch, [ds.info], cfg, cpu))

    assert loss_of(0.2) > loss_of(0.0) > 0


def test_weight_ema_matches_its_closed_form():
    model = torch.nn.Linear(3, 2)
    w0 = model.weight.detach().clone()
    ema = WeightEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(30):
        ema.update(model)
    betas = [min(0.9, (1 + t) / (10 + t)) for t in range(30)]
    expected = 1.0 + (w0 - 1.0) * float(np.prod(betas))
    torch.testing.assert_close(ema.shadow["weight"], expected)
    with ema.applied(model):
        torch.testing.assert_close(model.weight, expected)
    assert torch.all(model.weight == 1.0)  # own weights back after the block
    with pytest.raises(ValueError, match=r"ema decay=1\.5"):
        WeightEMA(model, 1.5)


def test_validate_rollouts_scores_persistence_on_frozen_data(tmp_path):
    """On data that never changes, persistence never crosses VRMSE 0.5: VPT = horizon."""
    root = write_dataset(tmp_path / "frozen", KS1D, n_traj=2, n_t=20)
    import h5py

    from pdesim.io import DIGEST_ATTR, content_digest

    for path in (root / "data").rglob("*.hdf5"):
        with h5py.File(path, "r+") as h5:
            u = h5["t0_fields/u"]
            u[...] = np.repeat(u[:, :1], u.shape[1], axis=1)
            u.attrs[DIGEST_ATTR] = content_digest(u)  # a deliberate edit, not damage

    class Persist(torch.nn.Module):
        def rollout(self, window, n_steps, bcs, in_fields, out_fields):
            return window[:, -1:].repeat(1, n_steps, 1, 1)

    ds = WellWindows(root, "valid", n_steps_input=3, n_steps_output=10)
    score = validate_rollouts(Persist(), [ds], n_starts=4, device=torch.device("cpu"))
    assert score["vpt_frames"] == 10
    assert score["mean_log_vrmse"] < np.log(1e-3)

    class Zero(Persist):
        def rollout(self, window, n_steps, bcs, in_fields, out_fields):
            return torch.zeros_like(window[:, -1:]).repeat(1, n_steps, 1, 1)

    assert validate_rollouts(Zero(), [ds], 4, torch.device("cpu"))["vpt_frames"] == 0


def test_best_checkpoint_is_the_best_validated_step_and_survives_resume(ks1d, tmp_path):
    kw = dict(
        steps=6,
        val_every=2,
        val_horizon=8,
        val_starts=4,
        ema=0.9,
        rollout_steps=3,
        rollout_curriculum=4,
        input_noise=0.05,
        lr=3e-3,
        warmup=100,  # inside the warm-up the rate does not depend on the total steps
    )
    _, summary = train(config([ks1d], tmp_path / "straight", **kw))
    rows = [json.loads(r) for r in (tmp_path / "straight/metrics.jsonl").read_text().splitlines()]
    vals = [r for r in rows if "val/vpt_frames" in r]
    assert [r["step"] for r in vals] == [2, 4, 6]
    key = [(r["val/vpt_frames"], -r["val/mean_log_vrmse"]) for r in vals]
    first_best = vals[max(range(3), key=lambda i: (key[i], -i))]["step"]
    best = torch.load(tmp_path / "straight" / BEST, weights_only=True)
    assert best["step"] == first_best == summary["selected"]["step"]
    # interrupted after step 2 and resumed: the same best weights
    _, first = train(config([ks1d], tmp_path / "resumed", **{**kw, "steps": 2}))
    _, second = train(config([ks1d], tmp_path / "resumed", **kw, resume=True))
    assert 0 < first["train_seconds"] < second["train_seconds"]  # wall time adds up
    again = torch.load(tmp_path / "resumed" / BEST, weights_only=True)
    assert again["step"] == best["step"]
    for name, value in best["model"].items():
        torch.testing.assert_close(again["model"][name], value, rtol=1e-5, atol=1e-6)


def test_without_a_horizon_best_holds_the_final_weights(ks1d, tmp_path):
    model, _ = train(config([ks1d], tmp_path / "run"))
    best = torch.load(tmp_path / "run" / BEST, weights_only=True)
    assert best["step"] == 4
    for name, value in model.state_dict().items():
        torch.testing.assert_close(best["model"][name], value)


def test_bad_long_horizon_options_are_refused(ks1d, tmp_path, capsys):
    for key, value, match in (
        ("input_noise", -0.1, "input_noise=-0.1"),
        ("teacher_forcing", 1.5, "teacher_forcing=1.5"),
        ("ema", 1.0, "ema=1.0"),
        ("rollout_curriculum", -1, "rollout_curriculum=-1"),
        ("val_horizon", -5, "val_horizon=-5"),
        ("val_starts", 0, "val_starts=0"),
        ("delta_scale", "rms", "delta_scale='rms'"),
    ):
        with pytest.raises(ValueError, match=match):
            config([ks1d], tmp_path / "r", **{key: value})
    with pytest.raises(ValueError, match="walrus only"):
        config([ks1d], tmp_path / "r", model="ncde", input_noise=0.1)
    with pytest.raises(ValueError, match="delta_scale applies to walrus only"):
        config([ks1d], tmp_path / "r", model="ncde", delta_scale="state")
    assert main(["train", "--data", str(ks1d), "--out", str(tmp_path / "x"), "--ema", "2"]) == 2
    assert "ema=2.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--input-noise",
        "--rollout-curriculum",
        "--teacher-forcing",
        "--ema",
        "--delta-scale",
    ):
        assert flag in text
    assert "--val-horizon" in text and "(default: 0)" in text


def test_init_from_starts_a_fine_tuning_phase_from_a_runs_weights(ks1d, tmp_path):
    train(config([ks1d], tmp_path / "first"))
    start = torch.load(tmp_path / "first" / BEST, weights_only=True)["model"]
    # one step at a vanishing learning rate: the weights are those it started from
    tuned, _ = train(
        config(
            [ks1d],
            tmp_path / "tuned",
            steps=1,
            lr=1e-12,
            warmup=0,
            init_from=str(tmp_path / "first" / BEST),
        )
    )
    for name, value in tuned.state_dict().items():
        torch.testing.assert_close(value, start[name], rtol=0, atol=1e-9)
    with pytest.raises(FileNotFoundError, match="init_from="):
        train(config([ks1d], tmp_path / "x", init_from=str(tmp_path / "missing.pt")))
    other = write_dataset(tmp_path / "other", ("ks1d", {"L": 22.0, "N": 32}), n_traj=2, n_t=12)
    import h5py

    for path in (other / "data").rglob("*.hdf5"):
        with h5py.File(path, "r+") as h5:
            h5["t0_fields"].move("u", "v")
            h5["t0_fields"].attrs["field_names"] = ["v"]
    with pytest.raises(ValueError, match="holds fields"):
        train(config([other], tmp_path / "y", init_from=str(tmp_path / "first" / BEST)))


def test_the_delta_scale_travels_from_the_run_to_the_evaluated_model(ks1d, tmp_path):
    model, _ = train(config([ks1d], tmp_path / "run", delta_scale="state"))
    assert model.cfg.delta_scale == "state"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    rebuilt = build_model(saved, [WellWindows(ks1d, "train", 4, 1).info])
    assert rebuilt.cfg.delta_scale == "state"


def test_conserve_mean_keeps_every_predicted_frame_on_the_context_mean(ks1d, tmp_path):
    """Trained with --conserve-mean, the model's changes have zero spatial mean (to
    float32 round-off), so a rollout keeps the last context frame's mean; the plain
    model's rollout does not. The option travels through config.json to evaluation."""
    assert max(WellWindows(ks1d, "train", 4, 1).mean_drift().values()) < 1e-6
    run = tmp_path / "run"
    assert main(["train", "--data", str(ks1d), "--out", str(run), "--steps", "2",
                 "--val-every", "0", "--quiet", "--conserve-mean"]) == 0  # fmt: skip
    saved = json.loads((run / "config.json").read_text())
    info = WellWindows(ks1d, "train", 4, 1).info
    kept, plain = build_model(saved, [info]), build("tiny", [info])
    assert kept.cfg.conserve_mean and not plain.cfg.conserve_mean
    window = WellWindows(ks1d, "valid", 4, 1)[0]["input_fields"].permute(0, 2, 1)[None]
    bcs = [(PERIODIC, PERIODIC)]
    with torch.no_grad():
        drift = {
            name: (m.rollout(window, 20, bcs, ["u"], ["u"]).mean(-1) - window[:, -1].mean(-1))
            .abs()
            .max()
            .item()
            for name, m in (("kept", kept), ("plain", plain))
        }
    assert drift["kept"] < 1e-5 < drift["plain"]


def test_conserve_mean_is_refused_for_data_whose_mean_drifts(tmp_path, capsys):
    root = write_dataset(tmp_path / "drift", KS1D, n_traj=2, n_t=16, mean_drift=0.5)
    assert WellWindows(root, "train", 4, 1).mean_drift()["u"] > 0.1
    out = tmp_path / "run"
    args = ["train", "--data", str(root), "--out", str(out), "--steps", "1", "--quiet"]
    assert main([*args, "--conserve-mean"]) == 2
    err = capsys.readouterr().err
    assert "conserve_mean" in err and "'u' " not in err and "u (drift" in err
    assert not (out / "checkpoint.pt").exists()
    assert main([*args, "--conserve-mean", "--model", "ncde"]) == 2
    assert "applies to walrus only" in capsys.readouterr().err


def test_resume_refuses_an_option_the_earlier_run_did_not_record(ks1d, tmp_path):
    run = tmp_path / "run"
    train(config([ks1d], run, steps=1))
    saved = json.loads((run / "config.json").read_text())
    del saved["conserve_mean"]  # a run written before the option existed
    (run / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"conserve_mean: False -> True"):
        train(config([ks1d], run, steps=2, resume=True, conserve_mean=True))


def test_a_checkpoint_saved_before_an_option_existed_resumes_with_its_default(ks1d, tmp_path):
    run = tmp_path / "run"
    train(config([ks1d], run, steps=1))
    path = run / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    del state["model_config"]["conserve_mean"]
    torch.save(state, path)
    _, summary = train(config([ks1d], run, steps=2, resume=True))
    assert summary["steps"] == 2
