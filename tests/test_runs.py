"""Run directories: the options an old config gets, which weights are loaded, clear errors."""

import pytest

from surrogates.runs import CONFIG, load_model, model_options, weights_path


def test_a_config_written_before_an_option_existed_gets_its_default():
    assert model_options({}) == {"jitter": True}
    assert model_options({"jitter": False, "drop_prob": 0.0, "delta_scale": "changes"}) == {
        "jitter": False
    }
    assert model_options({"drop_prob": 0.1, "delta_scale": "state"}) == {
        "jitter": True,
        "drop_prob": 0.1,
        "delta_scale": "state",
    }


def test_the_selected_weights_are_preferred_to_the_last_checkpoint(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    assert weights_path(tmp_path).name == "checkpoint.pt"
    (tmp_path / "best.pt").write_bytes(b"")
    assert weights_path(tmp_path).name == "best.pt"


def test_missing_and_unfinished_runs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / CONFIG).write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"not a finished run: needs config\.json"):
        load_model(tmp_path)
