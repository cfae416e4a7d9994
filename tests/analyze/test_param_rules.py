"""`linkc check` counts parameters with the registry's `params` rules (no torch);
those counts equal what lowering allocates, spec by spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkc.analyze.params import count_params
from linkc.frontend import build

ZOO = sorted((Path(__file__).resolve().parents[2] / "linkc" / "zoo" / "specs").glob("*.yaml"))
# One of each kind of op and merge with weights (grouped and depthwise convs,
# dwsum, linear heads, SE gates, mixed links), small enough for every run.
QUICK = ["resnet_20", "densenet_bc_100", "dmrnet_cifar", "mixnet", "se_resnet_s_18",
         "resnext_s_29_2x64d", "dpn_mixed_100", "delugenet", "micro_dense"]


@pytest.mark.parametrize("name", QUICK)
def test_registry_count_equals_the_lowered_module(name):
    g = build(Path(ZOO[0].parent, f"{name}.yaml"))
    assert g.param_count == count_params(g) > 0


@pytest.mark.zoo
@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_registry_count_equals_the_lowered_module_for_the_whole_zoo(path):
    g = build(path)
    assert g.param_count == count_params(g)
