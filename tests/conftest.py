"""Fixtures shared by several test files."""

import pytest
import torch


@pytest.fixture
def float64_torch():
    """Run a test with torch's default dtype set to float64, restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
