"""Shared test setup: paths, and a deterministic, small CPU footprint."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@pytest.fixture(autouse=True)
def _deterministic():
    try:
        import torch
    except ImportError:  # topology tests do not need torch
        yield
        return
    torch.manual_seed(0)
    yield


def zoo_specs() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))
