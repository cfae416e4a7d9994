"""The inputs of one node as shape inference reads them: each input's weight and
channel slice evaluated, `else:` followed where a node does not exist, optional
references to nodes that do not exist and empty slices dropped where allowed."""

from __future__ import annotations

from ..errors import SpecError
from ..spec.expr import evaluate
from ..expand.flat_graph import INPUT, FlatGraph, FlatInput, FlatNode
from ..ops.registry import Shape


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


def origin(g: FlatGraph, src: str) -> str:
    """Where a merge input was produced, for shape-mismatch messages."""
    if src == INPUT:
        return "the model input"
    if src in g.inputs:
        return f"model input '{src}'"
    loc = g.nodes[src].loc
    return f"node at line {loc.line}" if loc else f"node {src}"


def non_empty_inputs(g: FlatGraph, node: FlatNode) -> list[Shape]:
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
    if not kept and node.inputs and all(is_absent(g, x.src) for x in node.inputs):
        raise SpecError(f"node '{node.id}' has no inputs left: each is optional and names a "
                        "node that does not exist here", node.inputs[0].loc or node.loc,
                        "give one of them a fallback: {ref: NAME, else: OTHER}")
    if not kept:
        raise SpecError(f"every input of node '{node.id}' is an empty channel slice",
                        node.inputs[0].loc or node.loc, "a concat needs one non-empty input")
    node.inputs = kept
    return shapes


def is_absent(g: FlatGraph, src: str) -> bool:
    return not g.is_input(src) and g.nodes[src].absent


def _existing(g: FlatGraph, node: FlatNode, x: FlatInput) -> FlatInput | None:
    """The input that is really read: `x`, its `else:` when x's node does not exist,
    or None for an optional reference to a node that does not exist."""
    first = x
    while is_absent(g, x.src):
        if x.fallback is not None:
            x = x.fallback
            continue
        if x.optional:
            return None
        label = f"'{first.label}' does" if x is first else \
            f"'{first.label}' and its fallback '{x.label}' do"
        raise SpecError(f"{label} not exist here: {why_absent(g.nodes[x.src])}",
                        x.loc, f"mark it optional ({{ref: {first.label}, optional: true}}) or "
                               f"give a fallback ({{ref: {first.label}, else: NAME}})")
    return x


def why_absent(node: FlatNode) -> str:
    cond = next(c for c in node.conditions if c.value is False)
    where = f" at line {cond.loc.line}" if cond.loc else ""
    text = str(cond.raw).lower() if isinstance(cond.raw, bool) else cond.raw
    return f"its condition if: {text}{where} is false"


def exists(node: FlatNode) -> bool:
    """Whether every `if:` guarding the node holds (outermost first, so an inner
    condition is evaluated only where the outer one allows the node)."""
    return all(c.holds() for c in node.conditions)
