"""What a diagram shows: boxes, merge glyphs, clusters and labelled edges.

The flat graph is turned into a `View` once, independently of the output
format; `dot.py` and `mermaid.py` only print it. A flat node becomes a merge
glyph (`+`, `‖`, `avg`, `w`, `-`, `×`) feeding one box that lists its ops; a
block instance or repeat becomes a cluster. `depth` collapses clusters: a node
is drawn as itself when it sits inside fewer than `depth` clusters, otherwise
the cluster at level `depth` is drawn as one box. So depth 1 shows the spec's
top-level nodes (each block or repeat one box), depth 2 opens them one level
(repeat instances as boxes), and `full_depth(g)` draws every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..topology.errors import did_you_mean
from ..topology.flat import INPUT, FlatGraph, FlatNode
from ..topology.show import op_text
from .clusters import ClusterInfo, cluster_info

OUTPUT = "output"
MAX_BOXES = 250  # the automatic depth keeps a diagram to at most this many boxes
MAX_EDGES = 400  # and edges (dense blocks: Graphviz slows down and the picture blurs)
MAX_LISTED_OPS = 8  # a collapsed box lists its ops up to this many, else counts them
SPINE_WEIGHT = 100  # pulls each node's latest input straight above it
FANOUT_LABELS = 4  # above this fan-out, equal shape labels are written on one edge only


class RenderError(Exception):
    """The diagram cannot be drawn (bad option, no Graphviz): exit 2."""


@dataclass
class Box:
    id: str  # unique id in the output (a flat id where there is one)
    kind: str  # "ops", "merge", "pass", "collapsed", "input", "output"
    lines: list[str]
    cluster: str | None  # innermost drawn cluster
    members: set[str] = field(default_factory=set)  # flat ids it stands for
    tooltip: str = ""
    mark: str = ""  # "", "target", "path", "dim" (with --highlight)


@dataclass
class Edge:
    src: str
    dst: str
    label: str
    flat: list[tuple[str, str]]  # the flat edges (src id, dst id) it stands for
    mark: str = ""
    weight: int = 1  # Graphviz edge weight: SPINE_WEIGHT for a node's latest input


@dataclass
class Cluster:
    id: str
    label: str
    parent: str | None
    mark: str = ""


@dataclass
class View:
    title: str
    depth: int
    full_depth: int
    boxes: dict[str, Box]
    edges: list[Edge]
    clusters: dict[str, Cluster]
    highlight: str | None = None

    def nesting(self) -> tuple[dict[str | None, list[Cluster]], dict[str | None, list[Box]]]:
        """Clusters by parent and boxes by cluster (None: top level), for the printers."""
        children: dict[str | None, list[Cluster]] = {}
        for c in self.clusters.values():
            children.setdefault(c.parent, []).append(c)
        boxes: dict[str | None, list[Box]] = {}
        for b in self.boxes.values():
            boxes.setdefault(b.cluster, []).append(b)
        return children, boxes


def shape_text(shape) -> str:
    """(24, 32, 32) -> '24×32×32', the way shapes are written on edges."""
    return "×".join(str(d) for d in shape)


def groups(node: FlatNode) -> tuple[str, ...]:
    """The clusters a node is drawn inside; a dense repeat's final merge belongs to
    its repeat."""
    return node.cluster + ((node.id,) if node.kind == "dense" else ())


def full_depth(g: FlatGraph) -> int:
    return 1 + max((len(groups(g.nodes[n])) for n in g.order), default=0)


def merge_glyph(node: FlatNode) -> str:
    merge = node.effective_merge()
    weights = [x.weight for x in node.inputs]
    if merge.weighted and any(w < 0 for w in weights) and all(abs(w) == 1 for w in weights):
        return "-"  # a signed sum that subtracts (ResNet-s)
    return merge.glyph


def _wrap(items: list[str], width: int = 30) -> list[str]:
    lines, line = [], ""
    for item in items:
        if line and len(line) + 2 + len(item) > width:
            lines.append(line + ",")
            line = item
        else:
            line = f"{line}, {item}" if line else item
    return lines + ([line] if line else [])


def _local(node_id: str, cluster: str | None) -> str:
    return node_id[len(cluster) + 1:] if cluster else node_id


def _edge_label(node: FlatNode, i: int) -> str:
    x = node.inputs[i]
    parts = []
    if x.slice is not None:
        parts.append(f"[{x.slice[0]}:{x.slice[1]}]")
    if node.merge is not None and node.merge.weighted and x.weight != 1:
        parts.append("−" if x.weight == -1 else f"{x.weight:g}·")
    parts.append(shape_text(node.input_shapes[i]))
    return " ".join(parts)


def collapsed_lines(info: ClusterInfo, cid: str, parent: str | None, ops: list[str],
                    nodes: int) -> list[str]:
    """The text of a collapsed cluster: its name, what it instantiates, and its ops
    (or how many there are)."""
    lines = [_local(cid, parent), *info.summary(cid)]
    return lines + (_wrap(ops) if len(ops) <= MAX_LISTED_OPS else [
        f"{nodes} node{'s' if nodes > 1 else ''}, {len(ops)} ops"])


class _Builder:
    def __init__(self, g: FlatGraph, depth: int, info: ClusterInfo):
        self.g, self.depth, self.info = g, depth, info
        self.boxes: dict[str, Box] = {}
        self.clusters: dict[str, Cluster] = {}
        self.edges: dict[tuple[str, str], Edge] = {}
        self.loose: list[Edge] = []  # edges between drawn nodes: never merged
        self.entry: dict[str, str] = {}
        self.exit: dict[str, str] = {name: name for name in g.inputs}
        # (merge, inputs) of a pure associative merge (no ops, no slices) -> its node
        self.pure_merges: dict[tuple[str, tuple[str, ...]], str] = {}

    def add_cluster(self, path: tuple[str, ...]) -> None:
        for k, cid in enumerate(path):
            if cid not in self.clusters:
                self.clusters[cid] = Cluster(cid, self.info.label(cid), path[k - 1] if k else None)

    def add_node(self, node: FlatNode) -> None:
        gr = groups(node)
        if len(gr) >= self.depth:
            self.add_collapsed(node, gr)
            return
        self.add_cluster(gr)
        cluster = gr[-1] if gr else None
        where = f"{node.id} ({node.loc})" if node.loc else node.id
        merge = node.effective_merge()
        if merge is not None:
            mid = f"{node.id}/merge" if node.ops else node.id
            self.boxes[mid] = Box(mid, "merge", [merge_glyph(node)], cluster, {node.id},
                                  f"{where}: {merge.name}")
            self.entry[node.id] = mid
        if node.ops:
            lines = [_local(node.id, cluster)] + _wrap([op_text(c) for c in node.ops])
            self.boxes[node.id] = Box(node.id, "ops", lines, cluster, {node.id}, where)
            if merge is not None:
                self.loose.append(Edge(f"{node.id}/merge", node.id,
                                       shape_text(node.merged_shape), [(node.id, node.id)]))
            self.entry.setdefault(node.id, node.id)
        elif merge is None:
            self.boxes[node.id] = Box(node.id, "pass", [_local(node.id, cluster)], cluster,
                                      {node.id}, where)
            self.entry[node.id] = node.id
        self.exit[node.id] = node.id

    def add_collapsed(self, node: FlatNode, gr: tuple[str, ...]) -> None:
        cid = gr[self.depth - 1]
        self.add_cluster(gr[: self.depth - 1])
        box = self.boxes.get(cid)
        if box is None:
            box = self.boxes[cid] = Box(cid, "collapsed", [], gr[self.depth - 2]
                                        if self.depth > 1 else None, set(), cid)
        box.members.add(node.id)
        self.entry[node.id] = self.exit[node.id] = cid

    def merge_prefix(self, node: FlatNode) -> tuple[str, int] | None:
        """An earlier drawn merge of the same associative kind whose inputs start this
        merge's inputs: `‖(a, b, c, d)` is drawn as `‖(‖(a, b, c), d)`. A dense block
        then draws one edge per layer instead of one per pair of layers, which keeps
        DenseNet-BC-190 at full depth readable and quick to lay out."""
        merge = node.effective_merge()
        if merge is None or not merge.associative or any(x.slice for x in node.inputs):
            return None
        srcs = tuple(x.src for x in node.inputs)
        for length in range(len(srcs) - 1, 1, -1):
            earlier = self.pure_merges.get((merge.name, srcs[:length]))
            if earlier is not None:
                return earlier, length
        return None

    def add_inputs(self, node: FlatNode, rank: dict[str, int]) -> None:
        dst = self.entry[node.id]
        spine = max(range(len(node.inputs)), key=lambda i: rank[node.inputs[i].src])
        prefix = self.merge_prefix(node)
        start = 0
        if prefix is not None:
            earlier, start = prefix
            src = self.exit[earlier]
            if src != dst:
                self.add_edge(src, dst, Edge(
                    src, dst, shape_text(self.g.nodes[earlier].shape),
                    [(x.src, node.id) for x in node.inputs[:start]],
                    weight=SPINE_WEIGHT if spine < start else 1))
        merge = node.effective_merge()
        if merge is not None and merge.associative and not node.ops and \
                not any(x.slice for x in node.inputs):
            self.pure_merges[(merge.name, tuple(x.src for x in node.inputs))] = node.id
        for i, x in enumerate(node.inputs[start:], start):
            src = self.exit[x.src]
            if src == dst:
                continue  # inside one collapsed box
            self.add_edge(src, dst, Edge(src, dst, _edge_label(node, i), [(x.src, node.id)],
                                         weight=SPINE_WEIGHT if i == spine else 1))

    def add_edge(self, src: str, dst: str, edge: Edge) -> None:
        """Edges touching a collapsed box are merged into one per pair of boxes."""
        if self.boxes[src].kind == "collapsed" or self.boxes[dst].kind == "collapsed":
            known = self.edges.setdefault((src, dst), Edge(src, dst, "", []))
            known.flat += edge.flat
            known.weight = max(known.weight, edge.weight)
            if edge.label not in known.label.split(", "):
                known.label = f"{known.label}, {edge.label}" if known.label else edge.label
        else:
            self.loose.append(edge)

    def finish_collapsed(self) -> None:
        for box in self.boxes.values():
            if box.kind != "collapsed":
                continue
            ops = [op_text(c) for m in self.g.order if m in box.members
                   for c in self.g.nodes[m].ops]
            box.lines = collapsed_lines(self.info, box.id, box.cluster, ops, len(box.members))
            box.tooltip = f"{box.id}: {self.info.label(box.id)}"

    def build(self) -> list[Edge]:
        g = self.g
        for name, shape in g.inputs.items():
            tip = "the model's input" if name == INPUT else f"model input {name} {list(shape)}"
            label = name if name == INPUT else f"input {name}"
            self.boxes[name] = Box(name, "input", [label], None, {name}, tip)
        for n in g.order:
            self.add_node(g.nodes[n])
        rank = {n: k for k, n in enumerate([*g.inputs, *g.order])}
        for n in g.order:
            self.add_inputs(g.nodes[n], rank)
        self.finish_collapsed()
        outs = []
        for box_id, name, node_id in output_boxes(g):
            tip = f"the model's output: {node_id}" if box_id == OUTPUT else \
                f"model output {name} ({node_id})"
            label = OUTPUT if box_id == OUTPUT else f"output {name}"
            self.boxes[box_id] = Box(box_id, "output", [label], None, set(), tip)
            outs.append(Edge(self.exit[node_id], box_id, shape_text(g.nodes[node_id].shape),
                             [(node_id, box_id)]))
        edges = [*self.loose, *self.edges.values(), *outs]
        _thin_labels(edges)
        return edges


def output_boxes(g: FlatGraph) -> list[tuple[str, str, str]]:
    """(box id, output name, flat id) of each output: one box `output`, or one box per
    output named `output:NAME` when there are several."""
    if len(g.outputs) == 1:
        return [(OUTPUT, g.output_names[0], g.output)]
    return [(f"{OUTPUT}:{name}", name, o) for name, o in zip(g.output_names, g.outputs)]


def _thin_labels(edges: list[Edge]) -> None:
    """A DenseNet output feeds every later layer: write its shape once, not 30 times."""
    fan: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        fan.setdefault((e.src, e.label), []).append(e)
    for same in fan.values():
        if len(same) > FANOUT_LABELS:
            for e in same[1:]:
                e.label = ""


def _resolve(g: FlatGraph, name: str) -> set[str]:
    """A flat id, or a cluster (block instance or repeat): the flat ids it names."""
    if name in g.nodes:
        return {name}
    inside = {n for n in g.order if n.startswith(name + ".")}
    if inside:
        return inside
    candidates = set(g.order) | {c for n in g.order for c in g.nodes[n].cluster}
    hint = did_you_mean(name, candidates)
    raise RenderError(f"--highlight: no node or block named '{name}' in {g.name}"
                      + (f"; {hint}" if hint else ""))


def _closure(start: set[str], step: dict[str, list[str]]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _mark(view: View, g: FlatGraph, name: str) -> None:
    """Mark the highlighted node, everything on a path through it, and dim the rest."""
    target = _resolve(g, name)
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for n in g.order:
        for x in g.nodes[n].inputs:
            up.setdefault(n, []).append(x.src)
            down.setdefault(x.src, []).append(n)
    for box_id, _, node_id in output_boxes(g):
        down.setdefault(node_id, []).append(box_id)
    before = _closure(target, up) - target
    after = _closure(target, down) - target
    onpath = before | target | after
    for box in view.boxes.values():
        members = box.members or ({box.id} if box.kind == "output" else set())
        box.mark = "target" if members & target else "path" if members & onpath else "dim"
    for e in view.edges:
        hit = any((v in before or v in target or u in target or u in after) and
                  u in onpath and v in onpath for u, v in e.flat)
        e.mark = "path" if hit else "dim"
    for c in view.clusters.values():
        c.mark = "path" if any(n.startswith(c.id + ".") or n == c.id for n in onpath) else "dim"


def _view(g: FlatGraph, depth: int, info: ClusterInfo) -> View:
    builder = _Builder(g, depth, info)
    edges = builder.build()
    return View(g.name, depth, full_depth(g), builder.boxes, edges, builder.clusters)


def build_view(g: FlatGraph, depth: int | None = None, expand: bool = False,
               highlight: str | None = None) -> View:
    """The diagram of `g` at `depth`, or of every node with `expand`, marking the
    paths through `highlight`. The default depth is the deepest whose diagram has at
    most MAX_BOXES boxes and MAX_EDGES edges."""
    deepest = full_depth(g)
    if expand:
        depth = deepest
    elif depth is not None and depth < 1:
        raise RenderError(f"--depth must be 1 or more (1 draws the top-level nodes, "
                          f"{deepest} every node), got {depth}")
    info = cluster_info(g)
    if depth is None:  # the deepest view that stays readable, at least depth 1
        for depth in range(deepest, 0, -1):
            view = _view(g, depth, info)
            if len(view.boxes) <= MAX_BOXES and len(view.edges) <= MAX_EDGES:
                break
    else:
        view = _view(g, min(depth, deepest), info)
    view.highlight = highlight
    if highlight:
        _mark(view, g, highlight)
    return view
