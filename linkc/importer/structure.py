"""Fold the importer's flat nodes into blocks, repeats and dense patterns.

The module tree decides the grouping. Nodes of the model's own forward are
top-level nodes; the nodes under one top-level submodule form a *group*. A group
of one node is that node; a group whose submodules are numbered (`nn.Sequential`,
`nn.ModuleList`, a linkc repeat; a linkc recurrence's `X.3` and `X.3_1` are both
number 3) holds one block instance per number; any other group is one block
instance. An instance that another group's nodes run inside of (a module's own
layers called between the calls of its numbered children) cannot be one block: its
nodes become top-level nodes. Consecutive instances with the same structure (the
same nodes, merges, ops and wiring; only numbers may differ) become one `repeat`
of one block: chained when each feeds the next, `connect: dense` when each reads
the concatenation of the group's input and every earlier output. Numbers that
differ between instances of a block become its params; a repeat passes each as a
constant, as `a + b * i`, or as an entry of a list param (PyramidNet's widths).
Blocks are named after the instance's class.

grouping.py finds the groups, instances and runs; this module plans the blocks and
writes the layout; naming.py holds the identifier and number rules both use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..ops import MERGES
from .grouping import Grouper, Instance
from .naming import ident, numeric, progression, snake, unique
from .nodes import Ref, SpecNode, Value
from .write import op_item

__all__ = ["Layout", "fold"]


@dataclass
class Layout:
    """What the writer needs, and each flat node's expanded id (for the weights)."""

    blocks: dict[str, dict] = field(default_factory=dict)
    nodes: list[tuple[str, dict]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    flat_ids: dict[int, str] = field(default_factory=dict)  # id(SpecNode) -> expanded id
    outputs: list[str] = field(default_factory=list)


class _Writer:
    """Writes the planned entries into a Layout: top-level nodes, one block per
    signature, and the repeats that instantiate them."""

    def __init__(self, inputs: list[Value], input_names: list[str],
                 dense_values: dict[tuple[int, ...], Value]):
        self.layout = Layout()
        self.text: dict[int, str] = {id(v): name for v, name in zip(inputs, input_names)}
        self.taken: set[str] = set(input_names)
        self.block_of: dict[Any, str] = {}
        self.shared: dict[tuple, str] = {}  # (group, argument, value) -> top-level param
        self.dense_values = dense_values

    def ref_text(self, r: Ref, local: dict[int, str]) -> str:
        base = local.get(id(r.value)) or self.text[id(r.value)]
        if r.weight != 1.0:
            w = int(r.weight) if float(r.weight).is_integer() else r.weight
            inner = f"ref: {base}, weight: {w}"
            if r.slice is not None:
                inner += f", slice: [{r.slice[0]}, {r.slice[1]}]"
            return "{" + inner + "}"
        return base if r.slice is None else f'"{base}[{r.slice[0]}:{r.slice[1]}]"'

    def from_text(self, refs: list[Ref], local: dict[int, str]) -> str:
        texts = [self.ref_text(r, local) for r in refs]
        return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"

    def fields(self, n: SpecNode, local: dict[int, str], ops: list[str],
               refs: list[Ref] | None = None) -> dict:
        refs = n.refs if refs is None else refs
        out: dict[str, Any] = {"from": self.from_text(refs, local)}
        if n.merge and (len(refs) > 1 or MERGES[n.merge].weighted or MERGES[n.merge].params):
            out["merge"] = n.merge  # a merge over one input is that input, unless weighted
        if n.pad:
            out["pad"] = n.pad
        out["ops"] = ops
        return out

    def top_node(self, n: SpecNode, name: str) -> None:
        name = unique(ident(name), self.taken)
        self.layout.nodes.append((name, self.fields(n, {}, [op_item(o, a) for o, a in n.ops])))
        self.layout.flat_ids[id(n)] = name
        self.text[id(n.value)] = name

    def plan_block(self, insts: list[Instance], dense: bool) -> None:
        """One block per signature: slots that differ between any two of its instances
        are params (slots that always agree share one)."""
        first = insts[0]
        vectors = list(zip(*[i.slots for i in insts])) if first.slots else []
        params: list[str] = []
        slot_param: dict[int, str] = {}
        seen: dict[tuple, str] = {}
        taken: set[str] = set()
        for j, vec in enumerate(vectors):
            if len(set(vec)) == 1:
                continue
            if vec not in seen:
                seen[vec] = unique(ident(first.slot_names[j]), taken)
                params.append(seen[vec])
            slot_param[j] = seen[vec]
        base = first.cls if first.cls not in ("Module", "Sequential", "ModuleList") else \
            f"{first.key[-2] if first.key[-1].isdigit() and len(first.key) > 1 else first.key[-1]}_block"
        name = unique(snake(base), set(self.layout.blocks) | self.taken)
        self.block_of[(first.signature, dense)] = name
        self.layout.blocks[name] = {"params": params, "slot_param": slot_param,
                                    "pad": any(n.pad for i in insts for n in i.items),
                                    "pads": [any(i.items[k].pad for i in insts)
                                             for k in range(len(first.items))]}

    def write_block(self, inst: Instance, dense: bool) -> str:
        name = self.block_of[(inst.signature, dense)]
        block = self.layout.blocks[name]
        if "nodes" in block:
            return name
        ports = ["x"] if len(inst.ports) == 1 or dense else \
            [f"x{j}" for j in range(len(inst.ports))]
        local = {id(n.value): nm for n, nm in zip(inst.items, inst.names)}
        if not dense:
            local.update({id(p.value): ports[j] for j, p in enumerate(inst.ports)})
        body, j = [], 0
        for k, (n, nm) in enumerate(zip(inst.items, inst.names)):
            ops = []
            for op, args in n.ops:
                shown = {}
                for arg, v in args.items():
                    if numeric(v):
                        shown[arg] = block["slot_param"].get(j, v)
                        j += 1
                    else:
                        shown[arg] = v
                ops.append(op_item(op, shown))
            if dense and k == 0:  # the repeat's merge feeds the one in port
                fields = {"from": "x", "ops": ops}
            else:
                fields = self.fields(n, local, ops)
                if block["pads"][k] and n.merge and MERGES[n.merge].padded:
                    fields = {**{key: v for key, v in fields.items() if key != "ops"},
                              "pad": "zeros", "ops": fields["ops"]}
            body.append((nm, fields))
        block.update({"in": ports, "out": [local[id(v)] for v in inst.outs], "nodes": body})
        return name

    def param(self, name: str, value: Any, shared: tuple | None = None) -> str:
        """A top-level param holding `value`: its name. Runs of one group (a stage's first
        block and its repeat) share a param for an argument that has one value in both."""
        if shared is not None and (shared, repr(value)) in self.shared:
            return self.shared[(shared, repr(value))]
        name = unique(ident(name), self.taken)
        self.layout.params[name] = value
        if shared is not None:
            self.shared[(shared, repr(value))] = name
        return name

    def write_run(self, name: str, run: list[Instance], base: list[Ref] | None) -> None:
        dense = base is not None
        block = self.write_block(run[0], dense)
        name = unique(ident(name), self.taken)
        info = self.layout.blocks[block]
        key = run[0].key
        group = ident("_".join(key[:-1])) if len(key) > 1 and key[-1].isdigit() else name
        args: dict[str, Any] = {}
        listed = False
        for p in info["params"]:
            j = next(k for k, q in info["slot_param"].items() if q == p)
            values = [i.slots[j] for i in run]
            rule = progression(values) if len(run) > 1 else values[0]
            if rule is None:
                rule, listed = f"{self.param(f'{name}_{p}', values)}[i]", True
            elif numeric(rule):  # a width or rate of this stage: `--set` reaches it
                rule = self.param(f"{group}_{p}", rule, (group, p))
            args[p] = rule
        fields: dict[str, Any] = {"from": self.from_text(base if dense else run[0].ports, {})}
        if len(run) > 1:  # a depth (not where a list param holds one entry per instance)
            fields["repeat"] = len(run) if listed else self.param(f"{name}_n", len(run))
        if dense:
            fields["connect"] = "dense"
        fields["block"] = block
        if args:
            fields["args"] = args
        self.layout.nodes.append((name, fields))
        outs = info["out"]
        names = [nm for nm, _ in info["nodes"]]  # the block's names, from its first instance
        for j, inst in enumerate(run):
            prefix = f"{name}.{j}" if len(run) > 1 else name
            for n, nm in zip(inst.items, names):
                self.layout.flat_ids[id(n)] = f"{prefix}.{nm}"
                self.text[id(n.value)] = f"{prefix}.{nm}"
        for v, port in zip(run[-1].outs, outs):
            self.text[id(v)] = name if len(outs) == 1 else f"{name}.{port}"
        if dense:
            key = tuple([id(r.value) for r in base] + [id(i.outs[0]) for i in run])
            self.text[id(self.dense_values[key])] = name


def _entry_nodes(entry: tuple) -> list[SpecNode]:
    return [entry[1]] if entry[0] == "node" else [n for inst in entry[2] for n in inst.items]


def _dependency_order(plan: list[tuple], dense_values: dict) -> list[tuple]:
    """Entries so that each comes after the entries it reads (groups interleave in a
    forward: a stream's next stage may start before the other stream's last block).
    Entries that read each other (a module's own layers called between the calls of
    its numbered children: one instance around another group's) have no such order,
    so the largest entry on a cycle is written as top-level nodes, until none is left."""
    while True:
        order, cyclic = _try_order(plan, dense_values)
        if not cyclic:
            return order
        plan = _dissolve(plan, cyclic)


def _try_order(plan: list[tuple], dense_values: dict) -> tuple[list[tuple], list[int]]:
    """(the entries in dependency order, []) or (..., the entries on a cycle)."""
    made = {}
    for k, entry in enumerate(plan):
        for n in _entry_nodes(entry):
            made[id(n.value)] = k
        if entry[0] == "run" and entry[3] is not None:  # a dense run makes its value
            key = tuple([id(r.value) for r in entry[3]] + [id(i.outs[0]) for i in entry[2]])
            made[id(dense_values[key])] = k
    graph = nx.DiGraph()  # an edge j -> k: entry k reads a value entry j makes
    graph.add_nodes_from(range(len(plan)))
    for k, entry in enumerate(plan):
        graph.add_edges_from((made[id(r.value)], k) for n in _entry_nodes(entry)
                             for r in n.refs if made.get(id(r.value), k) != k)
    if not nx.is_directed_acyclic_graph(graph):
        return [], sorted(k for part in nx.strongly_connected_components(graph)
                          if len(part) > 1 for k in part)
    # the earliest entry whose inputs are made, each time: plan order where it can be
    return [plan[k] for k in nx.lexicographical_topological_sort(graph)], []


def _dissolve(plan: list[tuple], cyclic: list[int]) -> list[tuple]:
    """The plan with the largest entry of `cyclic` as one top-level node per node. A
    dense run stays whole (its readers read its value, which only the repeat makes);
    every cycle holds another run, since a dense run reads only its input and single
    nodes follow the module's own (acyclic) graph."""
    runs = [k for k in cyclic if plan[k][0] == "run" and plan[k][3] is None]
    k = max(runs, key=lambda j: len(_entry_nodes(plan[j])))
    name = plan[k][1]
    nodes = [("node", n, f"{name}_{nm}") for inst in plan[k][2]
             for n, nm in zip(inst.items, inst.names)]
    return plan[:k] + nodes + plan[k + 1:]


def fold(nodes: list[SpecNode], inputs: list[Value], outputs: list[Value],
         classes: dict[str, str], input_names: list[str],
         structures: dict[str, Any] | None = None) -> Layout:
    grouper = Grouper(nodes, outputs, classes, structures)
    grouper.settle_homes()
    # A first pass finds the dense runs and points their readers at them, so that the
    # blocks that read a dense block's value see one input, not its pieces.
    for g, items in grouper.groups():
        if g is not None:
            grouper.group(g, items)
    plan: list[tuple] = []
    for g, items in grouper.groups():
        plan += [("node", items[0], items[0].name)] if g is None else grouper.group(g, items)
    plan = _dependency_order(plan, grouper.dense_values)
    writer = _Writer(inputs, input_names, grouper.dense_values)
    by_signature: dict[Any, list[Instance]] = {}
    for entry in plan:
        if entry[0] == "run":
            for inst in entry[2]:
                by_signature.setdefault((inst.signature, entry[3] is not None), []).append(inst)
    for (signature, dense), insts in by_signature.items():
        writer.plan_block(insts, dense)
    for entry in plan:
        if entry[0] == "node":
            writer.top_node(entry[1], entry[2])
        else:
            writer.write_run(entry[1], entry[2], entry[3])
    for block in writer.layout.blocks.values():
        for key in ("slot_param", "pad", "pads"):
            block.pop(key, None)
    writer.layout.outputs = [writer.text[id(v)] for v in grouper.outputs]
    return writer.layout
