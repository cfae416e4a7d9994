"""Training test setup: one CPU thread, and a fixture that writes spec files.

The tests run training on a small shared CPU. One torch thread keeps tiny
models fast (OpenMP threads spin against each other on a busy 2-core machine)
and makes the in-process and subprocess runs that are compared bit for bit use
the same kernels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
