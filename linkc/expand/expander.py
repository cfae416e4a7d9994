"""Blocks, repeats and connect patterns -> one flat graph of nodes.

Expansion works in two phases. First every scope is built: each node of the
spec becomes a leaf `FlatNode`, a block instance (its own scope), or a repeat
of those, and each `from:` becomes a *pending* reference. Then all pending
references are resolved, so nodes may refer to nodes defined later in the file
and into block instances (`d1.3.h`, `dmr.y1`). Cycles are found later, by the
graph checks, with the whole graph in view.

The `Expander` holds what expansion has built so far and makes plain nodes; a
node with `block:`, `repeat:` or `recurrence:` is built by the builder the
expander was given for it (`NodeBuilders`: block.py, repeat.py, recurrence/;
`linkc.expand.expand` wires them), each through the expander's `new_node`,
`add_ops` and `feed`. The builders import this module, never the reverse. References are `refs.Ref`s. Every value is read
from the validated spec, whose lists keep their YAML positions (`schema.Value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import Loc, SpecError, limit_hint
from ..spec.expr import MappingEnv, evaluate
from .flat_graph import INPUT, FlatInput, FlatNode, OpCall
from ..spec.load import Document, LList, locate
from ..ops.merges import MERGES, MergeDef
from .op_items import parse_op_item
from .refs import Pending, Ref, refs_of
from ..spec.schema import MapSpec, NodeSpec, Spec, recurrence_keys
from .scope import Condition, Leaf, Scope
from .word_params import CONNECT_PATTERNS, is_word, op_word, param_word

RESERVED = {"i", "n", INPUT, "prev"}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExpandLimits:
    max_nodes: int = 20_000  # ResNet-1202, the deepest net of the seeds, has ~1,800
    max_repeat: int = 10_000
    max_block_depth: int = 32
    max_inputs: int = 200_000  # node inputs (edges) in all; the zoo's most, DenseNet-BC-250: 2,833


@dataclass(frozen=True)
class NodeBuilders:
    """How the nodes that are not plain are built: each is called with the expander,
    the scope, the node's name, its spec and its path (a block also with its id, its
    repeat index and its input references) and returns the node's binding."""

    block: Callable[..., Any]
    repeat: Callable[..., Any]
    recurrence: Callable[..., Any]


