"""Blocks, repeats and connect patterns -> one flat graph of nodes.

Expansion works in two phases. First every scope is built: each node of the
spec becomes a leaf `FlatNode`, a block instance (its own scope), or a repeat
of those, and each `from:` becomes a *pending* reference. Then all pending
references are resolved, so nodes may refer to nodes defined later in the file
and into block instances (`d1.3.h`, `dmr.y1`). Cycles are found later, by the
graph checks, with the whole graph in view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import Loc, SpecError, limit_hint, unknown
from .expr import MappingEnv, evaluate
from .flat import INPUT, FlatGraph, FlatInput, FlatNode, OpCall
from .interface import check_loss_weights, model_inputs, model_outputs
from .load import Document, LDict, LList, locate
from .merges import MERGES, MergeDef
from .opitems import parse_op_item
from .recurrence_expand import build_recurrence, uses_recurrence
from .schema import BlockSpec, NodeSpec, RefSpec, Spec
from .scope import (Alias, Condition, Instance, Lazy, Leaf, MissingOptional, Repeated, Scope,
                    param_word, resolve)

RESERVED = {"i", "n", INPUT, "prev"}
CONNECT_PATTERNS = ("chain", "dense")


def is_word(raw: Any) -> bool:
    """A param written as the name of a merge or connect pattern holds that word."""
    return isinstance(raw, str) and (raw in CONNECT_PATTERNS or MERGES.lookup(raw) is not None)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExpandLimits:
    max_nodes: int = 20_000  # ResNet-1202, the deepest net of the seeds, has ~1,800
    max_repeat: int = 10_000
    max_block_depth: int = 32
    max_inputs: int = 200_000  # node inputs (edges) in all; the zoo's most, DenseNet-BC-250: 2,833


@dataclass
class _Pending:
    """A `from:` item waiting for every scope to exist before it is resolved."""

    node: FlatNode
    scope: Scope
    text: str
    loc: Loc | None
    weight: Any = 1
    slice: tuple[Any, Any] | None = None
    optional: bool = False
    fallback: str | None = None  # `else:` of the reference
    fallback_loc: Loc | None = None


def _raw(doc: Document, path: tuple) -> Any:
    node: Any = doc.root
    for step in path:
        node = node[step]
    return node


class Expander:
    def __init__(self, spec: Spec, doc: Document, limits: ExpandLimits):
        self.spec = spec
        self.doc = doc
        self.limits = limits
        self.nodes: dict[str, FlatNode] = {}
        self.pending: list[_Pending] = []
        self.block_stack: list[str] = []
        self.recurrences: dict = {}  # recurrence node id -> RecurrenceInfo
        self.inputs = 0  # node inputs so far (a dense pattern grows them quadratically)
        self.conditions: list[Condition] = []  # `if:`s of the nodes being built, outermost first

    def loc(self, path: tuple, key: bool = False) -> Loc | None:
        return locate(self.doc.root, path, key=key)

    def located(self, path: tuple, value: Any) -> Any:
        """A list value as written (an `LList`, whose items know their positions), or
        `value` itself; the schema's copy of a list has lost the positions."""
        if not isinstance(value, list):
            return value
        try:
            raw = _raw(self.doc, path)
        except (KeyError, IndexError, TypeError):
            return value
        return raw if isinstance(raw, LList) else value

    # ---------------------------------------------------------------- params
    def top_scope(self) -> Scope:
        values: dict[str, Any] = {}
        for name, raw in self.spec.params.items():
            path = ("params", name)
            self.check_name(name, self.loc(path, key=True), "param")
            if is_word(raw) and raw not in values:
                values[name] = raw  # a merge kind or connect pattern (see param_word)
            else:
                values[name] = evaluate(self.located(path, raw), MappingEnv(values),
                                        self.loc(path))
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
        if uses_recurrence(node):
            return build_recurrence(self, scope, name, node, path)
        loc = self.loc(path, key=True)
        if node.args and not node.block:
            raise SpecError(f"'args' of node '{name}' need a 'block'", self.loc((*path, "args"),
                                                                                key=True))
        if node.connect and node.repeat is None:
            raise SpecError(f"'connect' of node '{name}' needs a 'repeat'",
                            self.loc((*path, "connect"), key=True))
        if node.repeat is None:
            if node.block:
                return self.instantiate(scope, name, node, path, scope.id_of(name), None,
                                        self.refs_of(node, path, scope))
            flat = self.new_node(scope.id_of(name), scope, self.merge_of(node, path, scope), node.pad,
                                 loc, doc=node.doc)
            self.add_ops(flat, node, path, scope)
            self.feed(flat, self.refs_of(node, path, scope))
            return Leaf(flat.id)
        return self.build_repeat(scope, name, node, path)

    # ---------------------------------------------------------------- repeats
    def build_repeat(self, scope: Scope, name: str, node: NodeSpec, path: tuple) -> Repeated:
        rloc = self.loc((*path, "repeat"))
        count = self.repeat_count(node, scope, rloc)
        dense = self.connect_of(node, path, scope) == "dense"
        merge = self.merge_of(node, path, scope, "concat" if dense else None)
        if dense:  # ~count^2/2 edges: refuse before building any of them
            self.check_projected_inputs(name, count, rloc)
        base_refs = self.refs_of(node, path, scope)
        node_id = scope.id_of(name)
        if count == 0:
            return self.build_empty_repeat(scope, name, node, path, merge, base_refs, dense)
        instances: list = []
        prev_scope: Scope | None = None
        before = len(self.nodes)
        for i in range(count):
            if dense:
                feed = base_refs + [self.value_ref(inst) for inst in instances]
            elif i == 0:
                feed = base_refs
            else:
                feed = self.out_refs(instances[-1])
            iid = f"{node_id}.{i}"
            values = {"i": i, "n": count}
            if node.block:
                inst = self.instantiate(scope, name, node, path, iid, values, feed, merge,
                                        prev=prev_scope)
                prev_scope = inst.scope
            else:
                flat = self.new_node(iid, scope, merge, node.pad, self.loc(path, key=True),
                                     doc=node.doc)
                self.add_ops(flat, node, path, scope.with_values(values))
                self.feed(flat, feed)
                inst = Leaf(flat.id)
            instances.append(inst)
            if i == 0:
                self.check_projected(name, count, len(self.nodes) - before, rloc)
        dense_id = None
        if dense:
            out = self.new_node(node_id, scope, merge, node.pad, self.loc(path, key=True), "dense")
            self.feed(out, base_refs + [self.value_ref(inst) for inst in instances])
            dense_id = out.id
        return Repeated(instances, dense_id, name)

    def check_projected_inputs(self, name: str, count: int, loc: Loc | None) -> None:
        projected = self.inputs + count * (count + 1) // 2
        if projected > self.limits.max_inputs:
            raise SpecError(f"node '{name}' is a dense repeat of {count} instances: instance i "
                            f"reads all i before it, about {projected:,} inputs (edges) in all, "
                            f"over the limit of {self.limits.max_inputs:,}", loc,
                            "reduce the repeat count; " + limit_hint("max_inputs", "ExpandLimits"))

    def repeat_count(self, node: NodeSpec, scope: Scope, rloc: Loc | None) -> int:
        """The count, checked; a bad count that a block argument supplied is reported at
        the call site that passed the argument, not in the block's body."""
        count = evaluate(node.repeat, scope, rloc)
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            where, via = self.blame(node.repeat, scope, rloc)
            raise SpecError(f"repeat count must be a non-negative integer, got {count!r}{via}",
                            where)
        if count > self.limits.max_repeat:
            where, via = self.blame(node.repeat, scope, rloc)
            raise SpecError(f"repeat count {count} is over the limit of "
                            f"{self.limits.max_repeat}{via}", where,
                            limit_hint("max_repeat", "ExpandLimits"))
        return count

    def blame(self, raw: Any, scope: Scope, loc: Loc | None) -> tuple[Loc | None, str]:
        """Where a value that reads block arguments came from: the first argument it
        reads that the caller passed, and a note naming the use in the body."""
        origin, arg = _arg_origin(raw, scope)
        if origin is None:
            return loc, ""
        where = f"line {loc.line}" if loc else "the block"
        if loc and origin and loc.source is not origin.source:
            where += f" of {loc.source.name.rsplit('/', 1)[-1]}"
        return origin, f" (from argument '{arg}', used as the repeat count at {where})"

    def build_empty_repeat(self, scope: Scope, name: str, node: NodeSpec, path: tuple,
                           merge: MergeDef | None, base_refs: list[tuple], dense: bool):
        """`repeat: 0`: no instances; the node's value is its input (`merge(from)`)."""
        node_id, loc = scope.id_of(name), self.loc(path, key=True)
        outs = ["out"]
        if node.block:
            block = self.spec.blocks.get(node.block)
            if block is None:
                raise unknown("block", node.block, self.spec.blocks, self.loc((*path, "block")))
            outs = [block.out] if isinstance(block.out, str) else list(block.out)
        if len(outs) > 1 and not dense and not node.ops:
            if len(base_refs) != len(outs):
                raise SpecError(f"node '{name}' repeats block '{node.block}' 0 times, so its "
                                f"{len(outs)} out ports pass its inputs through, one each, but "
                                f"it has {len(base_refs)} input(s)", self.loc((*path, "from")),
                                "give one input per out port")
            passes = {}
            for out, ref in zip(outs, base_refs):
                flat = self.new_node(f"{node_id}.{out}", scope, None, None, loc, "port")
                self.feed(flat, [ref])
                passes[out] = flat.id
            return Repeated([], None, name, passes)
        flat = self.new_node(node_id, scope, merge, node.pad, loc, "dense" if dense else "port")
        self.feed(flat, base_refs)
        return Repeated([], flat.id, name)

    def check_projected(self, name: str, count: int, per_instance: int, loc: Loc | None) -> None:
        """Fail a multiplying repeat (a repeat of blocks that repeat) after its first
        instance, instead of building nodes up to the limit: the projection assumes the
        other instances are as large as the first."""
        projected = len(self.nodes) + per_instance * (count - 1)
        if projected > self.limits.max_nodes:
            raise SpecError(f"node '{name}' repeats {count} instances of {per_instance} nodes: "
                            f"the expanded graph would have about {projected:,} nodes, over the "
                            f"limit of {self.limits.max_nodes:,}", loc,
                            "reduce repeat counts; " + limit_hint("max_nodes", "ExpandLimits"))

    def value_ref(self, inst) -> tuple:
        """A reference to an instance's single output, as a pending-ref tuple."""
        if isinstance(inst, Leaf):
            return (_FixedRef(inst.id), None, 1, None, False)
        if inst.value is not None:
            return (_FixedRef(inst.value), None, 1, None, False)
        if len(inst.outs) != 1:
            raise SpecError(f"a dense repeat needs blocks with one out port; "
                            f"'{inst.node_name}' has {len(inst.outs)}")
        return (inst.scope, inst.outs[0], 1, None, False)

    def out_refs(self, inst) -> list[tuple]:
        if isinstance(inst, Leaf):
            return [(_FixedRef(inst.id), None, 1, None, False)]
        if inst.value is not None:
            return [(_FixedRef(inst.value), None, 1, None, False)]
        return [(inst.scope, out, 1, None, False) for out in inst.outs]

    # ----------------------------------------------------------------- blocks
    def instantiate(self, scope: Scope, name: str, node: NodeSpec, path: tuple, prefix: str,
                    repeat_values: dict | None, feed: list[tuple], merge: MergeDef | None = None,
                    prev: Scope | None = None) -> Instance:
        block_name = node.block
        bloc = self.loc((*path, "block"))
        block = self.spec.blocks.get(block_name)
        if block is None:
            raise unknown("block", block_name, self.spec.blocks, bloc)
        if block_name in self.block_stack:
            cycle = " -> ".join([*self.block_stack, block_name])
            raise SpecError(f"block '{block_name}' instantiates itself ({cycle})", bloc)
        if len(self.block_stack) >= self.limits.max_block_depth:
            raise SpecError(f"blocks nested deeper than {self.limits.max_block_depth}", bloc,
                            limit_hint("max_block_depth", "ExpandLimits"))
        bpath = ("blocks", block_name)
        caller = scope.with_values(repeat_values or {})
        inst_scope = Scope(prefix=prefix, parent=scope.root(), values=dict(repeat_values or {}),
                           prev=prev, repeated=repeat_values is not None)
        self.bind_params(inst_scope, caller, block, node, path, bpath)
        ins = [block.in_] if isinstance(block.in_, str) else list(block.in_)
        outs = [block.out] if isinstance(block.out, str) else list(block.out)
        for port in ins:
            self.check_name(port, self.loc((*bpath, "in")), "port")
        self.bind_ports(inst_scope, ins, feed, merge or self.merge_of(node, path, scope), node, path)
        self.block_stack.append(block_name)
        try:
            self.build_scope(inst_scope, block.nodes, (*bpath, "nodes"))
        finally:
            self.block_stack.pop()
        for out in outs:
            if out not in inst_scope.table:
                raise unknown("node", out, inst_scope.table, self.loc((*bpath, "out")))
        value = self.ops_after_block(inst_scope, caller, name, node, path, prefix, outs)
        return Instance(inst_scope, outs, name, value)

    def ops_after_block(self, inst: Scope, caller: Scope, name: str, node: NodeSpec,
                        path: tuple, prefix: str, outs: list[str]) -> str | None:
        """`{block: b, ops: [...]}`: a node (id = the instance's own) applying the ops to
        the block's out port; `NAME` then means that value, `NAME.PORT` the port's."""
        if not node.ops:
            return None
        loc = self.loc((*path, "ops"), key=True)
        if len(outs) != 1:
            raise SpecError(f"node '{name}' applies ops to block '{node.block}', which has "
                            f"{len(outs)} out ports ({', '.join(outs)})", loc,
                            "ops after a block need one out port; put them in a node that "
                            "reads one port")
        flat = self.new_node(prefix, caller, None, None, self.loc(path, key=True), doc=node.doc)
        self.add_ops(flat, node, path, caller)
        for call in flat.ops:
            if call.name in inst.table:
                raise SpecError(f"block '{node.block}' has a node or port named '{call.name}', "
                                f"the name of the module of op {call.name[len(call.op.name):]} "
                                f"('{call.op.name}') that node '{name}' applies after it", loc,
                                f"rename that node in block '{node.block}'")
        self.feed(flat, [(inst, outs[0], 1, None, False)])
        return flat.id

    def bind_params(self, inst: Scope, caller: Scope, block: BlockSpec, node: NodeSpec,
                    path: tuple, bpath: tuple) -> None:
        declared = block.params if isinstance(block.params, dict) else dict.fromkeys(block.params)
        for pname in declared:
            self.check_name(pname, self.loc((*bpath, "params")), "block param")
        for arg, raw in node.args.items():
            if arg not in declared:
                raise unknown(f"argument of block '{node.block}'", arg, declared,
                              self.loc((*path, "args", arg), key=True))
            apath = (*path, "args", arg)
            inst.values[arg] = Lazy(self.located(apath, raw), caller, self.loc(apath), caller=True)
        for pname, default in declared.items():
            if pname in node.args:
                continue
            if default is None:
                raise SpecError(f"block '{node.block}' needs argument '{pname}'",
                                self.loc(path, key=True), f"add args: {{{pname}: ...}}")
            ppath = (*bpath, "params", pname)
            inst.values[pname] = Lazy(self.located(ppath, default), inst, self.loc(ppath))

    def bind_ports(self, inst: Scope, ins: list[str], feed: list[tuple], merge: MergeDef | None,
                   node: NodeSpec, path: tuple) -> None:
        loc = self.loc((*path, "from"))
        if len(ins) == len(feed):
            for port, ref in zip(ins, feed):
                rscope, text, weight, slc, optional = ref[:5]
                if isinstance(rscope, _FixedRef) or weight != 1 or slc is not None or optional \
                        or len(ref) > 6 and ref[6]:
                    # a weighted reference keeps its weight through a signed sum
                    scale = MERGES.lookup("wsum") if weight != 1 else None
                    flat = self.new_node(inst.id_of(port), inst, scale, None, loc, "port")
                    self.feed(flat, [ref])
                    inst.table[port] = Leaf(flat.id)
                else:
                    inst.table[port] = Alias(rscope, text, loc)
            return
        if len(ins) == 1:
            if merge is None:
                raise SpecError(f"node '{path[-1]}' gives {len(feed)} inputs to a block with one "
                                "in port, but has no 'merge'", loc,
                                "add merge: add, concat, mean, dwsum, wsum or mul")
            flat = self.new_node(inst.id_of(ins[0]), inst, merge, node.pad, loc, "port")
            self.feed(flat, feed)
            inst.table[ins[0]] = Leaf(flat.id)
            return
        raise SpecError(f"node '{path[-1]}' gives {len(feed)} inputs to a block with "
                        f"{len(ins)} in ports ({', '.join(ins)})", loc,
                        "the 'from' list is matched to the in ports in order")

    # ------------------------------------------------------------ references
    def refs_of(self, node: NodeSpec, path: tuple, scope: Scope) -> list[tuple]:
        items = node.from_ if isinstance(node.from_, list) else [node.from_]
        listed = isinstance(node.from_, list)
        refs = []
        for j, item in enumerate(items):
            ipath = (*path, "from", j) if listed else (*path, "from")
            if isinstance(item, RefSpec):
                refs.append((scope, item.ref, item.weight, item.slice, item.optional,
                             self.loc((*ipath, "ref")),
                             (item.else_, self.loc((*ipath, "else"))) if item.else_ else None))
            else:
                refs.append((scope, *_split_slice(item, self.loc(ipath)), self.loc(ipath)))
        return refs

    def count_inputs(self, count: int, loc: Loc | None) -> None:
        self.inputs += count
        if self.inputs > self.limits.max_inputs:
            raise SpecError(f"the expanded graph has more than {self.limits.max_inputs:,} node "
                            "inputs", loc, "reduce repeat counts or recurrence steps; " +
                            limit_hint("max_inputs", "ExpandLimits"))

    def feed(self, flat: FlatNode, refs: list[tuple]) -> None:
        self.count_inputs(len(refs), flat.loc)
        for ref in refs:
            rscope, text, weight, slc, optional = ref[:5]
            loc = ref[5] if len(ref) > 5 else flat.loc
            if isinstance(rscope, _FixedRef):
                flat.inputs.append(FlatInput(rscope.id, rscope.id, loc, flat.scope, weight, slc))
                continue
            fallback, fallback_loc = ref[6] if len(ref) > 6 and ref[6] else (None, None)
            self.pending.append(_Pending(flat, rscope, text, loc, weight, slc, optional,
                                         fallback, fallback_loc))
            flat.inputs.append(None)  # placeholder, filled in order by resolve_pending

    def resolve_pending(self) -> None:
        slots: dict[int, int] = {}
        for p in self.pending:
            index = slots.setdefault(id(p.node), 0)
            while p.node.inputs[index] is not None:
                index += 1
            try:
                src = resolve(p.scope, p.text, p.loc, optional=p.optional)
                label = p.text if p.slice is None else f"{p.text}[{p.slice[0]}:{p.slice[1]}]"
                p.node.inputs[index] = FlatInput(src, label, p.loc, p.scope, p.weight, p.slice,
                                                 optional=p.optional,
                                                 fallback=self.fallback_of(p))
            except MissingOptional:
                p.node.inputs[index] = _DROPPED
            slots[id(p.node)] = index + 1
        for flat in self.nodes.values():
            flat.inputs = [x for x in flat.inputs if x is not _DROPPED]
            if not flat.inputs:
                raise SpecError(f"node '{flat.id}' has no inputs left (only optional references "
                                "that do not exist here)", flat.loc)

    def fallback_of(self, p: _Pending) -> FlatInput | None:
        """The `else:` of a reference, resolved in the same scope (None when absent)."""
        if p.fallback is None:
            return None
        text, slc = p.fallback, p.slice
        if "[" in text:
            text, _, slc, _ = _split_slice(text, p.fallback_loc)
        try:
            src = resolve(p.scope, text, p.fallback_loc, optional=p.optional)
        except MissingOptional:
            return None
        return FlatInput(src, p.fallback, p.fallback_loc, p.scope, p.weight, slc,
                         optional=p.optional)

    # -------------------------------------------------------------------- ops
    def add_ops(self, flat: FlatNode, node: NodeSpec, path: tuple, scope: Scope) -> None:
        flat.scope = scope
        raw_ops = _raw(self.doc, path).get("ops", []) if node.ops else []
        counts: dict[str, int] = {}
        for k, item in enumerate(raw_ops):
            loc = raw_ops.item_locs[k] if isinstance(raw_ops, LList) else flat.loc
            op, raw = parse_op_item(item, loc, raw_ops[k + 1:])
            counts[op.name] = counts.get(op.name, 0) + 1
            flat.ops.append(OpCall(op, raw, loc, f"{op.name}{counts[op.name]}"))


