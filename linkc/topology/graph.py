"""DAG checks, topological order and shape inference over the flat graph."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .errors import SpecError, limit_hint
from .expr import evaluate
from .flat import INPUT, FlatGraph, FlatInput, FlatNode
from .merges import MergeInput, MergeOptions
from .registry import Shape, ShapeError, bind_args


@dataclass(frozen=True)
class ShapeLimits:
    """Caps on what a spec may ask for, checked before any tensor exists."""

    max_channels: int = 1 << 16
    max_spatial: int = 1 << 14
    max_elements: int = 1 << 28  # of one sample's activation
    max_activations: int = 1 << 30  # elements of all of one sample's activations together
    max_params: int = 1 << 28  # learnable parameters, estimated from each op's `params` rule


@dataclass
class _Totals:
    """Running estimates of what lowering will allocate, checked as they grow."""

    params: int = 0
    activations: int = 0

    def charge(self, params: int, elements: int, where, limits: ShapeLimits) -> None:
        self.params += params
        self.activations += elements
        if self.params > limits.max_params:
            raise SpecError(f"the model would have about {self.params:,} parameters by here, over "
                            f"the limit of {limits.max_params:,}", where,
                            limit_hint("max_params", "ShapeLimits"))
        if self.activations > limits.max_activations:
            raise SpecError(f"one sample's activations would take {self.activations:,} elements "
                            f"by here, over the limit of {limits.max_activations:,}", where,
                            limit_hint("max_activations", "ShapeLimits"))


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


def _check_limits(shape: Shape, where, limits: ShapeLimits) -> None:
    if shape[0] > limits.max_channels:
        raise SpecError(f"{shape[0]} channels is over the limit of {limits.max_channels}", where,
                        limit_hint("max_channels", "ShapeLimits"))
    if any(d > limits.max_spatial for d in shape[1:]):
        raise SpecError(f"spatial size {list(shape[1:])} is over the limit of "
                        f"{limits.max_spatial}", where, limit_hint("max_spatial", "ShapeLimits"))
    elements = 1
    for d in shape:
        elements *= d
    if elements > limits.max_elements:
        raise SpecError(f"one sample's activation {list(shape)} has {elements} elements, over "
                        f"the limit of {limits.max_elements}", where,
                        limit_hint("max_elements", "ShapeLimits"))


def _int_bound(value, x: FlatInput, what: str) -> int:
    v = evaluate(value, x.scope, x.loc)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise SpecError(f"slice {what} of '{x.label}' must be an integer, got {v!r}", x.loc)
    return v


def _input_shape(g: FlatGraph, x: FlatInput) -> Shape:
    shape = g.shape_of(x.src)
    weight = evaluate(x.weight_raw, x.scope, x.loc)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise SpecError(f"weight of '{x.label}' must be a number, got {weight!r}", x.loc)
    x.weight = float(weight)
    if x.slice_raw is None:
        x.slice = None
        return shape
    start = _int_bound(x.slice_raw[0], x, "start")
    stop = shape[0] if x.slice_raw[1] is None else _int_bound(x.slice_raw[1], x, "stop")
    if not 0 <= start <= stop <= shape[0]:
        raise SpecError(f"channel slice [{start}:{stop}] of '{x.src}' is out of range: it has "
                        f"{shape[0]} channels", x.loc, "slices are [start:stop) with "
                        "0 <= start <= stop <= channels")
    x.slice = (start, stop)
    return (stop - start, *shape[1:])


def _elements(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _origin(g: FlatGraph, src: str) -> str:
    """Where a merge input was produced, for shape-mismatch messages."""
    if src == INPUT:
        return "the model input"
    if src in g.inputs:
        return f"model input '{src}'"
    loc = g.nodes[src].loc
    return f"node at line {loc.line}" if loc else f"node {src}"


def _non_empty_inputs(g: FlatGraph, node: FlatNode) -> list[Shape]:
    """The shapes of the node's inputs; empty channel slices (`s[k:k]`, a generic
    block's first instance) are dropped from a merge that allows it (concat) and are
    an error anywhere else."""
    kept, shapes = [], []
    for x in node.inputs:
        x = _existing(g, node, x)
        if x is None:
            continue
        shape = _input_shape(g, x)
        if shape[0] == 0 and x.slice is not None:
            if not (node.merge and node.merge.drops_empty):
                raise SpecError(f"channel slice [{x.slice[0]}:{x.slice[1]}] of '{x.src}' is "
                                f"empty", x.loc, "an empty slice is only allowed in a concat, "
                                "where it is dropped")
            continue
        kept.append(x)
        shapes.append(shape)
    if not kept and node.inputs and all(_is_absent(g, x.src) for x in node.inputs):
        raise SpecError(f"node '{node.id}' has no inputs left: each is optional and names a "
                        "node that does not exist here", node.inputs[0].loc or node.loc,
                        "give one of them a fallback: {ref: NAME, else: OTHER}")
    if not kept:
        raise SpecError(f"every input of node '{node.id}' is an empty channel slice",
                        node.inputs[0].loc or node.loc, "a concat needs one non-empty input")
    node.inputs = kept
    return shapes


def _is_absent(g: FlatGraph, src: str) -> bool:
    return not g.is_input(src) and g.nodes[src].absent


def _existing(g: FlatGraph, node: FlatNode, x: FlatInput) -> FlatInput | None:
    """The input that is really read: `x`, its `else:` when x's node does not exist,
    or None for an optional reference to a node that does not exist."""
    first = x
    while _is_absent(g, x.src):
        if x.fallback is not None:
            x = x.fallback
            continue
        if x.optional:
            return None
        label = f"'{first.label}' does" if x is first else \
            f"'{first.label}' and its fallback '{x.label}' do"
        raise SpecError(f"{label} not exist here: {_why_absent(g.nodes[x.src])}",
                        x.loc, f"mark it optional ({{ref: {first.label}, optional: true}}) or "
                               f"give a fallback ({{ref: {first.label}, else: NAME}})")
    return x


def _why_absent(node: FlatNode) -> str:
    cond = next(c for c in node.conditions if c.value is False)
    where = f" at line {cond.loc.line}" if cond.loc else ""
    text = str(cond.raw).lower() if isinstance(cond.raw, bool) else cond.raw
    return f"its condition if: {text}{where} is false"


def _exists(node: FlatNode) -> bool:
    """Whether every `if:` guarding the node holds (outermost first, so an inner
    condition is evaluated only where the outer one allows the node)."""
    return all(c.holds() for c in node.conditions)


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


def _count_params(g: FlatGraph) -> int:
    """Learnable parameters of the nodes in the order, by the registry's rules."""
    total = 0
    for n in g.order:
        node = g.nodes[n]
        merge = node.effective_merge()
        if merge is not None and merge.params:
            total += merge.count_params(node.input_shapes)
        total += sum(c.op.params(c.in_shape, c.args) for c in node.ops if c.op.params)
    return total


