"""Helpers that lowering and the passes share: installing modules, reading node meta.

Every fx node that lowering makes carries `node.meta["linkc"]` (its flat-graph
node id, what it computes, its per-sample shape, its spec location). The passes
read the registry entry of a node's op through `node_op`, so a fact about an op
(a trait such as `elementwise`) comes from the one place it is declared.
"""

from __future__ import annotations

from torch import fx, nn

from ..topology.merges import MERGES, MergeDef
from ..topology.ops import OPS
from ..topology.registry import OpDef


def put_module(root: nn.Module, path: str, module: nn.Module) -> None:
    """Install (or replace) `module` at dotted `path`, creating plain containers on the way."""
    *parents, name = path.split(".")
    owner = root
    for part in parents:
        child = owner._modules.get(part)
        if child is None:
            child = nn.Module()
            owner.add_module(part, child)
        owner = child
    owner.add_module(name, module)


def node_shape(node) -> tuple:
    """The per-sample shape recorded for an fx node; () for anything else."""
    if not isinstance(node, fx.Node):
        return ()
    return tuple(node.meta.get("linkc", {}).get("shape", ()))


def _entry(node, kind: str, registry):
    if not isinstance(node, fx.Node):
        return None
    what, _, name = str(node.meta.get("linkc", {}).get("what", "")).partition(":")
    return registry.get(name) if what == kind else None


def node_op(node) -> OpDef | None:
    """The registry entry of the op an fx node computes, if lowering made it from one."""
    return _entry(node, "op", OPS)


def node_merge(node) -> MergeDef | None:
    """The registry entry of the merge an fx node computes, if lowering made it from one."""
    return _entry(node, "merge", MERGES)
