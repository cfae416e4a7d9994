"""The importer's grouping: flat nodes -> groups by module path -> block instances,
and the runs of equal instances that become one repeat (chained or dense).

See structure.py for the rules; this module finds the instances and their
signatures (what two instances must share to be one block), the writer there
turns them into YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .naming import ident, instance_number, numeric, unique
from .nodes import Ref, SpecNode, Value


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


class Grouper:
    """The flat nodes with who reads what; finds groups, instances and runs. Reading
    a dense run's value rewires the nodes (`read_dense_value`), so `nodes` and
    `outputs` are the ones to write afterwards."""

    def __init__(self, nodes: list[SpecNode], outputs: list[Value], classes: dict[str, str],
                 structures: dict[str, Any] | None = None):
        self.nodes, self.outputs, self.classes = nodes, outputs, classes
        self.producer = {id(n.value): n for n in nodes}
        self.output_ids = {id(v) for v in outputs}
        self.readers: dict[int, list[SpecNode]] = {}
        self._index_readers()
        # a dense repeat's value (the concatenation of its input and every output)
        self.dense_values: dict[tuple[int, ...], Value] = {}
        self.repeating = _repeating_containers(classes)
        self.equal_run = _equal_runs(structures or {})

    def _index_readers(self) -> None:
        self.readers = {}
        for n in self.nodes:
            for r in n.refs:
                self.readers.setdefault(id(r.value), []).append(n)

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

    def _shared_instance(self, homes: list[tuple[str, ...]]) -> tuple[str, ...] | None:
        """The common prefix of `homes`, cut to an instance of a numbered group or a group."""
        if not homes or any(not h for h in homes):
            return None
        prefix = homes[0]
        for h in homes[1:]:
            k = 0
            while k < min(len(prefix), len(h)) and prefix[k] == h[k]:
                k += 1
            prefix = prefix[:k]
        key = self.group_key(homes[0])
        depth = len(key)
        number = instance_number(homes[0][depth]) if len(homes[0]) > depth else None
        if number is not None:  # numbered instances: all of `homes` in the same one
            same = prefix[:depth] == key and all(
                len(h) > depth and instance_number(h[depth]) == number for h in homes)
            return (*key, number) if same else None
        return key if prefix[:depth] == key else None

    def group_key(self, home: tuple[str, ...]) -> tuple[str, ...]:
        """The container whose numbered children are the instances `home` belongs to:
        the outermost one that holds two consecutive children of one class of the
        user's (torchvision's `features` of InvertedResiduals, each holding a numbered
        Sequential of its own layers), else the module path down to its last numbered
        part (the innermost container of instances: a dense block's layers inside a
        Sequential of stages), or its first part when nothing is numbered. A part is
        numbered by `instance_number`: a recurrence's `X.3_1` is in instance 3 of `X`,
        like `X.3`."""
        candidates = [home[:k] for k in range(1, len(home))
                      if instance_number(home[k]) is not None and home[:k] in self.repeating]
        if candidates:  # the one whose children repeat exactly the longest (timm's stage
            # blocks rather than its stages, which all differ); the outermost on a tie
            return max(candidates, key=lambda c: (self.equal_run.get(c, 0), -len(c)))
        for k in range(len(home) - 1, 0, -1):
            if instance_number(home[k]) is not None:
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
            inst.names.append(unique(ident(base), taken))
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
                ops.append((op, tuple((k, "#" if numeric(v) else v) for k, v in args.items())))
                for k, v in args.items():
                    if numeric(v):
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
        self._index_readers()

    def make_dense(self, insts: list[Instance]) -> None:
        """Instances of a dense run share one signature: the head reads the one in port."""
        for inst in insts:
            _, items, outs = inst.signature
            inst.signature = (1, (("dense-head", items[0][2]), *items[1:]), outs)

    def group(self, key: tuple[str, ...], items: list[SpecNode]) -> list[tuple]:
        """Plan entries for one group: a node, or runs of instances."""
        g = "_".join(key)
        depth = len(key)
        if len(items) == 1 and items[0].home == key:
            return [("node", items[0], g)]
        numbers = [instance_number(n.home[depth]) if len(n.home) > depth else None
                   for n in items]
        if None in numbers:
            return [("run", g, [self.instance(key, items)], None)]
        by_index: dict[str, list[SpecNode]] = {}
        for n, number in zip(items, numbers):
            by_index.setdefault(number, []).append(n)
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


_GENERIC = {"Module", "Sequential", "ModuleList", "ModuleDict", "GraphModule"}


def _repeating_containers(classes: dict[str, str]) -> set[tuple[str, ...]]:
    """Containers with two consecutive numbered children of one class of the user's, or
    with one (a stage of one block, as EfficientNet's first)."""
    children: dict[tuple[str, ...], dict[int, str]] = {}
    for path, cls in classes.items():
        parts = tuple(p for p in path.split(".") if p)
        if parts and parts[-1].isdigit() and cls not in _GENERIC:
            children.setdefault(parts[:-1], {})[int(parts[-1])] = cls
    return {key for key, kids in children.items()
            if len(kids) == 1 or any(kids.get(j + 1) == cls for j, cls in kids.items())}


def _equal_runs(structures: dict[str, Any]) -> dict[tuple[str, ...], int]:
    """Container -> the longest run of consecutive numbered children with equal structure
    (class and every parameter's shape), counted in pairs."""
    children: dict[tuple[str, ...], dict[int, Any]] = {}
    for path, structure in structures.items():
        parts = tuple(p for p in path.split(".") if p)
        if parts and parts[-1].isdigit():
            children.setdefault(parts[:-1], {})[int(parts[-1])] = structure
    runs = {}
    for key, kids in children.items():
        best = run = 0
        for j in sorted(kids):
            run = run + 1 if j - 1 in kids and kids[j - 1] == kids[j] else 0
            best = max(best, run)
        runs[key] = best
    return runs


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