def _infer_node(g: FlatGraph, node: FlatNode, limits: ShapeLimits, totals: _Totals,
                memo: dict) -> None:
    shapes = node.input_shapes = _non_empty_inputs(g, node)
    if len(shapes) > 1 and node.merge is None:
        raise SpecError(f"node '{node.id}' has {len(shapes)} inputs but no 'merge'",
                        node.inputs[1].loc or node.loc,
                        "add merge: add, concat, mean, dwsum, wsum or mul")
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
        inputs = [MergeInput(s, x.label, _origin(g, x.src)) for s, x in zip(shapes, node.inputs)]
        options = MergeOptions(pad=node.pad, weights=tuple(x.weight for x in node.inputs))
        try:
            shape = merge.infer(inputs, options)
        except ShapeError as exc:
            raise SpecError(f"node '{node.id}': {exc.message}", node.loc, exc.hint) from None
        totals.charge(merge.count_params(shapes) if merge.params else 0, _elements(shape),
                      node.loc, limits)
    node.merged_shape = shape
    for call in node.ops:
        call.in_shape = shape
        call.args = bind_args(call.op, call.raw, node.scope, call.loc, memo)
        try:
            shape = call.op.infer(shape, call.args)
        except ShapeError as exc:
            raise SpecError(f"node '{node.id}': {exc.message} (input shape {list(call.in_shape)})",
                            call.loc, exc.hint) from None
        _check_limits(shape, call.loc, limits)
        totals.charge(call.op.params(call.in_shape, call.args) if call.op.params else 0,
                      _elements(shape), call.loc, limits)
        call.out_shape = shape
    node.shape = shape


def infer_shapes(g: FlatGraph, limits: ShapeLimits = ShapeLimits()) -> FlatGraph:
    """Check the DAG and give every node used by the output its shape."""
    for name, shape in g.inputs.items():
        _check_limits(shape, g.input_locs.get(name) or g.output_loc, limits)
    check_graph(g)
    g.scope.shape_lookup = g.shape_of
    totals = _Totals()
    # The input is an activation too: a huge input feeding only shrinking ops (gap, a
    # strided pool) would otherwise pass max_activations at any size up to max_elements.
    for name, shape in g.inputs.items():
        totals.charge(0, _elements(shape), g.input_locs.get(name) or g.output_loc, limits)
    memo: dict = {}  # validated op arguments, shared by identical calls
    g.scope.absent_ids = absent = set()
    for node_id in g.order:
        node = g.nodes[node_id]
        if node.conditions and not _exists(node):
            node.absent = True
            absent.add(node_id)
            continue
        _infer_node(g, node, limits, totals, memo)
    for out, loc in zip(g.outputs, g.output_locs):
        if _is_absent(g, out):
            raise SpecError(f"the output '{out}' does not exist: "
                            f"{_why_absent(g.nodes[out])}", loc)
    g.param_count = totals.params
    if _prune(g):
        g.param_count = _count_params(g)
    return g
