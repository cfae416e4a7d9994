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
    except ImportError:  # the spec, expand and shapes tests do not need torch
        yield
        return
    torch.manual_seed(0)
    yield


def zoo_specs() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


# Zoo specs that together use every op, every merge (padded too), a recursion formula and
# several outputs: a zoo-wide test runs on these in the default run and on all 55 specs
# under `-m zoo` (tests/zoo/test_zoo_sample.py checks the cover).
ZOO_SAMPLE = ("delugenet", "densenet_40_k12", "digits_companion", "dmrnet_wide",
              "efficientnet_b0", "mobilenet_v2", "resnet_20", "resnet_s_18_recur",
              "shufflenet_v2", "squeezenet_1_1", "unet")


def zoo_params(specs=None, ids=lambda p: p.stem):
    """Each zoo spec as a pytest param, marked `zoo` unless it is in ZOO_SAMPLE."""
    return [pytest.param(p, id=ids(p), marks=[] if p.stem in ZOO_SAMPLE else [pytest.mark.zoo])
            for p in (specs if specs is not None else zoo_specs())]