@dataclass(frozen=True)
class _FixedRef:
    """A reference already resolved to a flat id (instances of op-only repeats)."""

    id: str


_DROPPED = object()


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


def _split_slice(text: str, loc: Loc | None) -> tuple:
    """'name[a:b]' -> (name, 1, (a, b), False); 'name' -> (name, 1, None, False)."""
    text = text.strip()
    if "[" not in text and "]" not in text:
        return text, 1, None, False
    m = re.fullmatch(r"([^\[\]]+)\[([^\[\]:]*):([^\[\]:]*)\]", text)
    if not m:
        raise SpecError(f"malformed channel slice '{text}'", loc,
                        "write NAME[start:stop], quoted inside [...] flow lists: \"s[0:k]\"")
    name, a, b = m.group(1).strip(), m.group(2).strip(), m.group(3).strip()
    return name, 1, (a or 0, b or None), False


def expand(spec: Spec, doc: Document, limits: ExpandLimits = ExpandLimits()) -> FlatGraph:
    """Checked spec -> flat graph with unresolved shapes (see `infer_shapes`)."""
    ex = Expander(spec, doc, limits)
    inputs, input_locs = model_inputs(spec, doc, ex.check_name)
    top = ex.top_scope()
    top.inputs = tuple(inputs)
    ex.build_scope(top, spec.nodes, ("nodes",))
    for name, block in spec.blocks.items():
        ex.check_name(name, ex.loc(("blocks", name), key=True), "block")
    ex.resolve_pending()
    outputs, output_names, output_locs = model_outputs(spec, doc, top)
    check_loss_weights(doc, output_names)
    return FlatGraph(spec.name, doc.source, inputs, ex.nodes, outputs, output_names, output_locs,
                     dict(top.values), scope=top, train=spec.train, paper=spec.paper,
                     input_locs=input_locs, recurrences=ex.recurrences)
