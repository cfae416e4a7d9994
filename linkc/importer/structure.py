"""Fold the importer's flat nodes into blocks, repeats and dense patterns.

The module tree decides the grouping. Nodes of the model's own forward are
top-level nodes; the nodes under one top-level submodule form a *group*. A group
of one node is that node; a group whose submodules are numbered (`nn.Sequential`,
`nn.ModuleList`, a linkc repeat) holds one block instance per number; any other
group is one block instance. Consecutive instances with the same structure (the
same nodes, merges, ops and wiring; only numbers may differ) become one `repeat`
of one block: chained when each feeds the next, `connect: dense` when each reads
the concatenation of the group's input and every earlier output. Numbers that
differ between instances of a block become its params; a repeat passes each as a
constant, as `a + b * i`, or as an entry of a list param (PyramidNet's widths).
Blocks are named after the instance's class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .values import Ref, SpecNode, Value
from .write import format_value, op_item

__all__ = ["Layout", "fold"]

RESERVED = {"i", "n", "input", "prev"}


@dataclass
class Layout:
    """What the writer needs, and each flat node's expanded id (for the weights)."""

    blocks: dict[str, dict] = field(default_factory=dict)
    nodes: list[tuple[str, dict]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    flat_ids: dict[int, str] = field(default_factory=dict)  # id(SpecNode) -> expanded id
    outputs: list[str] = field(default_factory=list)


@dataclass
class Instance:
    key: tuple[str, ...]                  # module path of the instance
    cls: str
    items: list[SpecNode]
    names: list[str] = field(default_factory=list)
    ports: list[Ref] = field(default_factory=list)      # external values read, by first use
    outs: list[Value] = field(default_factory=list)     # values read outside
    signature: Any = None
    slots: list[Any] = field(default_factory=list)      # numeric op arguments, in order
    slot_names: list[str] = field(default_factory=list)


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return _ident(s)


def _ident(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_") or "n"
    return s if s[0].isalpha() else f"n{s}"


def _unique(base: str, taken: set[str]) -> str:
    name = base if base not in RESERVED else f"{base}_"
    k = 2
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _progression(values: list) -> str | int | float | None:
    """A constant, `a + b * i`, or None when the values follow no such rule."""
    if len(set(values)) == 1:
        return values[0]
    if len(set(values[1:])) == 1:  # the first instance differs (a stage's strided block)
        return f"{format_value(values[0])} if i == 0 else {format_value(values[1])}"
    if not all(isinstance(v, int) for v in values):
        return None
    step = values[1] - values[0]
    if any(b - a != step for a, b in zip(values, values[1:])):
        return None
    a = values[0]
    body = "i" if step == 1 else f"{step} * i"
    return body if a == 0 else f"{a} + {body}" if step > 0 else f"{a} - {-step} * i"


class _Folder:
    def __init__(self, nodes: list[SpecNode], inputs: list[Value], outputs: list[Value],
                 classes: dict[str, str], input_names: list[str]):
        self.nodes, self.outputs, self.classes = nodes, outputs, classes
        self.layout = Layout()
        self.readers: dict[int, list[SpecNode]] = {}
        self.producer = {id(n.value): n for n in nodes}
        for n in nodes:
            for r in n.refs:
                self.readers.setdefault(id(r.value), []).append(n)
        self.output_ids = {id(v) for v in outputs}
        self.text: dict[int, str] = {id(v): name for v, name in zip(inputs, input_names)}
        self.taken: set[str] = set(input_names)
        self.block_of: dict[Any, str] = {}
        # a dense repeat's value (the concatenation of its input and every output)
        self.dense_values: dict[tuple[int, ...], Value] = {}

    # ------------------------------------------------------------- grouping
    def settle_homes(self) -> None:
        """A merge no module's forward owns (the flat forward of a GraphModule or
        model.py) lives in the instance its readers share, else in the one its inputs
        share (an SE gate's product, read by this block and the next), else at the
        top level."""
        for n in reversed(self.nodes):
            if n.home or id(n.value) in self.output_ids or not n.merge or any(n.modules):
                continue
            readers = [r.home for r in self.readers.get(id(n.value), [])]
            producers = [self.producer[id(r.value)].home for r in n.refs
                         if id(r.value) in self.producer]
            home = self._shared_instance(readers)
            n.home = home if home is not None else self._shared_instance(producers) or ()

    @staticmethod
    def _shared_instance(homes: list[tuple[str, ...]]) -> tuple[str, ...] | None:
        """The common prefix of `homes`, cut to an instance of a numbered group or a group."""
        if not homes or any(not h for h in homes):
            return None
        prefix = homes[0]
        for h in homes[1:]:
            k = 0
            while k < min(len(prefix), len(h)) and prefix[k] == h[k]:
                k += 1
            prefix = prefix[:k]
        key = _Folder.group_key(homes[0])
        if len(homes[0]) > len(key) and homes[0][len(key)].isdigit():  # numbered instances
            return prefix[:len(key) + 1] if len(prefix) > len(key) else None
        return key if prefix[:len(key)] == key else None

    @staticmethod
    def group_key(home: tuple[str, ...]) -> tuple[str, ...]:
        """The module path down to its last numbered part (the innermost container of
        instances: a dense block's layers inside a Sequential of stages), or its first
        part when nothing is numbered."""
        for k in range(len(home) - 1, 0, -1):
            if home[k].isdigit():
                return home[:k]
        return home[:1]

    def groups(self) -> list[tuple[tuple[str, ...] | None, list[SpecNode]]]:
        """Top-level nodes (key None) and groups, in order of their first node."""
        out: list[tuple[tuple[str, ...] | None, list[SpecNode]]] = []
        index: dict[tuple[str, ...], int] = {}
        for n in self.nodes:
            if not n.home:
                out.append((None, [n]))
                continue
            g = self.group_key(n.home)
            if g not in index:
                index[g] = len(out)
                out.append((g, []))
            out[index[g]][1].append(n)
        return out

    # ------------------------------------------------------------- instances
    def instance(self, key: tuple[str, ...], items: list[SpecNode]) -> Instance:
        inst = Instance(key, self.classes.get(".".join(key), "Module"), items)
        inside = [id(n.value) for n in items]
        taken: set[str] = set()
        per_home: dict[tuple, int] = {}
        for n in items:
            per_home[n.home] = per_home.get(n.home, 0) + 1
        for n in items:
            rel = n.home[len(key):]
            base = "_".join(rel) if rel and per_home[n.home] == 1 else \
                "_".join((*rel, n.name)) if rel else n.name
            inst.names.append(_unique(_ident(base), taken))
        port_of: dict[int, int] = {}
        shape = []
        for n, nm in zip(items, inst.names):
            refs = []
            for r in n.refs:
                if id(r.value) in inside:
                    refs.append(("local", inside.index(id(r.value)), r.weight, r.slice))
                else:
                    if id(r.value) not in port_of:
                        port_of[id(r.value)] = len(inst.ports)
                        inst.ports.append(Ref(r.value))
                    refs.append(("port", port_of[id(r.value)], r.weight, r.slice))
            ops = []
            for op, args in n.ops:
                ops.append((op, tuple((k, "#" if _numeric(v) else v) for k, v in args.items())))
                for k, v in args.items():
                    if _numeric(v):
                        inst.slots.append(v)
                        inst.slot_names.append(f"{nm}_{k}")
            shape.append((n.merge, tuple(refs), tuple(ops)))  # pad: see block()
        parts = {v for key in self.dense_values for v in key}  # read through a dense value
        for n in items:
            readers = self.readers.get(id(n.value), [])
            if id(n.value) in self.output_ids or id(n.value) in parts or \
                    any(id(m.value) not in inside for m in readers):
                inst.outs.append(n.value)
        inst.signature = (len(inst.ports), tuple(shape),
                          tuple(inside.index(id(v)) for v in inst.outs))
        return inst

    def dense_run(self, insts: list[Instance]) -> list[Ref] | None:
        """The shared input of a dense run: instance j's first node reads the
        concatenation of `base` and the outputs of instances 0..j-1 (instance 0 reads
        `base` alone), and nothing else in an instance reads outside it."""
        if len(insts) < 2 or any(len(i.outs) != 1 for i in insts):
            return None
        base = list(insts[0].items[0].refs)
        if any(r.slice or r.weight != 1 for r in base):
            return None
        shapes = set()
        for j, inst in enumerate(insts):
            head = inst.items[0]
            want = [id(r.value) for r in base] + [id(p.outs[0]) for p in insts[:j]]
            if [id(r.value) for r in head.refs] != want or \
                    len(want) > 1 and head.merge != "concat":
                return None
            _, items, outs = inst.signature
            if any(ref[0] == "port" for item in items[1:] for ref in item[1]):
                return None
            shapes.add((("dense-head", items[0][2]), *items[1:], outs))
        return base if len(shapes) == 1 else None

    def read_dense_value(self, base: list[Ref], insts: list[Instance]) -> None:
        """Readers of concat(base, out_0..out_last) read the dense repeat's value instead
        (one reference, so a block that reads it has one in port)."""
        key = tuple([id(r.value) for r in base] + [id(i.outs[0]) for i in insts])
        if key in self.dense_values:
            return
        marker = Value("merge", (), "dense", ())
        self.dense_values[key] = marker
        passing: dict[int, Value] = {}
        for n in self.nodes:
            if n.merge == "concat" and tuple(id(r.value) for r in n.refs) == key and \
                    all(r.slice is None and r.weight == 1 for r in n.refs):
                n.refs, n.merge = [Ref(marker)], None
                if not n.ops:  # the concatenation alone: its readers read the repeat
                    passing[id(n.value)] = n.value
        if not passing:
            return
        self.nodes = [n for n in self.nodes if id(n.value) not in passing]
        for n in self.nodes:
            n.refs = [Ref(marker, r.weight, r.slice) if id(r.value) in passing else r
                      for r in n.refs]
        self.outputs = [marker if id(v) in passing else v for v in self.outputs]
        self.output_ids = {id(v) for v in self.outputs}
        self.readers = {}
        for n in self.nodes:
            for r in n.refs:
                self.readers.setdefault(id(r.value), []).append(n)

    def make_dense(self, insts: list[Instance]) -> None:
        """Instances of a dense run share one signature: the head reads the one in port."""
        for inst in insts:
            _, items, outs = inst.signature
            inst.signature = (1, (("dense-head", items[0][2]), *items[1:]), outs)

    # ------------------------------------------------------------- writing
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
        if n.merge and (len(refs) > 1 or n.merge in ("dwsum", "wsum")):
            out["merge"] = n.merge  # a merge over one input is that input, unless weighted
        if n.pad:
            out["pad"] = n.pad
        out["ops"] = ops
        return out

    def top_node(self, n: SpecNode, name: str) -> None:
        name = _unique(_ident(name), self.taken)
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
                seen[vec] = _unique(_ident(first.slot_names[j]), taken)
                params.append(seen[vec])
            slot_param[j] = seen[vec]
        base = first.cls if first.cls not in ("Module", "Sequential", "ModuleList") else \
            f"{first.key[-2] if first.key[-1].isdigit() and len(first.key) > 1 else first.key[-1]}_block"
        name = _unique(_snake(base), set(self.layout.blocks) | self.taken)
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
                    if _numeric(v):
                        shown[arg] = block["slot_param"].get(j, v)
                        j += 1
                    else:
                        shown[arg] = v
                ops.append(op_item(op, shown))
            if dense and k == 0:  # the repeat's merge feeds the one in port
                fields = {"from": "x", "ops": ops}
            else:
                fields = self.fields(n, local, ops)
                if block["pads"][k] and n.merge in ("add", "mean", "wsum"):
                    fields = {**{key: v for key, v in fields.items() if key != "ops"},
                              "pad": "zeros", "ops": fields["ops"]}
            body.append((nm, fields))
        block.update({"in": ports, "out": [local[id(v)] for v in inst.outs], "nodes": body})
        return name

    def group(self, key: tuple[str, ...], items: list[SpecNode]) -> list[tuple]:
        """Plan entries for one group: a node, or runs of instances."""
        g = "_".join(key)
        depth = len(key)
        if len(items) == 1 and items[0].home == key:
            return [("node", items[0], g)]
        if not all(len(n.home) > depth and n.home[depth].isdigit() for n in items):
            return [("run", g, [self.instance(key, items)], None)]
        by_index: dict[str, list[SpecNode]] = {}
        for n in items:
            by_index.setdefault(n.home[depth], []).append(n)
        insts = [self.instance((*key, j), ns) for j, ns in by_index.items()]
        pieces, start = [], 0
        while start < len(insts):
            end = start + 1
            while end < len(insts) and insts[end].signature == insts[start].signature and \
                    _feeds(insts[end - 1], insts[end]):
                end += 1
            if end - start > 1:
                _order_outs(insts[start:end])
            base = None
            if end - start == 1:
                dense_end = len(insts)
                while dense_end > start + 1 and self.dense_run(insts[start:dense_end]) is None:
                    dense_end -= 1
                if dense_end > start + 1:
                    end = dense_end
                    base = self.dense_run(insts[start:end])
                    self.make_dense(insts[start:end])
                    self.read_dense_value(base, insts[start:end])
            pieces.append((insts[start:end], base))
            start = end
        return [("run", g if len(pieces) == 1 else f"{g}_{run[0].key[-1]}", run, base)
                for run, base in pieces]

    def write_run(self, name: str, run: list[Instance], base: list[Ref] | None) -> None:
        dense = base is not None
        block = self.write_block(run[0], dense)
        name = _unique(_ident(name), self.taken)
        info = self.layout.blocks[block]
        args: dict[str, Any] = {}
        for p in info["params"]:
            j = next(k for k, q in info["slot_param"].items() if q == p)
            values = [i.slots[j] for i in run]
            rule = _progression(values) if len(run) > 1 else values[0]
            if rule is None:
                list_name = _unique(f"{name}_{p}", self.taken)
                self.layout.params[list_name] = values
                rule = f"{list_name}[i]"
            args[p] = rule
        fields: dict[str, Any] = {"from": self.from_text(base if dense else run[0].ports, {})}
        if len(run) > 1:
            fields["repeat"] = len(run)
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


def _feeds(before: Instance, after: Instance) -> bool:
    """`after` reads exactly the outputs of `before` (in some order) and nothing else."""
    ports = [id(p.value) for p in after.ports]
    return len(ports) == len(before.outs) and set(ports) == {id(v) for v in before.outs}


def _order_outs(run: list[Instance]) -> None:
    """A chain feeds out ports to in ports in order: put each instance's outputs in the
    order the next instance first reads them."""
    ids = [id(v) for v in run[0].outs]
    perm = [ids.index(id(p.value)) for p in run[1].ports]
    for inst in run:
        inst.outs = [inst.outs[k] for k in perm]
        ports, items, outs = inst.signature
        inst.signature = (ports, items, tuple(outs[k] for k in perm))


def _entry_nodes(entry: tuple) -> list[SpecNode]:
    return [entry[1]] if entry[0] == "node" else [n for inst in entry[2] for n in inst.items]


def _dependency_order(plan: list[tuple], dense_values: dict) -> list[tuple]:
    """Entries so that each comes after the entries it reads (groups interleave in a
    forward: a stream's next stage may start before the other stream's last block)."""
    made = {}
    for k, entry in enumerate(plan):
        for n in _entry_nodes(entry):
            made[id(n.value)] = k
        if entry[0] == "run" and entry[3] is not None:  # a dense run makes its value
            key = tuple([id(r.value) for r in entry[3]] + [id(i.outs[0]) for i in entry[2]])
            made[id(dense_values[key])] = k
    needs = []
    for k, entry in enumerate(plan):
        reads = {made[id(r.value)] for n in _entry_nodes(entry) for r in n.refs
                 if id(r.value) in made}
        needs.append(reads - {k})
    done: list[int] = []
    left = list(range(len(plan)))
    while left:
        k = next((k for k in left if needs[k] <= set(done)), left[0])
        done.append(k)
        left.remove(k)
    return [plan[k] for k in done]


def fold(nodes: list[SpecNode], inputs: list[Value], outputs: list[Value],
         classes: dict[str, str], input_names: list[str]) -> Layout:
    folder = _Folder(nodes, inputs, outputs, classes, input_names)
    folder.settle_homes()
    # A first pass finds the dense runs and points their readers at them, so that the
    # blocks that read a dense block's value see one input, not its pieces.
    for g, items in folder.groups():
        if g is not None:
            folder.group(g, items)
    plan: list[tuple] = []
    for g, items in folder.groups():
        plan += [("node", items[0], items[0].name)] if g is None else folder.group(g, items)
    plan = _dependency_order(plan, folder.dense_values)
    by_signature: dict[Any, list[Instance]] = {}
    for entry in plan:
        if entry[0] == "run":
            for inst in entry[2]:
                by_signature.setdefault((inst.signature, entry[3] is not None), []).append(inst)
    for (signature, dense), insts in by_signature.items():
        folder.plan_block(insts, dense)
    for entry in plan:
        if entry[0] == "node":
            folder.top_node(entry[1], entry[2])
        else:
            folder.write_run(entry[1], entry[2], entry[3])
    for block in folder.layout.blocks.values():
        for key in ("slot_param", "pad", "pads"):
            block.pop(key, None)
    folder.layout.outputs = [folder.text[id(v)] for v in folder.outputs]
    return folder.layout
