"""Training: VRMSE, schedule, overfitting, resume, bad input, CLI, data-parallel ranks."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, WALLS2D, write_dataset

from surrogates.cli import main
from surrogates.data import WellWindows
from surrogates.models import build
from surrogates.train import TrainConfig, batch_loss, learning_rate, train, vrmse


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ks1d(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ks1d"), KS1D, n_traj=4, n_t=16)


def config(data, out, **kw):
    base = dict(
        data=[str(d) for d in data],
        out=str(out),
        steps=4,
        batch_size=4,
        n_steps_input=3,
        val_every=0,
        checkpoint_every=2,
        threads=1,
    )
    return TrainConfig(**{**base, **kw})


def losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_vrmse_against_its_definition():
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(3, 2, 16, 8, generator=gen) * 4 + 1
    p = y + 0.1 * torch.randn(3, 2, 16, 8, generator=gen)
    yn, pn = y.numpy().astype(np.float64), p.numpy().astype(np.float64)
    expected = np.sqrt(((pn - yn) ** 2).mean((2, 3))) / (yn.std((2, 3)) + 1e-7)
    np.testing.assert_allclose(vrmse(p, y).numpy(), expected, rtol=1e-5)
    # predicting the spatial mean scores exactly 1, the truth 0
    mean = y.mean((2, 3), keepdim=True).expand_as(y)
    torch.testing.assert_close(vrmse(mean, y), torch.ones(3, 2))
    assert vrmse(y, y).abs().max() == 0


def test_learning_rate_schedule():
    cfg = TrainConfig(data=["x"], out="o", steps=110, lr=1e-3, warmup=10, min_lr_ratio=0.1)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 10) == pytest.approx(1e-3)
    assert learning_rate(cfg, 60) == pytest.approx(0.55e-3)  # half-way down the cosine
    assert learning_rate(cfg, 110) == pytest.approx(1e-4)


def test_tiny_model_overfits_one_batch(ks1d):
    torch.manual_seed(0)
    ds = WellWindows(ks1d, "train", n_steps_input=3)
    samples = [ds[i] for i in range(0, len(ds), len(ds) // 4)][:4]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    batch["dataset_index"] = torch.zeros(4, dtype=torch.long)
    model = build("tiny", [ds.info], jitter=False)
    cfg = config([ks1d], "unused")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    history = []
    while len(history) < 300 and (not history or min(history) >= history[0] / 10):
        loss = batch_loss(model, batch, [ds.info], cfg, torch.device("cpu"))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert min(history) < history[0] / 10


def test_checkpoint_resumes_to_the_same_losses(ks1d, tmp_path):
    straight = tmp_path / "straight"
    train(config([ks1d], straight, rollout_steps=2))
    interrupted = tmp_path / "interrupted"
    train(config([ks1d], interrupted, rollout_steps=2, steps=2))
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        train(config([ks1d], interrupted, rollout_steps=2))
    with pytest.raises(ValueError, match=r"other settings \(lr: 0.0005 -> 0.002\)"):
        train(config([ks1d], interrupted, rollout_steps=2, resume=True, lr=0.002))
    train(config([ks1d], interrupted, rollout_steps=2, resume=True))
    a, b = losses(straight), losses(interrupted)
    assert sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        assert b[step] == pytest.approx(a[step], rel=1e-6, abs=0)


def test_loader_workers_read_the_same_batches(ks1d, tmp_path):
    train(config([ks1d], tmp_path / "inline", steps=3))
    train(config([ks1d], tmp_path / "workers", steps=3, workers=2))
    assert losses(tmp_path / "workers") == losses(tmp_path / "inline")


def test_corrupt_checkpoint_and_bad_input_fail_clearly(ks1d, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        train(config([ks1d], run, resume=True))
    torch.save([1, 2], run / "checkpoint.pt")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        train(config([ks1d], run, resume=True))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(config([tmp_path / "missing"], tmp_path / "r2"))
    with pytest.raises(ValueError, match="resolution 130 on x"):
        bad = write_dataset(tmp_path / "bad", ("ks1d", {"L": 22.0, "N": 130}))
        train(config([bad], tmp_path / "r3"))
    with pytest.raises(ValueError, match="steps=0"):
        config([ks1d], tmp_path / "r4", steps=0)


def test_resuming_with_other_fields_is_refused(ks1d, tmp_path):
    walls = write_dataset(tmp_path / "walls", WALLS2D, n_t=8)
    run = tmp_path / "run"
    train(config([ks1d], run, steps=1))
    with pytest.raises(ValueError, match=r"other settings \(data: "):
        train(config([ks1d, walls], run, steps=2, resume=True))


def test_two_datasets_with_different_fields_train_together(ks1d, tmp_path):
    walls = write_dataset(tmp_path / "walls", WALLS2D, n_t=8)
    model, summary = train(config([ks1d, walls], tmp_path / "run", steps=6, val_every=6))
    assert model.fields == ["u", "n", "c", "w"]
    assert set(summary["validation"]) >= {"ks1d/vrmse", "keller_segel_indirect/vrmse"}
    assert all(np.isfinite(v) for v in summary["validation"].values())


def test_cli_trains_validates_and_writes_the_run(ks1d, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(ks1d), "--model", "walrus", "--config", "tiny"]
    args += ["--out", str(out), "--steps", "3", "--batch-size", "2", "--val-every", "3"]
    assert main([*args, "--no-progress", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "valid one-step VRMSE" in printed and "persistence" in printed
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"] == "tiny" and cfg["fields"] == ["u"] and cfg["steps"] == 3
    assert (out / "checkpoint.pt").exists() and (out / "summary.json").exists()
    assert main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


DDP_SCRIPT = """
import sys, torch
from surrogates.train import TrainConfig, train
data, out, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = TrainConfig(data=[data], out=out, steps=3, batch_size=batch, n_steps_input=3,
                  val_every=0, checkpoint_every=0, threads=1, lr=3e-3, warmup=0)
model, summary = train(cfg)
rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
torch.save(model.state_dict(), f"{out}/weights_{summary['world_size']}_{rank}.pt")
"""


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical_and_match_one_process(ks1d, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    out = tmp_path / "run"
    out.mkdir()
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run([*launch, str(script), str(ks1d), str(out), "4"], check=True, timeout=300)
    subprocess.run([sys.executable, str(script), str(ks1d), str(tmp_path / "one"), "4"], check=True)
    rank0, rank1 = (torch.load(out / f"weights_2_{r}.pt") for r in (0, 1))
    single = torch.load(tmp_path / "one" / "weights_1_0.pt")
    torch.manual_seed(0)  # the script's seed: the same initial weights
    initial = build("tiny", [WellWindows(ks1d).info]).state_dict()
    moved = max((rank0[k] - initial[k]).abs().max() for k in rank0)
    assert moved > 1e-3  # it did train
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # ranks stay bit-identical
        # one process on the same global batch: equal up to float32 summation order,
        # far below how far training moved the weights
        assert (rank0[key] - single[key]).abs().max() < 1e-3 * moved, key
