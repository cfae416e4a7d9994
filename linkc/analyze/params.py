"""Parameters per node, per block and in total, read off the lowered module.

Counting the lowered module (not a formula per op) means the count is exactly
what training would optimise: the module path of every op is its node's path
plus the op's name (`d1.3.h.conv1`), and a merge with weights is `NODE.merge`.
The module is built on the `meta` device, so no memory is allocated even for
networks of tens of millions of parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from ..compiler.lower import lower
from ..expand.flat_graph import FlatGraph


def lower_meta(g: FlatGraph) -> nn.Module:
    """The GraphModule with meta tensors: shapes and counts, no storage."""
    with torch.device("meta"):
        return lower(g)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def node_params(g: FlatGraph, gm: nn.Module) -> dict[str, int]:
    """Flat node id -> parameters of its merge and ops, in topological order."""
    out: dict[str, int] = {}
    for node_id in g.order:
        node = g.nodes[node_id]
        paths = [f"{node_id}.{call.name}" for call in node.ops]
        merge = node.effective_merge()
        if merge is not None and merge.params:
            paths.append(f"{node_id}.merge")
        out[node_id] = sum(_count(gm.get_submodule(p)) for p in paths)
    return out


def block_params(g: FlatGraph, per_node: dict[str, int]) -> dict[str, int]:
    """Block instance or repeat (a node's cluster prefix, e.g. 'd1' and 'd1.3') -> parameters."""
    out: dict[str, int] = {}
    for node_id, count in per_node.items():
        for prefix in g.nodes[node_id].cluster:
            out[prefix] = out.get(prefix, 0) + count
    return out


def count_params(g: FlatGraph) -> int:
    """Total parameters of the compiled module."""
    return _count(lower_meta(g))
