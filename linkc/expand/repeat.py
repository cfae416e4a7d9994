"""A `repeat:` node -> its instances, chained (`connect: chain`) or dense.

Instance k of a chain reads instance k-1; instance k of a dense repeat reads the
node's inputs and every instance before it, and the node's value is the merge
(`concat` by default) of all of them. `repeat: 0` makes the node its input.
Counts are checked against the limits before anything is built: a dense repeat
by the edges it would make, a repeat of repeating blocks after its first
instance, by projecting that instance's size.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .block import instantiate, ports
from ..errors import Loc, SpecError, limit_hint, unknown
from ..spec.expr import evaluate
from ..ops.merges import MergeDef
from .refs import Ref, out_refs, value_ref
from ..spec.schema import NodeSpec
from .scope import Lazy, Leaf, Repeated, Scope

if TYPE_CHECKING:
    from .expander import Expander


def build_repeat(ex: Expander, scope: Scope, name: str, node: NodeSpec, path: tuple) -> Repeated:
    rloc = ex.loc((*path, "repeat"))
    count = _repeat_count(ex, node, scope, rloc)
    dense = ex.connect_of(node, path, scope) == "dense"
    merge = ex.merge_of(node, path, scope, "concat" if dense else None)
    if dense:  # ~count^2/2 edges: refuse before building any of them
        _check_projected_inputs(ex, name, count, rloc)
    base_refs = ex.refs_of(node, path, scope)
    if count == 0:
        return _build_empty_repeat(ex, scope, name, node, path, merge, base_refs, dense)
    node_id = scope.id_of(name)
    instances: list = []
    earlier: list[Ref] = []  # the value of each instance so far (what a dense one reads)
    prev_scope: Scope | None = None
    before = len(ex.nodes)
    for i in range(count):
        if dense or i == 0:
            feed = base_refs + earlier
        else:
            feed = out_refs(instances[-1])
        values = {"i": i, "n": count}
        if node.block:
            inst = instantiate(ex, scope, name, node, path, f"{node_id}.{i}", values, feed,
                               merge, prev=prev_scope)
            prev_scope = inst.scope
        else:
            flat = ex.new_node(f"{node_id}.{i}", scope, merge, node.pad, ex.loc(path, key=True),
                               doc=node.doc)
            ex.add_ops(flat, node.ops, scope.with_values(values))
            ex.feed(flat, feed)
            inst = Leaf(flat.id)
        instances.append(inst)
        if i == 0:
            _check_projected(ex, name, count, len(ex.nodes) - before, rloc)
        if dense:
            earlier.append(value_ref(inst))
    if not dense:
        return Repeated(instances, None, name)
    out = ex.new_node(node_id, scope, merge, node.pad, ex.loc(path, key=True), "dense")
    ex.feed(out, base_refs + earlier)
    return Repeated(instances, out.id, name)


def _check_projected_inputs(ex: Expander, name: str, count: int, loc: Loc | None) -> None:
    projected = ex.inputs + count * (count + 1) // 2
    if projected > ex.limits.max_inputs:
        raise SpecError(f"node '{name}' is a dense repeat of {count} instances: instance i "
                        f"reads all i before it, about {projected:,} inputs (edges) in all, "
                        f"over the limit of {ex.limits.max_inputs:,}", loc,
                        "reduce the repeat count; " + limit_hint("max_inputs", "ExpandLimits"))


def _check_projected(ex: Expander, name: str, count: int, per_instance: int,
                     loc: Loc | None) -> None:
    """Fail a multiplying repeat (a repeat of blocks that repeat) after its first
    instance, instead of building nodes up to the limit: the projection assumes the
    other instances are as large as the first."""
    projected = len(ex.nodes) + per_instance * (count - 1)
    if projected > ex.limits.max_nodes:
        raise SpecError(f"node '{name}' repeats {count} instances of {per_instance} nodes: "
                        f"the expanded graph would have about {projected:,} nodes, over the "
                        f"limit of {ex.limits.max_nodes:,}", loc,
                        "reduce repeat counts; " + limit_hint("max_nodes", "ExpandLimits"))


def _repeat_count(ex: Expander, node: NodeSpec, scope: Scope, rloc: Loc | None) -> int:
    """The count, checked; a bad count that a block argument supplied is reported at
    the call site that passed the argument, not in the block's body."""
    count = evaluate(node.repeat, scope, rloc)
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        where, via = _blame(node.repeat, scope, rloc)
        raise SpecError(f"repeat count must be a non-negative integer, got {count!r}{via}",
                        where)
    if count > ex.limits.max_repeat:
        where, via = _blame(node.repeat, scope, rloc)
        raise SpecError(f"repeat count {count} is over the limit of "
                        f"{ex.limits.max_repeat}{via}", where,
                        limit_hint("max_repeat", "ExpandLimits"))
    return count


def _blame(raw: Any, scope: Scope, loc: Loc | None) -> tuple[Loc | None, str]:
    """Where a value that reads block arguments came from: the first argument it
    reads that the caller passed, and a note naming the use in the body."""
    origin, arg = _arg_origin(raw, scope)
    if origin is None:
        return loc, ""
    where = f"line {loc.line}" if loc else "the block"
    if loc and origin and loc.source is not origin.source:
        where += f" of {loc.source.name.rsplit('/', 1)[-1]}"
    return origin, f" (from argument '{arg}', used as the repeat count at {where})"


def _arg_origin(raw: Any, scope: Scope) -> tuple[Loc | None, str | None]:
    """The call site of the first block argument an expression reads (followed through
    arguments that pass arguments on), or (None, None) when it reads none."""
    if not isinstance(raw, str):
        return None, None
    for name in _names_in(raw):
        value = scope.binding_of(name)
        if isinstance(value, Lazy) and value.caller:
            deeper, arg = _arg_origin(value.raw, value.env)
            return (deeper, arg) if deeper is not None else (value.loc, name)
    return None, None


def _names_in(text: str) -> list[str]:
    """Identifiers an expression reads, in order (for pointing at where they came from)."""
    return list(dict.fromkeys(re.findall(r"(?<![\w.])[A-Za-z_]\w*", text)))


def _build_empty_repeat(ex: Expander, scope: Scope, name: str, node: NodeSpec, path: tuple,
                        merge: MergeDef | None, base_refs: list[Ref], dense: bool) -> Repeated:
    """`repeat: 0`: no instances; the node's value is its input (`merge(from)`)."""
    node_id, loc = scope.id_of(name), ex.loc(path, key=True)
    outs = ["out"]
    if node.block:
        block = ex.spec.blocks.get(node.block)
        if block is None:
            raise unknown("block", node.block, ex.spec.blocks, ex.loc((*path, "block")))
        outs = ports(block.out)
    if len(outs) > 1 and not dense and not node.ops:
        if len(base_refs) != len(outs):
            raise SpecError(f"node '{name}' repeats block '{node.block}' 0 times, so its "
                            f"{len(outs)} out ports pass its inputs through, one each, but "
                            f"it has {len(base_refs)} input(s)", ex.loc((*path, "from")),
                            "give one input per out port")
        passes = {}
        for out, ref in zip(outs, base_refs):
            flat = ex.new_node(f"{node_id}.{out}", scope, None, None, loc, "port")
            ex.feed(flat, [ref])
            passes[out] = flat.id
        return Repeated([], None, name, passes)
    flat = ex.new_node(node_id, scope, merge, node.pad, loc, "dense" if dense else "port")
    ex.feed(flat, base_refs)
    return Repeated([], flat.id, name)
