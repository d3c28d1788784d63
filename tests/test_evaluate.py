"""The evaluation report: end to end on a tiny run, blow-ups, bad input, the CLI."""

import json
import shutil

import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, WALLS2D, write_dataset

from surrogates.cli import main
from surrogates.evaluate import EvalConfig, evaluate
from surrogates.train import CHECKPOINT, TrainConfig, train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(root / "ks1d", KS1D, n_traj=4, n_t=16, splits=("train", "valid", "test"))
    cfg = TrainConfig(
        data=[str(data)],
        out=str(root / "run"),
        steps=2,
        batch_size=4,
        n_steps_input=3,
        val_every=0,
        threads=1,
    )
    train(cfg)
    return root / "run"


def test_report_end_to_end(run):
    report = evaluate(EvalConfig(str(run), horizon=10, lyapunov=0.05))["ks1d"]
    out = run / "eval" / "ks1d"
    for name in ("report.json", "summary.md", "error_vs_lead.png", "spectra.png", "spacetime.png"):
        assert (out / name).stat().st_size > 0
    on_disk = json.loads((out / "report.json").read_text())
    assert set(on_disk["forecasters"]) == {
        "walrus (step 2)",
        "persistence",
        "climatology",
        "dmd",
        "twin",
    }
    pers = report["forecasters"]["persistence"]
    # the horizons are the first crossings of the per-trajectory curves, in steps x dt x lambda
    h = pers["horizons"]["vpt_0.5"]
    assert h["lyapunov_median"] == pytest.approx(h["median"] * report["dt"] * 0.05)
    curve = np.array(pers["curves"]["vrmse"]["median"])
    assert len(curve) == 10 and curve[0] < curve[-1]
    # climatology is the training mean: its VRMSE stays near 1 against any frame's spread
    assert pers["blew_up"] == 0 and pers["stopped_at"]["median"] == 10
    assert "| persistence |" in (out / "summary.md").read_text()


def test_a_model_that_blows_up_is_reported(run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken, ignore=shutil.ignore_patterns("eval"))
    state = torch.load(broken / CHECKPOINT, weights_only=True)
    state["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in state["model"].items()
    }
    torch.save(state, broken / CHECKPOINT)
    report = evaluate(EvalConfig(str(broken), horizon=5, lyapunov=0.05))["ks1d"]
    model = report["forecasters"]["walrus (step 2)"]
    assert model["blew_up"] == report["n_trajectories"]
    assert model["stopped_at"]["median"] == 0
    assert model["horizons"]["vpt_0.5"]["median"] == 0
    on_disk = json.loads((broken / "eval" / "ks1d" / "report.json").read_text())
    assert on_disk["forecasters"]["walrus (step 2)"]["long_run"]["d_stsp"] is None


def test_bad_input(run, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"horizon=99; allowed: 1\.\.13"):
        evaluate(EvalConfig(str(run), horizon=99, lyapunov=0.05))
    other = tmp_path / "mismatch"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("eval"))
    walls = write_dataset(tmp_path / "walls", WALLS2D, n_t=8, splits=("train", "test"))
    cfg = json.loads((other / "config.json").read_text())
    cfg["data"] = [str(walls)]
    (other / "config.json").write_text(json.dumps(cfg))
    assert main(["eval", str(other), "--horizon", "3", "--lyapunov", "0.05"]) == 2
    assert "error" in capsys.readouterr().err


def test_cli_prints_the_summary(run, capsys):
    assert main(["eval", str(run), "--horizon", "4", "--lyapunov", "0.05", "--threads", "1"]) == 0
    assert "| twin |" in capsys.readouterr().out
