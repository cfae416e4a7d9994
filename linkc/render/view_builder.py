"""Building a View at one depth: a box per drawn node or merge, a box per collapsed
cluster, and the edges between them (merged where they touch a collapsed box)."""

from __future__ import annotations

from ..expand.flat_graph import INPUT, FlatGraph, FlatNode
from ..expand.as_text import op_text
from .clusters import ClusterInfo
from .diagram import (FANOUT_LABELS, MAX_LISTED_OPS, OUTPUT, SPINE_WEIGHT, Box, Cluster, Edge,
                      groups, merge_glyph, output_boxes, shape_text)


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


class ViewBuilder:
    """The boxes, clusters and edges of `g` drawn at `depth`; `build()` fills them."""

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


def _thin_labels(edges: list[Edge]) -> None:
    """A DenseNet output feeds every later layer: write its shape once, not 30 times."""
    fan: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        fan.setdefault((e.src, e.label), []).append(e)
    for same in fan.values():
        if len(same) > FANOUT_LABELS:
            for e in same[1:]:
                e.label = ""
