"""An fx graph of a traced module -> spec nodes: `ops(merge(refs))`, each with its home.

Every fx node becomes a *value*: the input, an op applied to one value (a layer or
a torch function linkc has an op for), a merge of several references, or a linear
combination (`a + b`, `x - f`, `(a + b) / 2`) that is kept symbolic until something
reads it, then becomes `add`, `mean` or `wsum` by its weights. Channel slices
(`x[:, a:b]`) and nested concatenations fold into the references of whatever
reads them. Chains of ops then fuse into one node after the merge that starts
them, within one module (so a block's last op never fuses into the next block).

calls.py reads the fx nodes into values, nodes.py holds the kinds of value and the
spec node; this module fuses the values into spec nodes.
"""

from __future__ import annotations

from .calls import Builder
from .nodes import Ref, SpecNode, Value
from .trace import Traced

__all__ = ["Ref", "SpecNode", "Value", "spec_nodes"]


def _consumers(outputs: list[Value]) -> dict[int, int]:
    counts: dict[int, int] = {}
    seen: set[int] = set()
    stack = list(outputs)
    for v in outputs:
        counts[id(v)] = counts.get(id(v), 0) + 1  # the output reads it
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        for r in v.refs:
            counts[id(r.value)] = counts.get(id(r.value), 0) + 1
            stack.append(r.value)
    return counts


def spec_nodes(traced: Traced) -> tuple[list[Value], list[Value], list[SpecNode]]:
    """(inputs, outputs, spec nodes in topological order)."""
    builder = Builder(traced)
    inputs, outputs = builder.run()
    consumers = _consumers(outputs)
    nodes: dict[int, SpecNode] = {}
    order: list[SpecNode] = []

    def fusable(v: Value, into: Value) -> bool:
        """`into` (an op) joins the node of `v` when nothing else reads v and both ran in
        the same module's forward; a merge that no module's forward owns (the flat
        forward of a GraphModule or model.py) joins the op that reads it."""
        if v.kind == "input" or consumers.get(id(v), 0) != 1:
            return False
        if v.kind == "merge" and v.module is None:
            # a merge computed in a forward just before calling a child module (the
            # concatenation a dense layer reads) belongs to that child
            return into.home[:len(v.home)] == v.home
        return v.home == into.home

    def visit(v: Value) -> None:
        if v.kind == "input" or id(v) in nodes:
            return
        for r in v.refs:
            visit(r.value)
        if v.kind == "op":
            src = v.refs[0].value
            if src.kind != "input" and fusable(src, v) and v.refs[0].slice is None:
                node = nodes.pop(id(src))
                order.remove(node)
                node.ops.append((v.op, v.args))
                node.modules.append(v.module)
                node.states.append(v.state)
                node.shape, node.value = v.shape, v
                if len(v.home) > len(node.home):
                    node.home = v.home
                nodes[id(v)] = node
                order.append(node)
                return
            node = SpecNode([v.refs[0]], None, [], [(v.op, v.args)], [v.module], None, v.shape,
                            v.home, _name_of(v), v, states=[v.state])
        else:
            node = SpecNode(list(v.refs), v.merge, [r.weight for r in v.refs], [], [],
                            v.module, v.shape, v.home, _name_of(v), v, pad=v.args.get("pad"),
                            merge_state=v.state)
        nodes[id(v)] = node
        order.append(node)

    for v in outputs:
        visit(v)
    position = {n.name: k for k, n in enumerate(traced.gm.graph.nodes)}
    def place(n: SpecNode) -> float:  # the forward's own order; a piece of a sum just
        name = n.value.name               # before the sum it is part of (sums.py)
        return position[name] if name in position else \
            position.get(name.rpartition("_")[0], 0) - 0.5
    order.sort(key=place)
    by_value = {id(n.value): n for n in order}
    for node in order:  # references point at the node that computes each value
        node.refs = [Ref(by_value[id(r.value)].value if id(r.value) in by_value else r.value,
                         r.weight, r.slice) for r in node.refs]
    return inputs, outputs, order


def _name_of(v: Value) -> str:
    if v.module:
        return v.module.split(".")[-1]
    return v.name
