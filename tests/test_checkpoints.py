"""Checkpoint files: atomic and durable saves (file and directory fsynced), checked loads."""

import pytest
import torch

from surrogates.checkpoints import RESUME_KEYS, WEIGHT_KEYS, load_checkpoint, save_checkpoint


def _state(step: int = 1) -> dict:
    return {"step": step, "model": {"w": torch.ones(2)}, "fields": ["u"], "model_config": {}}


def test_save_fsyncs_the_file_and_its_directory(tmp_path, fsyncs):
    save_checkpoint(tmp_path / "best.pt", _state())
    assert fsyncs == [False, True]  # the file's data, then the rename in its directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
    state = load_checkpoint(tmp_path / "best.pt", WEIGHT_KEYS)
    assert state["step"] == 1 and torch.equal(state["model"]["w"], torch.ones(2))


def test_a_failed_save_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(1))
    with pytest.raises(Exception):  # noqa: B017 (whatever torch raises for a lambda)
        save_checkpoint(path, {**_state(2), "bad": lambda: None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert load_checkpoint(path, WEIGHT_KEYS)["step"] == 1


def test_load_names_the_file_and_what_is_missing(tmp_path):
    path = tmp_path / "best.pt"
    save_checkpoint(path, _state())
    with pytest.raises(ValueError, match=r"best\.pt.*incomplete.*optimizer"):
        load_checkpoint(path, RESUME_KEYS)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"best\.pt.*corrupt or unreadable"):
        load_checkpoint(path)
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(path)
