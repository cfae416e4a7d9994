"""Multiply-accumulates, per node and in total, as torch counts them.

We run the lowered module once on `meta` inputs under
`torch.utils.flop_counter.FlopCounterMode`, which counts the FLOPs of every
convolution and matrix product from the real aten calls (groups, strides,
dilation and padding included) and attributes them to the module that ran them.
One MAC is two FLOPs. This counts exactly what the compiled module executes, so
there is no second, hand-kept table of op formulas that could drift from the
registry; and an op that is added later is counted the moment torch counts it.
Like the papers' figures, the count covers convolutions and linear layers;
elementwise work (BN, activations, merges, pooling) is not a multiply-accumulate
of a layer and is not included.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..expand.flat_graph import FlatGraph


def count_macs(g: FlatGraph, gm: nn.Module) -> tuple[int, dict[str, int]]:
    """(MACs for one sample, flat node id -> MACs) of a meta-device GraphModule."""
    xs = [torch.empty((1, *shape), device="meta") for shape in g.inputs.values()]
    with FlopCounterMode(display=False) as counter:
        gm(*xs)
    total = counter.get_total_flops() // 2
    # Keys are 'ClassName.path.to.op' for leaf modules; 'Global' is the total.
    by_module: dict[str, int] = {}
    for key, ops in counter.get_flop_counts().items():
        if "." in key:
            by_module[key.split(".", 1)[1]] = sum(ops.values()) // 2
    per_node: dict[str, int] = {}
    for node_id in g.order:
        node = g.nodes[node_id]
        paths = [f"{node_id}.{c.name}" for c in node.ops] + [f"{node_id}.merge"]
        per_node[node_id] = sum(by_module.get(p, 0) for p in paths)
    if sum(per_node.values()) != total:
        raise RuntimeError(f"MACs per node ({sum(per_node.values())}) do not add up to the "
                           f"total ({total}): some work ran outside the nodes' modules")
    return total, per_node
