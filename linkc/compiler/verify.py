"""The check after every pass: fx lint, then shapes re-inferred by running the
graph once on a small real batch (far faster than fake tensors for these
graphs) and compared with the shapes recorded at lowering."""

from __future__ import annotations

import torch
from torch import fx
from torch.fx.passes.shape_prop import ShapeProp

from .signature import example_inputs


def check_graph_module(gm: fx.GraphModule) -> None:
    gm.graph.lint()
    gm.recompile()
    param = next(gm.parameters(), None)
    xs = example_inputs(gm, 1, torch.zeros, device=param.device if param is not None else "cpu")
    was_training = gm.training
    gm.eval()  # eval: BatchNorm must not update running statistics here
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*xs)
    finally:
        gm.train(was_training)
    for node in gm.graph.nodes:
        meta = node.meta.get("linkc")
        tm = node.meta.get("tensor_meta")
        if meta is None or tm is None or not hasattr(tm, "shape"):
            continue
        got = tuple(tm.shape[1:])
        if got != tuple(meta["shape"]):
            raise AssertionError(f"node {node.name} ({meta['id']}) has shape {list(got)} after "
                                 f"the pass, but {list(meta['shape'])} was inferred")
