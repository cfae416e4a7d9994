"""The torch.compile stage: zero graph breaks on every zoo spec, with the default passes.

torch._dynamo.explain traces the module (no inductor code generation). Tracing costs
about 0.05 s of CPU per fx node on the 2-core machine (DenseNet-BC-100, ~400 nodes:
~20 s per mode, measured), so the specs with at most MAX_FAST_NODES nodes run in
every test run and the larger ones are marked `zoo`: the whole-zoo sweep takes longer
than CI's budget and runs with `python -m pytest -m zoo` (results in
benchmarks/RESULTS.md). Every spec in specs/ is a test case.
"""

from pathlib import Path

import pytest
import torch

import linkc
from linkc.compiler.passes import default_passes
from linkc.compiler.passes.torch_compile import graph_breaks

SPECS = sorted((Path(__file__).resolve().parents[3] / "specs").glob("*.yaml"))
MAX_FAST_NODES = 100


def _cost(spec: Path) -> int:
    """fx nodes of the lowered spec: what dynamo's tracing time scales with."""
    from linkc.topology import build
    g = build(spec)
    return sum(len(g.nodes[n].ops) + 1 for n in g.order)


def _cases():
    for spec in SPECS:
        slow = _cost(spec) > MAX_FAST_NODES
        for mode in ("infer", "train"):
            yield pytest.param(spec, mode, id=f"{spec.stem}-{mode}",
                               marks=[pytest.mark.zoo] if slow else [])


@pytest.mark.parametrize("spec,mode", list(_cases()))
def test_no_graph_breaks(spec, mode):
    gm = linkc.compile(spec, passes=default_passes(mode), mode=mode)
    gm.train(mode == "train")
    x = torch.randn(2, *gm.meta["linkc"]["input_shape"])
    count, reasons = graph_breaks(gm, x)
    assert count == 0, f"{spec.name} ({mode}): {reasons}"


def test_graph_breaks_are_counted():
    """The check can fail: a module with an explicit break in its forward is counted."""
    gm = linkc.compile(SPECS[0].parent / "resnet_20.yaml")

    class Breaks(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            y = self.inner(x)
            torch._dynamo.graph_break()
            return y * 2
    count, _ = graph_breaks(Breaks(gm), torch.randn(2, 3, 32, 32))
    assert count >= 1
