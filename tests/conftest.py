"""Fixtures shared by several test files."""

import os

import pytest
import torch


@pytest.fixture
def float64_torch():
    """Run a test with torch's default dtype set to float64, restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def fsyncs(monkeypatch):
    """Every ``os.fsync`` from now on, as a list of booleans: True where the synced
    descriptor is a directory (a rename made durable), False for a file's data."""
    synced: list[bool] = []
    real = os.fsync

    def record(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return synced