class Expander:
    """The state of one expansion: the flat nodes so far, the references waiting to
    be resolved, the blocks being instantiated and the `if:`s that enclose them."""

    def __init__(self, spec: Spec, doc: Document, limits: ExpandLimits, builders: NodeBuilders):
        self.builders = builders
        self.spec = spec
        self.doc = doc
        self.limits = limits
        self.nodes: dict[str, FlatNode] = {}
        self.pending: list[Pending] = []
        self.block_stack: list[str] = []
        self.recurrences: dict = {}  # recurrence node id -> RecurrenceInfo
        self.inputs = 0  # node inputs so far (a dense pattern grows them quadratically)
        self.conditions: list[Condition] = []  # `if:`s of the nodes being built, outermost first

    def loc(self, path: tuple, key: bool = False) -> Loc | None:
        return locate(self.doc.root, path, key=key)

    # ---------------------------------------------------------------- params
    def top_scope(self) -> Scope:
        values: dict[str, Any] = {}
        for name, raw in self.spec.params.items():
            path = ("params", name)
            self.check_name(name, self.loc(path, key=True), "param")
            if is_word(raw) and raw not in values:
                values[name] = raw  # an op, merge kind or connect pattern (see word_params.py)
            else:
                values[name] = evaluate(raw, MappingEnv(values), self.loc(path))
        return Scope(prefix="", parent=None, values=values, top=True)

    def check_name(self, name: str, loc: Loc | None, kind: str) -> None:
        if name in RESERVED:
            raise SpecError(f"'{name}' is a reserved name and cannot name a {kind}", loc,
                            f"reserved names: {', '.join(sorted(RESERVED))}")
        if not _NAME.match(name):
            raise SpecError(f"{kind} name '{name}' is not an identifier", loc,
                            "use letters, digits and underscores, not starting with a digit")

    # ----------------------------------------------------------------- scopes
    def build_scope(self, scope: Scope, nodes: dict[str, NodeSpec], path: tuple) -> None:
        for name, node in nodes.items():
            npath = (*path, name)
            self.check_name(name, self.loc(npath, key=True), "node")
            if name in scope.table:  # an in port of the same name
                raise SpecError(f"node '{name}' has the same name as an in port of its block",
                                self.loc(npath, key=True))
            scope.table[name] = self.build_node(scope, name, node, npath)

    def merge_of(self, node: NodeSpec, path: tuple, scope: Scope,
                 default: str | None = None) -> MergeDef | None:
        name = node.merge or default
        if name is None:
            return None
        merge = MERGES.lookup(param_word(scope, name) or name)
        if merge is None:
            raise MERGES.unknown(name, self.loc((*path, "merge")))
        if node.pad and not merge.padded:
            raise SpecError(f"'pad: {node.pad}' does not apply to merge '{merge.name}'",
                            self.loc((*path, "pad"), key=True))
        return merge

    def connect_of(self, node: NodeSpec, path: tuple, scope: Scope) -> str:
        word = param_word(scope, node.connect) or node.connect or "chain"
        if word not in CONNECT_PATTERNS:
            raise SpecError(f"unknown connect pattern '{word}'", self.loc((*path, "connect")),
                            "use chain or dense (or a param that holds one of them)")
        return word

    def new_node(self, node_id: str, scope: Scope, merge: MergeDef | None, pad: str | None,
                 loc: Loc | None, kind: str = "node", doc: str | None = None) -> FlatNode:
        if len(self.nodes) >= self.limits.max_nodes:
            raise SpecError(f"the expanded graph has more than {self.limits.max_nodes} nodes", loc,
                            "reduce repeat counts; " + limit_hint("max_nodes", "ExpandLimits"))
        flat = FlatNode(node_id, [], merge, pad, [], scope, loc, kind, doc,
                        conditions=tuple(self.conditions))
        self.nodes[node_id] = flat
        return flat

    def build_node(self, scope: Scope, name: str, node: NodeSpec, path: tuple):
        """A node's binding; with `if:`, every flat node it expands to carries the condition."""
        if node.if_ is None:
            return self.build_plain_node(scope, name, node, path)
        self.conditions.append(Condition(node.if_, scope, self.loc((*path, "if"))))
        try:
            return self.build_plain_node(scope, name, node, path)
        finally:
            self.conditions.pop()

    def build_plain_node(self, scope: Scope, name: str, node: NodeSpec, path: tuple):
        if recurrence_keys(node):
            return self.builders.recurrence(self, scope, name, node, path)
        loc = self.loc(path, key=True)
        if node.args and not node.block:
            raise SpecError(f"'args' of node '{name}' need a 'block'", self.loc((*path, "args"),
                                                                                key=True))
        if node.connect and node.repeat is None:
            raise SpecError(f"'connect' of node '{name}' needs a 'repeat'",
                            self.loc((*path, "connect"), key=True))
        if node.repeat is None:
            if node.block:
                return self.builders.block(self, scope, name, node, path, scope.id_of(name), None,
                                   self.refs_of(node, path, scope))
            merge = self.merge_of(node, path, scope)
            flat = self.new_node(scope.id_of(name), scope, merge, node.pad, loc, doc=node.doc)
            self.add_ops(flat, node.ops, scope)
            self.feed(flat, self.refs_of(node, path, scope))
            return Leaf(flat.id)
        return self.builders.repeat(self, scope, name, node, path)

    # ------------------------------------------------------------- inputs
    def refs_of(self, node: NodeSpec | MapSpec, path: tuple, scope: Scope) -> list[Ref]:
        return refs_of(node, path, scope, self.doc.root)

    def count_inputs(self, count: int, loc: Loc | None) -> None:
        self.inputs += count
        if self.inputs > self.limits.max_inputs:
            raise SpecError(f"the expanded graph has more than {self.limits.max_inputs:,} node "
                            "inputs", loc, "reduce repeat counts or recurrence steps; " +
                            limit_hint("max_inputs", "ExpandLimits"))

    def feed(self, flat: FlatNode, refs: list[Ref]) -> None:
        """Give `flat` these inputs: a fixed one at once, the others once every scope
        exists (a placeholder each, filled in order by `resolve_pending`)."""
        self.count_inputs(len(refs), flat.loc)
        for ref in refs:
            if ref.fixed:
                flat.inputs.append(FlatInput(ref.text, ref.text, ref.loc or flat.loc, flat.scope,
                                             ref.weight, ref.slice))
                continue
            self.pending.append(Pending(flat, ref))
            flat.inputs.append(None)

    # -------------------------------------------------------------------- ops
    def add_ops(self, flat: FlatNode, ops: list, scope: Scope) -> None:
        """Append the calls of an `ops:` list, evaluated later in `scope`. The list is
        the validated spec's, an `LList` that knows each item's position (a plain list,
        such as the ops a recurrence formula applies, is at the node's position)."""
        flat.scope = scope
        counts: dict[str, int] = {}
        for k, item in enumerate(ops):
            loc = ops.item_locs[k] if isinstance(ops, LList) else flat.loc
            op, raw = parse_op_item(item, loc, ops[k + 1:],
                                    lambda name, at: op_word(scope, name, at))
            counts[op.name] = counts.get(op.name, 0) + 1
            flat.ops.append(OpCall(op, raw, loc, f"{op.name}{counts[op.name]}"))

