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

    mode "infer" also sets inductor's `freezing`: under no_grad the weights become
    constants, so inductor folds what depends only on them and prepacks the oneDNN
    convolution weights once instead of per call (DenseNet-BC-100 inference, batch 32,
    interleaved: 1.5x; outputs equal to eager within 1e-6, tests/compiler/
    test_torch_compile.py). The compiled module then keeps the weights it first saw:
    compile again after changing them."""
    options.setdefault("dynamic", False)
    if mode == "infer":
        options.setdefault("options", {"freezing": True})
    return torch.compile(gm, **options)


def graph_breaks(gm: fx.GraphModule, x: torch.Tensor) -> tuple[int, list[str]]:
    """(number of graph breaks, their reasons) when dynamo traces gm on x; runs no inductor."""
    torch._dynamo.reset()
    try:
        out = torch._dynamo.explain(gm)(x)
    finally:
        torch._dynamo.reset()
    return out.graph_break_count, [str(b.reason) for b in out.break_reasons]
