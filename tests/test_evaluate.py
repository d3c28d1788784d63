"""The evaluation report: end to end on a tiny run, instability counts, the common
start, rollouts.hdf5, bad input, the CLI, and the scoring against hand cases."""

import json
import math
import shutil

import h5py
import numpy as np
import pytest
import torch
from test_surrogates_data import KS1D, WALLS2D, write_dataset

import surrogates.evaluate
from pdesim import make_system
from pdesim.io import write_run
from pdesim.simulate import Run
from surrogates import metrics as m
from surrogates.checkpoints import BEST
from surrogates.cli import main
from surrogates.data import scan
from surrogates.evaluate import EvalConfig, evaluate, lyapunov_exponent, write_rollouts
from surrogates.forecasters import Persistence
from surrogates.report import markdown
from surrogates.rollout import Rollout, trajectories
from surrogates.scoring import noise_floor, prepare, score
from surrogates.train import TrainConfig, train

KEYS = {"walrus", "persistence", "climatology", "dmd", "twin"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(root / "ks1d", KS1D, n_traj=4, n_t=40, splits=("train", "valid", "test"))
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


@pytest.fixture(scope="module")
def report(run):
    """The default evaluation: every test frame after the model's 3 context frames."""
    return evaluate(EvalConfig(str(run), lyapunov=0.05, reservoir=False))["ks1d"]


def test_report_end_to_end(run, report):
    out = run / "eval" / "ks1d"
    for name in (
        "report.json",
        "summary.md",
        "error_vs_lead.png",
        "spectra.png",
        "spacetime.png",
        "rollouts.hdf5",
    ):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*tmp"))
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == report
    assert set(on_disk["forecasters"]) == KEYS
    assert on_disk["forecasters"]["walrus"]["label"] == "walrus (step 2)"
    # the default horizon: every one of the 40 test frames after the 3 context frames
    assert report["context_frames"] == 3 and report["horizon"] == 37
    # 37 steps x dt 0.1 x lambda 0.05; the long-run span is the last half, steps 18..37
    assert report["rollout_lyapunov"] == pytest.approx(37 * 0.1 * 0.05)
    assert report["long_run_span"]["steps"] == 19
    assert report["long_run_span"]["lyapunov"] == pytest.approx(19 * 0.1 * 0.05)
    assert report["long_run_enough"] is False
    pers = report["forecasters"]["persistence"]
    h = pers["horizons"]["vpt_0.5"]
    assert h["lyapunov_median"] == pytest.approx(h["median"] * report["dt"] * 0.05)
    curve = np.array(pers["curves"]["vrmse"]["median"])
    assert len(curve) == 37 and curve[0] < curve[-1]
    # persistence never stops or leaves the envelope, but it is frozen: 4 collapses of 4
    assert pers["unstable"] == {"nonfinite": 0, "envelope": 0, "collapse": 4, "unstable": 4}
    assert pers["collapse_ratio"]["per_trajectory"] == [0.0] * 4
    assert pers["checks"]["nonfinite"] == {"pass": True, "value": 0}
    assert pers["checks"]["collapse"] == {"pass": False, "value": 4}
    assert pers["checks"]["all"] is False
    assert pers["stopped_at"]["median"] == 37
    # spectrum check: the value and a limit of a factor 2
    spec = pers["checks"]["spectrum"]
    assert spec["value"] == pers["long_run"]["spectrum_log2_error"] and spec["limit"] == 1.0
    assert spec["pass"] is (spec["value"] <= 1.0)
    floor = report["noise_floor"]
    assert pers["checks"]["d_h"]["limit"] == pytest.approx(2 * floor["d_h"])
    for key in ("d_stsp", "d_h", "w1", "acf", "spectrum_log2_error"):
        assert key in floor and key in pers["long_run"]
    # a 20-Lyapunov-time drift window (4000 steps here) does not fit: not tested
    assert report["settings"]["drift_window_steps"] is None
    assert "drift_time" not in pers["horizons"]
    assert report["settings"]["k_cutoff"] == 32 // 3
    assert report["settings"]["rollout_bound"] == 1e4  # ks1d's blowup_threshold
    assert report["time_scale"]["unit"] == "Lyapunov time"
    text = (out / "summary.md").read_text()
    assert "| persistence |" in text and "| noise floor (true vs true) |" in text
    assert "below the 100 Λt a long-run test needs" in text
    row = next(line for line in text.splitlines() if line.startswith("| persistence |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    # the counts sit right before the long-run columns
    assert cells[6:10] == ["0/4", "0/4", "4/4", "4/4"]
    assert "- persistence: 0 non-finite: true; 0 envelope exits: true; 4 collapses: false" in text
    assert "not evaluated: reservoir" in text.lower()


def test_rollouts_file(run, report):
    test = trajectories(run.parent / "ks1d", "test").frames
    with h5py.File(run / "eval" / "ks1d" / "rollouts.hdf5", "r") as h5:
        assert set(h5) == KEYS | {"truth"}
        assert h5.attrs["context_frames"] == 3
        assert h5.attrs["dt"] == pytest.approx(0.1)
        assert h5.attrs["lambda_max"] == pytest.approx(0.05)
        assert h5["walrus"].attrs["label"] == "walrus (step 2)"
        assert h5["truth"].attrs["label"] == "truth"
        for key in h5:
            assert h5[key]["u"].shape == (4, 37, 32) and h5[key]["u"].dtype == np.float32
        np.testing.assert_array_equal(h5["truth/u"][()], test[:, 3:, 0].astype(np.float32))
        last = test[:, 2:3, 0].astype(np.float32)
        np.testing.assert_array_equal(h5["persistence/u"][()], np.repeat(last, 37, 1))


def test_rollouts_file_is_written_atomically(tmp_path):
    truth = np.zeros((2, 3, 1, 4))
    path = tmp_path / "rollouts.hdf5"
    with pytest.raises(ValueError, match="frames"):
        write_rollouts(path, {"bad": ("bad", np.zeros((2, 2, 1, 4)))}, truth, ["u"], 1, 1.0, None)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    write_rollouts(path, {"zero": ("zero model", truth)}, truth, ["u"], 1, 1.0, None)
    with h5py.File(path) as h5:
        assert math.isnan(h5.attrs["lambda_max"]) and h5["zero"].attrs["label"] == "zero model"
    assert [p.name for p in tmp_path.iterdir()] == ["rollouts.hdf5"]


def test_a_model_that_blows_up_is_reported(run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken, ignore=shutil.ignore_patterns("eval"))
    state = torch.load(broken / BEST, weights_only=True)  # the weights eval loads
    state["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in state["model"].items()
    }
    torch.save(state, broken / BEST)
    report = evaluate(EvalConfig(str(broken), horizon=5, lyapunov=0.05, reservoir=False))["ks1d"]
    model = report["forecasters"]["walrus"]
    assert model["unstable"] == {"nonfinite": 4, "envelope": 0, "collapse": 0, "unstable": 4}
    assert model["stopped_at"]["median"] == 0
    assert model["horizons"]["vpt_0.5"]["median"] == 0
    assert model["checks"]["nonfinite"] == {"pass": False, "value": 4}
    assert model["checks"]["spectrum"]["pass"] is False and model["checks"]["d_h"]["pass"] is False
    on_disk = json.loads((broken / "eval" / "ks1d" / "report.json").read_text())
    assert on_disk["forecasters"]["walrus"]["long_run"]["d_stsp"] is None
    with h5py.File(broken / "eval" / "ks1d" / "rollouts.hdf5") as h5:
        assert np.all(np.isnan(h5["walrus/u"][()]))  # NaN from the stop on


class FakeReservoir(Persistence):
    """Persistence with a washout of 6 frames, standing in for the reservoir."""

    name = "reservoir"
    n_context = 6

    def begin(self, context, constants):
        assert context.shape[1] == 6
        return context

    def describe(self):
        return {"washout": 6}


def test_every_forecaster_starts_after_the_longest_context(run, monkeypatch):
    calls = []

    def select_reservoir(train, valid, horizon, grid=None, seed=0):
        calls.append((train.shape, valid.shape, horizon, seed))
        return FakeReservoir(), {"best": {"washout": 6}, "tried": 3}

    monkeypatch.setattr(surrogates.evaluate, "select_reservoir", select_reservoir)
    report = evaluate(EvalConfig(str(run), lyapunov=0.05))["ks1d"]
    # fitted on train, selected on valid over 8 Lyapunov times = 8 / (0.05 x 0.1) steps
    assert calls == [((4, 40, 1, 32), (4, 40, 1, 32), 1600, 0)]
    res = report["forecasters"]["reservoir"]
    assert res["selection"] == {"best": {"washout": 6}, "tried": 3, "model": {"washout": 6}}
    assert res["n_context"] == 6 and report["forecasters"]["walrus"]["n_context"] == 3
    assert report["context_frames"] == 6 and report["horizon"] == 34
    test = trajectories(run.parent / "ks1d", "test").frames
    with h5py.File(run / "eval" / "ks1d" / "rollouts.hdf5") as h5:
        assert h5.attrs["context_frames"] == 6
        np.testing.assert_array_equal(h5["truth/u"][()], test[:, 6:, 0].astype(np.float32))
        for key in ("persistence", "reservoir"):
            np.testing.assert_array_equal(h5[f"{key}/u"][:, 0], test[:, 5, 0].astype(np.float32))


def test_the_reservoir_is_selected_on_the_valid_split(run):
    """The real echo-state network: its washout (> the model's 3) sets the common context."""
    pytest.importorskip("surrogates.reservoir")
    # lambda 10 per time unit, dt 0.1: the selection runs over 8 Lyapunov times = 8 steps
    grid = {"size": [60], "spectral_radius": [0.5], "washout": [7], "ridge": [1e-4, 1e-2]}
    report = evaluate(EvalConfig(str(run), lyapunov=10.0, reservoir_grid=grid))["ks1d"]
    res = report["forecasters"]["reservoir"]
    washout = res["selection"]["best"]["washout"]
    assert res["selection"]["horizon"] == 8 and washout == 7
    assert len(res["selection"]["combinations"]) == 2  # the search, as select_reservoir ran it
    assert report["context_frames"] == res["n_context"] == washout
    assert report["horizon"] == 40 - washout
    assert "| reservoir |" in (run / "eval" / "ks1d" / "summary.md").read_text()
    test = trajectories(run.parent / "ks1d", "test").frames
    with h5py.File(run / "eval" / "ks1d" / "rollouts.hdf5") as h5:
        assert h5["reservoir"].attrs["label"] == "reservoir"
        assert h5["reservoir/u"].shape == (4, 40 - washout, 32)
        np.testing.assert_array_equal(h5["truth/u"][()], test[:, washout:, 0].astype(np.float32))


def test_bad_input(run, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"horizon=99; allowed: 1\.\.37 .*ks1d.* 40 frames"):
        evaluate(EvalConfig(str(run), horizon=99, lyapunov=0.05, reservoir=False))
    with pytest.raises(ValueError, match=r"context=2; allowed: 3\.\.39 .*walrus 3"):
        evaluate(EvalConfig(str(run), context=2, lyapunov=0.05, reservoir=False))
    with pytest.raises(ValueError, match=r"horizon=36; allowed: 1\.\.35"):
        evaluate(EvalConfig(str(run), context=5, horizon=36, lyapunov=0.05, reservoir=False))
    # a test split no longer than the model's context
    short = tmp_path / "short"
    shutil.copytree(run, short, ignore=shutil.ignore_patterns("eval"))
    data = write_dataset(tmp_path / "ks1d_short", KS1D, n_traj=2, n_t=3, splits=("train", "test"))
    cfg = json.loads((short / "config.json").read_text())
    cfg["data"] = [str(data)]
    (short / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"test split too short: .*ks1d_short.* 3 frames"):
        evaluate(EvalConfig(str(short), lyapunov=0.05, reservoir=False))
    other = tmp_path / "mismatch"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("eval"))
    walls = write_dataset(tmp_path / "walls", WALLS2D, n_t=8, splits=("train", "test"))
    cfg["data"] = [str(walls)]
    (other / "config.json").write_text(json.dumps(cfg))
    assert main(["eval", str(other), "--horizon", "3", "--lyapunov", "0.05"]) == 2
    assert "error" in capsys.readouterr().err


def test_lyapunov_exponent_of_a_system_without_tangent_dynamics(tmp_path):
    data = write_dataset(
        tmp_path / "rd", ("rd_spiral", {"L": 10.0, "N": 16, "Ny": 16}), n_t=3, splits=("test",)
    )
    info = scan(data, "test")
    cache = tmp_path / "eval" / "lyapunov.json"
    assert lyapunov_exponent(info, cache) is None
    assert json.loads(cache.read_text())["lambda_max"] is None
    assert lyapunov_exponent(info, cache) is None  # from the cache


@pytest.mark.parametrize(
    "stale",
    [
        {"lambda_max": 1.0, "t_average": 5.0},  # another averaging time
        # measured FFTW plans (0.0485 and 0.0479 in two evaluations minutes apart)
        {"lambda_max": 1.0, "t_average": surrogates.evaluate.LYAPUNOV_T_AVERAGE},
    ],
)
def test_lyapunov_exponent_recomputes_a_stale_cache(tmp_path, stale):
    # an exponent cached at another averaging time (T = 2000 gave 0.0523 +- 0.0041 at
    # L = 22, moving every horizon by 6 %) or with measured plans is recomputed
    data = write_dataset(tmp_path / "ks1d", ("ks1d", {"L": 22.0, "N": 64}), n_t=3, splits=("test",))
    info = scan(data, "test")
    cache = tmp_path / "eval" / "lyapunov.json"
    cache.parent.mkdir()
    cache.write_text(json.dumps(stale))
    lam = lyapunov_exponent(info, cache)
    record = json.loads(cache.read_text())
    assert record["t_average"] == surrogates.evaluate.LYAPUNOV_T_AVERAGE
    assert record["lambda_max"] == lam and record["fft_plans"] == "reproducible"
    # numerics.md: lambda_1 = 0.0482 at L = 22 (T = 60000)
    assert abs(lam - 0.0482) < 3 * record["standard_error"] < 0.002


def test_cli_prints_the_summary(run, capsys):
    args = ["eval", str(run), "--horizon", "4", "--lyapunov", "0.05", "--threads", "1"]
    assert main([*args, "--context", "4", "--no-reservoir"]) == 0
    out = capsys.readouterr().out
    assert "| twin |" in out and "rollouts.hdf5" in out
    # a context above the model's 3 frames on request: everyone starts after frame 4
    assert "after the same 4 context frames" in out
    report = json.loads((run / "eval" / "ks1d" / "report.json").read_text())
    assert report["context_frames"] == 4 and report["horizon"] == 4


def test_a_dataset_folder_named_unlike_its_dataset_is_reported_under_the_folder(tmp_path, capsys):
    # `pdesim data --size tiny` writes the ks1d dataset to a folder ks1d_tiny: the
    # reports, the files and the CLI's summary all go by the folder
    data = write_dataset(tmp_path / "ks1d_tiny", KS1D, n_traj=2, n_t=20, splits=("train", "test"))
    cfg = TrainConfig(
        data=[str(data)],
        out=str(tmp_path / "run"),
        steps=1,
        batch_size=2,
        n_steps_input=3,
        val_every=0,
        threads=1,
    )
    train(cfg)
    args = ["eval", cfg.out, "--horizon", "3", "--lyapunov", "0.05", "--no-reservoir"]
    assert main([*args, "--threads", "1", "--quiet"]) == 0
    assert "| twin |" in capsys.readouterr().out
    assert (tmp_path / "run" / "eval" / "ks1d_tiny" / "rollouts.hdf5").is_file()


# -- scoring against hand-computable cases


def _waves(n_traj=4, n_t=40, n=16):
    """sum_{k=1..5} cos(k x - 2 pi k t / 20 + phase_b) / k on 16 points: energy a_k^2 / 2
    at k = 1..5 = k_c in every frame, full temporal periods over 20 steps."""
    x = 2 * np.pi * np.arange(n) / n
    t = np.arange(n_t)[:, None, None]
    phase = np.linspace(0, 3, n_traj)[:, None, None, None]
    return sum(np.cos(k * x - 2 * np.pi * k * t / 20 + phase) / k for k in range(1, 6))


@pytest.fixture(scope="module")
def reference():
    truth = _waves()
    rms = np.sqrt((truth**2).mean(3)).max((0, 1))
    basis = m.pod(truth.reshape(-1, 1, 16), 2)
    return prepare(truth, rms, basis, max_lag=5, drift_window=10)


def test_a_rollout_equal_to_the_truth_scores_perfectly(reference):
    truth = reference.truth
    res = score(Rollout(truth.copy(), np.full(4, 40), 1.0), reference)
    assert all(not f.any() for f in res["flags"].values())
    for key in ("vpt_0.3", "vpt_0.5", "vpt_1.0", "corr_time", "drift_time", "stable_time"):
        assert res[key].tolist() == [40] * 4  # censored at the rollout length
    lr = res["long_run"]
    assert lr["spectrum_log2_error"] == pytest.approx(0, abs=1e-12)
    assert lr["acf"] == pytest.approx(0, abs=1e-12) and lr["w1"] == 0
    assert lr["d_h"] == pytest.approx(0, abs=1e-6) and lr["d_stsp"] == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(res["collapse_ratio"], 1.0)
    floor = noise_floor(reference)
    assert floor["truth_drifts"] == 0  # every frame has the same spectrum
    assert floor["spectrum_log2_error"] == pytest.approx(0, abs=1e-12)


def test_instability_counts_and_long_run_statistics(reference):
    truth = reference.truth
    pred = truth.copy()
    pred[1, 5:] *= 10  # RMS 10 x the truth's > 5 x the training's, from step 5
    pred[2] *= 0.3  # temporal std 0.3 x the truth's < 0.5
    res = score(Rollout(pred, np.full(4, 40), 1.0), reference)
    assert res["envelope_exit"].tolist() == [40, 5, 40, 40]
    assert res["flags"]["envelope"].tolist() == [False, True, False, False]
    assert res["flags"]["collapse"].tolist() == [False, False, True, False]
    assert res["flags"]["unstable"].tolist() == [False, True, True, False]
    np.testing.assert_allclose(res["collapse_ratio"], [1, 10, 0.3, 1], rtol=1e-12)
    # VRMSE of 0.3 u against u: 0.7 sqrt(15 / 16) (unbiased variance of 16 points)
    assert res["vpt_0.3"].tolist() == [40, 5, 0, 40]
    assert res["vpt_1.0"].tolist() == [40, 5, 40, 40]
    # drift windows of 10: [0, 10) holds the x100 energy of steps 5..9 and the x0.09
    assert res["drift_time"].tolist() == [40, 0, 0, 40]
    assert res["stable_time"].tolist() == [40, 0, 0, 40]
    # pooled late spectrum: (1 + 100 + 0.09 + 1) / 4 times the truth's at every k <= 5
    lr = res["long_run"]
    assert lr["spectrum_log2_error"] == pytest.approx(math.log2(102.09 / 4))
    # stopped trajectory 3 at step 30: non-finite, and no long-run statistics at all
    pred[3, 30:] = np.nan
    res = score(Rollout(pred, np.array([40, 40, 40, 30]), 1.0), reference)
    assert {k: int(f.sum()) for k, f in res["flags"].items()} == {
        "nonfinite": 1,
        "envelope": 1,
        "collapse": 1,
        "unstable": 3,
    }
    assert all(v == math.inf for v in res["long_run"].values())


def test_the_summary_names_the_counts_and_the_short_span(report):
    lines = markdown(report).splitlines()
    header = next(line for line in lines if line.startswith("| forecaster |"))
    cols = [c.strip() for c in header.split("|")[1:-1]]
    i = cols.index("non-finite")
    assert cols[i : i + 4] == ["non-finite", "envelope", "collapse", "unstable"]
    assert cols[i + 4].startswith("spectrum") and cols[i + 5] == "D_H"
    assert "blew up" not in header


# -- datasets without a Lyapunov exponent: horizons in the system's own time scale

RD = ("rd_spiral", {"L": 10.0, "N": 16, "Ny": 16})
OMEGA = np.pi  # the rotation of the synthetic spirals: a period of 2 time units


def write_rotating(root, n_traj: int = 4, n_t: int = 40, splits=("train", "valid", "test")):
    """rd_spiral files whose phase pair rotates uniformly, ``u + i v = exp(i theta)`` with
    ``theta = k x - OMEGA t + phi`` (a random phase ``phi`` per trajectory), 0.1 apart."""
    name, params = RD
    grid = make_system(name, **params).grid
    x, y = np.meshgrid(*grid.coords, indexing="ij")
    t = np.arange(n_t) * 0.1
    rng = np.random.default_rng(3)
    for split in splits:
        phi = rng.uniform(0, 2 * np.pi, (n_traj, 1, 1, 1))
        theta = 2 * np.pi * (x + y) / grid.lengths[0] - OMEGA * t[None, :, None, None] + phi
        fields = {"u": np.cos(theta), "v": np.sin(theta)}
        run = Run(name, fields, t, grid, params, 0.1, 0, "test", 0.0, {"n_traj": n_traj})
        write_run(root / "data" / split / f"{name}_chunk_000.hdf5", run)
    return root


@pytest.fixture(scope="module")
def rd_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rd")
    data = write_rotating(root / "rd_spiral")
    cfg = TrainConfig(
        data=[str(data)], out=str(root / "run"), steps=2, batch_size=4, n_steps_input=3,
        val_every=0, threads=1,
    )  # fmt: skip
    train(cfg)
    return root / "run"


def test_an_rd_dataset_evaluates_without_lyapunov_in_rotation_periods(rd_run):
    report = evaluate(EvalConfig(str(rd_run), reservoir=False))["rd_spiral"]
    assert report["lambda_max"] is None and report["lyapunov_time"] is None
    why = json.loads((rd_run / "eval" / "rd_spiral" / "lyapunov.json").read_text())["why"]
    assert "rd_spiral" in why and "tangent" in why
    assert report["settings"]["rollout_bound"] == 100.0  # rd_spiral's blowup_threshold
    scale = report["time_scale"]
    assert scale["unit"] == "rotation period"
    assert scale["length"] == pytest.approx(2 * np.pi / OMEGA, rel=1e-6)
    assert "phase" in scale["source"] and "u + i v" in scale["source"]
    for entry in report["forecasters"].values():
        for hz in entry["horizons"].values():
            assert hz["lyapunov_median"] is None
            assert hz["scaled_median"] == pytest.approx(hz["time_median"] / scale["length"])
    text = (rd_run / "eval" / "rd_spiral" / "summary.md").read_text()
    assert "horizons in rotation periods" in text and "T_rot" in text


def test_without_exponent_or_phase_pair_horizons_are_in_time_units(tmp_path):
    info = scan(write_dataset(tmp_path / "ks1d", KS1D, n_t=5, splits=("test",)), "test")
    test = np.zeros((2, 5, 1, 32))
    scale = surrogates.evaluate.time_scale(info, test, 0.1, None)
    assert scale["unit"] == "time unit" and scale["length"] == 1.0
    assert "ks1d" in scale["source"] and "phase" in scale["source"]
    lyap = surrogates.evaluate.time_scale(info, test, 0.1, 0.05)
    assert lyap["unit"] == "Lyapunov time" and lyap["length"] == pytest.approx(20.0)


def test_jitter_samples_average_the_walrus_prediction_and_are_recorded(run, tmp_path):
    """--jitter-samples M evaluates the mean of M jitter draws per step: a different
    rollout from one draw's, named so in the report; refused for 0 and for a model
    without jitter to average."""
    mine = tmp_path / "run"
    shutil.copytree(run, mine, ignore=shutil.ignore_patterns("eval"))
    rollouts = mine / "eval" / "ks1d" / "rollouts.hdf5"
    reports, frames = [], []
    for samples in (1, 2):
        cfg = EvalConfig(
            str(mine), horizon=4, lyapunov=0.05, reservoir=False, jitter_samples=samples
        )
        reports.append(evaluate(cfg)["ks1d"])
        with h5py.File(rollouts) as h5:
            frames.append(h5["walrus/u"][:])
    assert [r["settings"]["jitter_samples"] for r in reports] == [1, 2]
    assert "jitter" not in reports[0]["forecasters"]["walrus"]["label"]
    assert "mean of 2 jitter draws" in reports[1]["forecasters"]["walrus"]["label"]
    assert not np.array_equal(*frames)
    assert main(["eval", str(mine), "--jitter-samples", "0"]) == 2
    cfg = json.loads((mine / "config.json").read_text())
    (mine / "config.json").write_text(json.dumps({**cfg, "jitter": False}))
    with pytest.raises(ValueError, match="trained with jitter"):
        evaluate(EvalConfig(str(mine), horizon=4, lyapunov=0.05, reservoir=False, jitter_samples=2))


def test_conserve_mean_at_inference_keeps_the_context_mean_and_is_recorded(run, tmp_path):
    """--conserve-mean at evaluation: the model's rollout keeps the spatial mean of the
    last context frame (it moves without), the report names it; refused, naming the
    field, for a run whose data do not keep their mean."""
    mine = tmp_path / "run"
    shutil.copytree(run, mine, ignore=shutil.ignore_patterns("eval"))
    rollouts = mine / "eval" / "ks1d" / "rollouts.hdf5"
    reports, drifts = [], []
    for conserve in (False, True):
        cfg = EvalConfig(str(mine), lyapunov=0.05, reservoir=False, conserve_mean=conserve)
        reports.append(evaluate(cfg)["ks1d"])
        with h5py.File(rollouts) as h5:
            context = h5.attrs["context_frames"]
            predicted = h5["walrus/u"][:].astype(np.float64)
        test = trajectories(json.loads((mine / "config.json").read_text())["data"][0], "test")
        last = test.frames[:, context - 1, 0].astype(np.float64).mean(axis=-1)
        drifts.append(np.abs(predicted.mean(axis=-1) - last[:, None]).max())
    assert drifts[1] < 1e-5 < drifts[0]
    assert [r["settings"]["conserve_mean"] for r in reports] == [False, True]
    assert "mean conserved" in reports[1]["forecasters"]["walrus"]["label"]
    assert "mean conserved" not in reports[0]["forecasters"]["walrus"]["label"]

    config = json.loads((mine / "config.json").read_text())
    splits = ("train", "valid", "test")
    drifting = write_dataset(tmp_path / "drift", KS1D, 4, 40, splits, mean_drift=0.5)
    (mine / "config.json").write_text(json.dumps({**config, "data": [str(drifting)]}))
    with pytest.raises(ValueError, match=r"spatial mean of u .*evaluate without --conserve-mean"):
        evaluate(EvalConfig(str(mine), lyapunov=0.05, reservoir=False, conserve_mean=True))
