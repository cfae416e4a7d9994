"""A `block:` node -> one instance of the block: its own scope, arguments and ports.

Blocks are lexically scoped: an instance's scope has the spec's scope as parent,
never the caller's. Arguments are bound lazily (`scope.Lazy`), evaluated in the
caller's scope the first time they are read; in ports are bound to the caller's
references, as an alias where the reference is a bare name and as a port node
where it carries a weight, a slice, `optional:` or `else:` (or several inputs
meet at one port through the node's merge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SpecError, limit_hint, unknown
from ..ops.merges import MERGES, MergeDef, add_merge_hint
from .refs import Ref
from ..spec.schema import BlockSpec, NodeSpec
from .scope import Alias, Instance, Lazy, Leaf, Scope

if TYPE_CHECKING:
    from .expander import Expander


def ports(names: str | list[str]) -> list[str]:
    """A block's `in:` or `out:`: one name or a list of them."""
    return [names] if isinstance(names, str) else list(names)


def instantiate(ex: Expander, scope: Scope, name: str, node: NodeSpec, path: tuple, prefix: str,
                repeat_values: dict | None, feed: list[Ref], merge: MergeDef | None = None,
                prev: Scope | None = None) -> Instance:
    """Build one instance of `node.block` with flat ids under `prefix`, its in ports
    reading `feed`; `repeat_values` are its repeat's `i` and `n` (None: not repeated)."""
    block = _block_to_enter(ex, node, path)
    bpath = ("blocks", node.block)
    caller = scope.with_values(repeat_values or {})
    inst_scope = Scope(prefix=prefix, parent=scope.root(), values=dict(repeat_values or {}),
                       prev=prev, repeated=repeat_values is not None)
    _bind_params(ex, inst_scope, caller, block, node, path, bpath)
    ins, outs = ports(block.in_), ports(block.out)
    for port in ins:
        ex.check_name(port, ex.loc((*bpath, "in")), "port")
    _bind_ports(ex, inst_scope, ins, feed, merge or ex.merge_of(node, path, scope), node, path)
    ex.block_stack.append(node.block)
    try:
        ex.build_scope(inst_scope, block.nodes, (*bpath, "nodes"))
    finally:
        ex.block_stack.pop()
    for out in outs:
        if out not in inst_scope.table:
            raise unknown("node", out, inst_scope.table, ex.loc((*bpath, "out")))
    value = _ops_after_block(ex, inst_scope, caller, name, node, path, prefix, outs)
    return Instance(inst_scope, outs, name, value)


def _block_to_enter(ex: Expander, node: NodeSpec, path: tuple) -> BlockSpec:
    """The block `node` instantiates, refusing unknown blocks, recursion and deep nesting."""
    bloc = ex.loc((*path, "block"))
    block = ex.spec.blocks.get(node.block)
    if block is None:
        raise unknown("block", node.block, ex.spec.blocks, bloc)
    if node.block in ex.block_stack:
        cycle = " -> ".join([*ex.block_stack, node.block])
        raise SpecError(f"block '{node.block}' instantiates itself ({cycle})", bloc)
    if len(ex.block_stack) >= ex.limits.max_block_depth:
        raise SpecError(f"blocks nested deeper than {ex.limits.max_block_depth}", bloc,
                        limit_hint("max_block_depth", "ExpandLimits"))
    return block


def _ops_after_block(ex: Expander, inst: Scope, caller: Scope, name: str, node: NodeSpec,
                     path: tuple, prefix: str, outs: list[str]) -> str | None:
    """`{block: b, ops: [...]}`: a node (id = the instance's own) applying the ops to
    the block's out port; `NAME` then means that value, `NAME.PORT` the port's."""
    if not node.ops:
        return None
    loc = ex.loc((*path, "ops"), key=True)
    if len(outs) != 1:
        raise SpecError(f"node '{name}' applies ops to block '{node.block}', which has "
                        f"{len(outs)} out ports ({', '.join(outs)})", loc,
                        "ops after a block need one out port; put them in a node that "
                        "reads one port")
    flat = ex.new_node(prefix, caller, None, None, ex.loc(path, key=True), doc=node.doc)
    ex.add_ops(flat, node.ops, caller)
    for call in flat.ops:
        if call.name in inst.table:
            raise SpecError(f"block '{node.block}' has a node or port named '{call.name}', "
                            f"the name of the module of op {call.name[len(call.op.name):]} "
                            f"('{call.op.name}') that node '{name}' applies after it", loc,
                            f"rename that node in block '{node.block}'")
    ex.feed(flat, [Ref(inst, outs[0])])
    return flat.id


def _bind_params(ex: Expander, inst: Scope, caller: Scope, block: BlockSpec, node: NodeSpec,
                 path: tuple, bpath: tuple) -> None:
    declared = block.params if isinstance(block.params, dict) else dict.fromkeys(block.params)
    for pname in declared:
        ex.check_name(pname, ex.loc((*bpath, "params")), "block param")
    for arg, raw in node.args.items():
        if arg not in declared:
            raise unknown(f"argument of block '{node.block}'", arg, declared,
                          ex.loc((*path, "args", arg), key=True))
        inst.values[arg] = Lazy(raw, caller, ex.loc((*path, "args", arg)), caller=True)
    for pname, default in declared.items():
        if pname in node.args:
            continue
        if default is None:
            raise SpecError(f"block '{node.block}' needs argument '{pname}'",
                            ex.loc(path, key=True), f"add args: {{{pname}: ...}}")
        inst.values[pname] = Lazy(default, inst, ex.loc((*bpath, "params", pname)))


def _bind_ports(ex: Expander, inst: Scope, ins: list[str], feed: list[Ref],
                merge: MergeDef | None, node: NodeSpec, path: tuple) -> None:
    loc = ex.loc((*path, "from"))
    if len(ins) == len(feed):
        for port, ref in zip(ins, feed):
            if ref.plain:
                inst.table[port] = Alias(ref.scope, ref.text, loc)
                continue
            # a weighted reference keeps its weight through a signed sum
            scale = MERGES.lookup("wsum") if ref.weight != 1 else None
            flat = ex.new_node(inst.id_of(port), inst, scale, None, loc, "port")
            ex.feed(flat, [ref])
            inst.table[port] = Leaf(flat.id)
        return
    if len(ins) == 1:
        if merge is None:
            raise SpecError(f"node '{path[-1]}' gives {len(feed)} inputs to a block with one "
                            "in port, but has no 'merge'", loc,
                            add_merge_hint())
        flat = ex.new_node(inst.id_of(ins[0]), inst, merge, node.pad, loc, "port")
        ex.feed(flat, feed)
        inst.table[ins[0]] = Leaf(flat.id)
        return
    raise SpecError(f"node '{path[-1]}' gives {len(feed)} inputs to a block with "
                    f"{len(ins)} in ports ({', '.join(ins)})", loc,
                    "the 'from' list is matched to the in ports in order")
