"""The torch.compile stage, applied after the passes (it is not a graph pass: its
result is an optimized callable, not a GraphModule).

Every zoo spec compiles with zero graph breaks (tests/compiler/
test_torch_compile.py checks with torch._dynamo.explain): lowered graphs call only
torch.nn modules, linkc's plain-torch merge functions and modules, and the two
places that do things dynamo cannot trace fall back to traceable code while
compiling (`functional.dense_start/dense_append` become torch.cat, so inductor plans
the dense buffers itself; `DenseBottleneck` leaves recomputation to inductor).
"""

from __future__ import annotations

import torch
from torch import fx, nn


def compile_module(gm: fx.GraphModule, mode: str = "train", **options) -> nn.Module:
    """torch.compile(gm) with linkc's defaults (inductor, static shapes); `options` override.

    mode "infer" also turns on inductor's `freezing`: under no_grad the weights become
    constants, so inductor folds what depends only on them and prepacks the oneDNN
    convolution weights once instead of reordering them on every call (outputs equal
    to eager within 1e-5, tests/compiler/test_torch_compile.py). The compiled module
    then keeps the weights it first saw: compile again after changing them."""
    options.setdefault("dynamic", False)
    compiled = torch.compile(gm, **options)
    return Frozen(compiled) if mode == "infer" else compiled


class Frozen(nn.Module):
    """Calls a torch.compile'd module with inductor's `freezing` set.

    Passing `options={"freezing": True}` to torch.compile is not enough: dynamo decides
    while tracing, before inductor's options apply, whether parameters are constants
    (torch._dynamo.utils.is_parameter_freezing reads the global setting), and with the
    option alone the weights stay graph inputs and nothing is frozen. So the setting is
    held around every call, which is where dynamo traces (the first call, and any
    recompile); it costs a few microseconds a call."""

    def __init__(self, compiled: nn.Module):
        super().__init__()
        self.compiled = compiled

    def forward(self, *args, **kwargs):
        from torch._inductor import config

        with config.patch(freezing=True):
            return self.compiled(*args, **kwargs)


def graph_breaks(gm: fx.GraphModule, x: torch.Tensor) -> tuple[int, list[str]]:
    """(number of graph breaks, their reasons) when dynamo traces gm on x; runs no inductor."""
    torch._dynamo.reset()
    try:
        out = torch._dynamo.explain(gm)(x)
    finally:
        torch._dynamo.reset()
    return out.graph_break_count, [str(b.reason) for b in out.break_reasons]
