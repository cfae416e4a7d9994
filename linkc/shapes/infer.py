"""DAG checks, topological order and shape inference over the flat graph.

`infer_shapes` checks the DAG (`check_graph`), then walks the order once: each
node's inputs are read (`node_inputs`), its merge and ops give its shape by
their registry rules, and every shape and running total is held to the limits
(`shapes/limits.py`).
"""

from __future__ import annotations

from math import prod

import networkx as nx

from ..errors import SpecError
from ..expand.flat_graph import FlatGraph, FlatNode
from ..ops.merges import MergeInput, MergeOptions, add_merge_hint
from ..ops.plugins import PluginError
from ..ops.registry import ShapeError
from .bind_args import bind_args
from .limits import ShapeLimits, Totals, check_shape
from .node_inputs import exists, is_absent, non_empty_inputs, origin, why_absent

__all__ = ["ShapeLimits", "check_graph", "infer_shapes", "to_networkx"]


def to_networkx(g: FlatGraph) -> nx.DiGraph:
    dag = nx.DiGraph()
    dag.add_nodes_from(g.inputs)
    for node in g.nodes.values():
        dag.add_node(node.id)
        for x in node.inputs:
            while x is not None:  # a fallback is read in place of its reference
                dag.add_edge(x.src, node.id)
                x = x.fallback
    return dag


def check_graph(g: FlatGraph) -> nx.DiGraph:
    """Reject cycles, order the nodes, warn about nodes no output reads, and reject
    inputs no output reads (a model argument that silently does nothing)."""
    dag = to_networkx(g)
    if not nx.is_directed_acyclic_graph(dag):
        cycle = [u for u, _ in nx.find_cycle(dag)]
        first = g.nodes[cycle[0]]
        raise SpecError(f"the graph has a cycle: {' -> '.join([*cycle, cycle[0]])}", first.loc,
                        "a node cannot depend on its own output; break the loop")
    index = {name: i for i, name in enumerate(g.nodes)}
    index.update({name: -1 for name in g.inputs})
    order = [n for n in nx.lexicographical_topological_sort(dag, key=index.get)
             if n not in g.inputs]
    used = set(g.outputs).union(*(nx.ancestors(dag, out) for out in g.outputs))
    for name in g.inputs:
        if name not in used:
            raise SpecError(f"input '{name}' is not used by any output", g.input_locs.get(name),
                            f"read it in a node (from: {name}), or remove it from 'inputs'")
    reach = f"the output '{g.output}'" if len(g.outputs) == 1 else \
        f"any output ({', '.join(g.output_names)})"
    for node_id in order:
        node = g.nodes[node_id]
        if node_id not in used and node.kind == "node":
            g.diagnostics.warn(f"node '{node_id}' does not reach {reach} "
                               "(it is left out of the model)", node.loc)
    g.order = [n for n in order if n in used]
    return dag


def _prune(g: FlatGraph) -> bool:
    """Drop from the order what no longer reaches an output: nodes that fed only
    empty slices or nodes that do not exist. True when something was dropped."""
    used, stack = set(), list(g.outputs)
    while stack:
        n = stack.pop()
        if n in used or g.is_input(n):
            continue
        used.add(n)
        stack.extend(x.src for x in g.nodes[n].inputs)
    before = len(g.order)
    g.order = [n for n in g.order if n in used]
    return len(g.order) < before


def _infer_node(g: FlatGraph, node: FlatNode, limits: ShapeLimits, totals: Totals,
                memo: dict) -> None:
    shapes = node.input_shapes = non_empty_inputs(g, node)
    if len(shapes) > 1 and node.merge is None:
        raise SpecError(f"node '{node.id}' has {len(shapes)} inputs but no 'merge'",
                        node.inputs[1].loc or node.loc,
                        add_merge_hint())
    for x in node.inputs:
        if x.weight != 1 and not (node.merge and node.merge.weighted):
            raise SpecError(f"'{x.label}' has weight {x.weight:g}, but weights only apply to "
                            f"'merge: wsum' (node '{node.id}' has "
                            f"{'merge: ' + node.merge.name if node.merge else 'no merge'})",
                            x.loc, "use merge: wsum, or drop the weight")
    merge = node.effective_merge()
    if merge is None:
        shape = shapes[0]
    else:
        inputs = [MergeInput(s, x.label, origin(g, x.src)) for s, x in zip(shapes, node.inputs)]
        options = MergeOptions(pad=node.pad, weights=tuple(x.weight for x in node.inputs))
        try:
            shape = merge.infer(inputs, options)
            totals.charge(merge.count_params(shapes) if merge.params else 0, prod(shape),
                          node.loc, limits)
        except ShapeError as exc:
            raise SpecError(f"node '{node.id}': {exc.message}", node.loc, exc.hint) from None
        except PluginError as exc:  # a plugin merge's rule, met at this node
            raise exc.used_at(node.loc, node.id) from exc.__cause__
    node.merged_shape = shape
    for call in node.ops:
        call.in_shape = shape
        call.args = bind_args(call.op, call.raw, node.scope, call.loc, memo)
        try:
            shape = call.op.infer(shape, call.args)
            check_shape(shape, call.loc, limits)
            totals.charge(call.op.params(call.in_shape, call.args) if call.op.params else 0,
                          prod(shape), call.loc, limits)
        except ShapeError as exc:
            raise SpecError(f"node '{node.id}': {exc.message} (input shape {list(call.in_shape)})",
                            call.loc, exc.hint) from None
        except PluginError as exc:  # a plugin op's rule, met at this use
            raise exc.used_at(call.loc, node.id) from exc.__cause__
        call.out_shape = shape
    node.shape = shape


def infer_shapes(g: FlatGraph, limits: ShapeLimits = ShapeLimits()) -> FlatGraph:
    """Check the DAG and give every node used by the output its shape."""
    for name, shape in g.inputs.items():
        check_shape(shape, g.input_locs.get(name) or g.output_loc, limits)
    check_graph(g)
    g.scope.shape_lookup = g.shape_of
    totals = Totals()
    # The input is an activation too: a huge input feeding only shrinking ops (gap, a
    # strided pool) would otherwise pass max_activations at any size up to max_elements.
    for name, shape in g.inputs.items():
        totals.charge(0, prod(shape), g.input_locs.get(name) or g.output_loc, limits)
    memo: dict = {}  # validated op arguments, shared by identical calls
    g.scope.absent_ids = absent = set()
    for node_id in g.order:
        node = g.nodes[node_id]
        if node.conditions and not exists(node):
            node.absent = True
            absent.add(node_id)
            continue
        _infer_node(g, node, limits, totals, memo)
    for out, loc in zip(g.outputs, g.output_locs):
        if is_absent(g, out):
            raise SpecError(f"the output '{out}' does not exist: "
                            f"{why_absent(g.nodes[out])}", loc)
    g.param_count = totals.params
    if _prune(g):
        g.param_count = g.rule_params()
    return g
