"""Helpers that lowering and the passes share: installing modules, reading node meta.

Every fx node that lowering makes carries `node.meta["linkc"]` (its flat-graph
node id, what it computes, its per-sample shape, and its spec location: the `Loc`
object SpecErrors carry, not a string, so a failure after lowering can still quote
the YAML line). The passes read the registry entry of a node's op through
`node_op`, so a fact about an op (a trait such as `elementwise`) comes from the one
place it is declared.
"""

from __future__ import annotations

from torch import fx, nn

from ..errors import Loc, SpecError
from ..ops.merges import MERGES, MergeDef
from ..ops import OPS
from ..ops.registry import BUILTIN, OpDef, Origin


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


def node_loc(node) -> Loc | None:
    """The spec position of the op, merge or reference an fx node computes; None for
    the inputs and for anything that is not an fx node."""
    if not isinstance(node, fx.Node):
        return None
    return node.meta.get("linkc", {}).get("loc")


def describe_node(node: fx.Node) -> str:
    """How messages name an fx node: `fx node d_1_h_conv1 (node d.1.h, op:conv)`."""
    meta = node.meta.get("linkc", {})
    if "id" not in meta:
        return f"fx node {node.name}"
    return f"fx node {node.name} (node {meta['id']}, {meta.get('what', '?')})"


def at_node(node, message: str, hint: str | None = None) -> str:
    """`message` printed exactly as a SpecError at `node`'s spec position prints:
    file:line:col, the YAML line with a caret under the column, the hint."""
    return str(SpecError(message, node_loc(node), hint))


class NodeError(Exception):
    """A pass or the check after it failed on one fx node; `run_passes` reports it at
    the node's spec position."""

    def __init__(self, node: fx.Node, message: str):
        super().__init__(message)
        self.node = node
        self.message = message


def plugin_origin(node) -> Origin | None:
    """The plugin (or outside module) that registered the op or merge an fx node
    computes; None for built-ins and for nodes a pass made."""
    for kind, registry in (("op", OPS), ("merge", MERGES)):
        entry = _entry(node, kind, registry)
        if entry is not None:
            origin = registry.origin(entry.name)
            return None if origin == BUILTIN else origin
    return None


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
