"""What both command lines say about themselves (issue 19): ``--version``, help text for
every option with its default, ``pdesim list NAME``, the bifurcation command's system
name, ``--device auto`` and ``--quiet`` hiding only progress bars."""

import argparse
from pathlib import Path

import pytest

import pdesim.cli as pdesim_cli
import surrogates.cli as surrogates_cli
from pdesim.common import VERSION
from pdesim.systems import SYSTEMS


def parsers():
    """(prog, parser) for both CLIs and every sub-command, recursively."""
    found = []

    def walk(parser):
        found.append((parser.prog, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)

    walk(pdesim_cli.build_parser())
    walk(surrogates_cli.build_parser())
    return found


@pytest.mark.parametrize("main", [pdesim_cli.main, surrogates_cli.main])
def test_version_is_the_package_version(main, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.split()[-1] == VERSION


def test_every_option_has_help_and_shows_its_default():
    checked = 0
    for prog, parser in parsers():
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{prog} {choice.dest}: no help text"
                continue
            name = action.option_strings[0] if action.option_strings else action.dest
            assert action.help and action.help.strip(), f"{prog} {name}: no help text"
            checked += 1
            if pdesim_cli.shows_default(action):
                assert f"default: {action.default}" in text or (
                    f"default {action.default}" in text
                ), f"{prog} {name}: its default {action.default!r} is not in the help"
    assert checked > 60


def test_defaults_named_by_the_issue_are_in_the_help():
    helps = {prog: " ".join(p.format_help().split()) for prog, p in parsers()}
    assert "number of trajectories (default: 1)" in helps["pdesim run"]
    assert "root random seed (default: 0)" in helps["pdesim run"]
    train = helps["surrogates train"]
    assert "--model {" in train and "(default: walrus)" in train
    assert "(default: tiny)" in train and "(default: auto)" in train
    assert "(default: None)" not in train and "(default: False)" not in train


def test_list_name_shows_one_system(capsys):
    assert pdesim_cli.main(["list", "rd_spiral"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rd_spiral: ")
    assert "ks1d" not in out and "barkley" not in out
    assert "methods: etdrk4, ifdp5" in out
    assert "stable_spiral: d1=0.1" in out  # a preset with its values
    assert "default 20.0" in out and "> 0" in out  # a parameter's default and range
    assert pdesim_cli.main(["list", "chialvo_ring_star"]) == 0
    assert "pdesim bifurcation chialvo_ring_star" in capsys.readouterr().out
    for name in SYSTEMS:
        assert pdesim_cli.main(["list", name]) == 0
        assert capsys.readouterr().out.startswith(f"{name}: {SYSTEMS[name].summary}")


def test_list_of_an_unknown_name_is_one_line_naming_the_systems(capsys):
    assert pdesim_cli.main(["list", "ks3d"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown system 'ks3d'" in lines[0] and ", ".join(sorted(SYSTEMS)) in lines[0]


def test_bifurcation_takes_the_registry_name_and_names_it_for_the_old_one(tmp_path, capsys):
    out = str(tmp_path / "b.png")
    argv = ["--range", "0", "0.1", "--out", out]
    assert pdesim_cli.main(["bifurcation", "chialvo", *argv]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "use `pdesim bifurcation chialvo_ring_star`" in line
    assert pdesim_cli.main(["bifurcation", "ks1d", *argv]) == 2
    assert "allowed: chialvo_ring_star" in capsys.readouterr().err
    assert pdesim_cli.main(["bifurcation", "chialvo_ring_star", "--set", "N=3", *argv]) == 2
    assert "--set N=" in capsys.readouterr().err


# -- --quiet hides progress bars only; --device auto; the eval progress bar


def test_quiet_keeps_the_summary_and_wrote_lines_of_run_and_show(tmp_path, capsys):
    h5, png = tmp_path / "r.h5", tmp_path / "r.png"
    argv = ["run", "ks1d", "--t-end", "2", "--out", str(h5), "--plot", str(png)]
    assert pdesim_cli.main([*argv, "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "1 trajectory x 9 frames" in quiet.out
    assert f"wrote {h5}" in quiet.out and f"wrote {png}" in quiet.out
    assert quiet.err == ""
    h5.unlink()
    assert pdesim_cli.main(argv) == 0  # without --quiet: the same lines and a bar
    loud = capsys.readouterr()
    assert loud.out.splitlines()[1:] == quiet.out.splitlines()[1:]
    assert "step" in loud.err
    assert pdesim_cli.main(["show", str(h5), "--out", str(tmp_path / "s.png"), "--quiet"]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 's.png'}\n"


@pytest.mark.parametrize("quiet", [True, False])
def test_quiet_keeps_the_summary_of_data(tmp_path, capsys, monkeypatch, quiet):
    """``pdesim data``'s bar and summary are the CLI's: the generator is stood in for."""
    import pdesim.data
    from pdesim.recipes import Summary

    def generate(recipe, out, workers=None, scheduler=None, progress=None):
        for _ in recipe.shards():
            progress({})
        return Summary(recipe.name, recipe.size, str(tmp_path / "d"), files_written=4)

    monkeypatch.setattr(pdesim.data, "generate", generate)
    recipe = Path(__file__).resolve().parents[1] / "datasets" / "ks1d.toml"
    argv = ["data", str(recipe), "--out", str(tmp_path)] + ["--quiet"] * quiet
    assert pdesim_cli.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ks1d (small) -> ") and "4 files written" in captured.out
    assert ("file" in captured.err) is not quiet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step run trained through the CLI with the default --device (auto) and
    --quiet: (run directory, stdout, stderr)."""
    import contextlib
    import io

    import torch
    from test_surrogates_data import KS1D, write_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cli")
    data = write_dataset(root / "ks1d", KS1D, n_traj=4, n_t=40, splits=("train", "valid", "test"))
    argv = ["train", "--data", str(data), "--out", str(root / "run"), "--steps", "2"]
    argv += ["--batch-size", "4", "--n-steps-input", "3", "--val-every", "0", "--threads", "1"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert surrogates_cli.main([*argv, "--quiet"]) == 0
    return root / "run", out.getvalue(), err.getvalue()


def test_train_device_auto_is_recorded_as_the_device_used_and_quiet_keeps_the_summary(
    trained,
):
    import json

    import torch

    run, out, err = trained
    assert json.loads(out)["steps"] == 2  # the summary is printed
    assert err == ""
    config = json.loads((run / "config.json").read_text())
    assert config["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert surrogates_cli.resolve_device("auto") == config["device"]
    assert surrogates_cli.resolve_device("cuda:0") == "cuda:0"


def test_eval_reports_progress_per_forecaster_and_quiet_hides_only_the_bar(
    trained, capsys, monkeypatch
):
    import surrogates.evaluate

    run = trained[0]
    calls = []
    real = surrogates.evaluate.evaluate

    def recording(cfg, progress=None):
        def both(*report):
            calls.append(report)
            progress(*report)

        return real(cfg, progress=both)

    monkeypatch.setattr(surrogates.evaluate, "evaluate", recording)
    argv = ["eval", str(run), "--horizon", "4", "--lyapunov", "0.05", "--no-reservoir"]
    argv += ["--threads", "1"]
    assert surrogates_cli.main(argv) == 0
    loud = capsys.readouterr()
    total = calls[0][1]
    assert [c[0] for c in calls] == list(range(total + 1)) and total >= 4
    assert all(c[1] == total and c[2].startswith("ks1d: ") for c in calls)
    assert "walrus" in calls[0][2] and "persistence" in " ".join(c[2] for c in calls)
    assert "ks1d: " in loud.err and "forecaster" in loud.err  # the bar, on stderr

    assert surrogates_cli.main([*argv, "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "| twin |" in quiet.out and "report: " in quiet.out
    assert quiet.out.count("\n") == loud.out.count("\n")
    assert quiet.err == ""
