"""`--style paper`: a compact figure for a publication.

Every node is drawn (nothing collapsed into an opaque box), but a repeat is
drawn once: only instance 0 of each repeat is kept, inside one frame labelled
with its block and "× n", and the edges that chained instance k to k+1 (or fed
a dense block's later layers) fold onto instance 0 and are dropped, since they
would point backwards. No internal ids: boxes list their ops, frames their
block, edges carry only slices and weights (not shapes), identity nodes are
contracted away, and a legend names the merge glyphs that occur.
"""

from __future__ import annotations

from ..expand.flat_graph import FlatGraph
from .clusters import ClusterInfo, cluster_info
from .dot import BOX_STYLE, FONT, _attrs, quote, to_dot
from .diagram import Box, Cluster, Edge, View, output_boxes
from .view import build_view

DIRECTIONS = ("TB", "LR")
GRAPH = dict(label="", fontsize="10", nodesep="0.18", ranksep="0.22", margin="0.05",
             pad="0.05", penwidth="0.8")
NODE = dict(fontsize="10", penwidth="0.8", height="0.3", margin="0.06,0.03")
EDGE = dict(fontsize="8", penwidth="0.8", arrowsize="0.5", color="#333333")
STYLES = {**BOX_STYLE,  # smaller glyphs; input and output as plain boxes
          "merge": {**BOX_STYLE["merge"], "fontsize": "12", "width": "0.28"},
          "input": {**BOX_STYLE["input"], "shape": "box", "style": "rounded,filled"},
          "output": {**BOX_STYLE["output"], "shape": "box", "style": "rounded,filled"}}


def canonical(node_id: str, repeats: dict[str, int], drawn: dict[str, str] | None = None) -> str:
    """The id in the drawn instance (`drawn`, else 0) of every repeat it sits in:
    'd1.3.h' -> 'd1.0.h'."""
    head, sep, tail = node_id.partition("/")
    parts = head.split(".")
    for k in range(1, len(parts)):
        rid = ".".join(parts[:k])
        if parts[k].isdigit() and rid in repeats:
            parts[k] = (drawn or {}).get(rid, "0")
    return ".".join(parts) + sep + tail


def _drawn_instances(full: View, g: FlatGraph, repeats: dict[str, int]) -> dict[str, str]:
    """Which instance of each repeat is drawn: the first, unless a later one computes
    boxes from inside itself that the first lacks (EfficientNet's first block of a
    stage has no residual add, the others do, and the figure should show it; a dense
    layer's port, which reads earlier layers, does not count)."""
    held: dict[tuple[str, str], set] = {}  # (repeat, instance) -> relative ids and kinds
    extra: dict[tuple[str, str], set] = {}  # ... of the boxes fed from inside it
    for box in full.boxes.values():
        parts = box.id.split("/")[0].split(".")
        for k in range(1, len(parts)):
            rid, prefix = ".".join(parts[:k]), ".".join(parts[:k + 1]) + "."
            if rid in repeats and parts[k].isdigit():
                rel = (box.id[len(prefix):], box.kind)  # a one-input "merge" is a pass
                held.setdefault((rid, parts[k]), set()).add(rel)
                if all(x.src.startswith(prefix) for m in box.members for x in g.nodes[m].inputs):
                    extra.setdefault((rid, parts[k]), set()).add(rel)
    drawn = {}
    for (rid, i), inside in extra.items():
        gain = len(inside - held.get((rid, "0"), set()))
        best = drawn.get(rid, ("0", 0))
        if gain > best[1] or (gain == best[1] and gain and int(i) < int(best[0])):
            drawn[rid] = (i, gain)
    return {rid: i for rid, (i, _) in drawn.items()}


def _frame(cid: str | None, info: ClusterInfo) -> str | None:
    """The frame a box is drawn in: an instance of a repeat is its repeat's frame,
    and a cluster with nothing to say (a recurrence's maps) is its parent's."""
    while cid is not None:
        head, _, last = cid.rpartition(".")
        if last.isdigit() and head in info.repeats:
            cid = head
        elif cid not in info.repeats and getattr(info.node_spec(cid), "repeat", None):
            cid = head or None  # a repeat drawn in full: its instances are the frames
        elif not _frame_label(cid, info):
            cid = head or None
        else:
            return cid
    return None


def _frame_label(cid: str, info: ClusterInfo) -> str:
    """'basic × 3', 'layer × 16, dense ‖', 'transition'; a repeat of one is its block."""
    node = info.node_spec(cid)
    if info.repeats.get(cid) == 1 and node is not None and node.block:
        return node.block
    return ", ".join(info.summary(cid)).removesuffix(", chain")


def _edge_marks(label: str) -> str:
    """Keep a slice or a weight, drop the shape (the last word of an edge label)."""
    return " ".join(label.split()[:-1])


def _varying(full: View, info: ClusterInfo, drawn: dict[str, str]) -> set[str]:
    """Repeats whose later instances differ from the first one drawn (a first block
    with stride 2 or a projection, widths that grow): their label says so."""
    out, held = set(), {}  # held: (repeat, instance) -> the boxes inside, relative
    for b in full.boxes.values():
        parts = b.id.split("/")[0].split(".")
        first = full.boxes.get(canonical(b.id, info.repeats, drawn))
        differs = first is not None and first.lines[1:] != b.lines[1:]
        for k in range(1, len(parts)):
            rid = ".".join(parts[:k])
            if rid in info.repeats and parts[k].isdigit():
                if b.kind != "merge":  # a dense layer 0's port merges one input: none
                    held.setdefault((rid, parts[k]), set()).add(b.id[len(rid) + len(parts[k]) + 2:])
                if differs and parts[k] != drawn.get(rid, "0"):
                    out.add(rid)
    shapes: dict[str, set[frozenset]] = {}
    for (rid, _), inside in held.items():
        shapes.setdefault(rid, set()).add(frozenset(inside))
    return out | {rid for rid, kinds in shapes.items() if len(kinds) > 1}


def _boxes(full: View, info: ClusterInfo,
           drawn: dict[str, str]) -> tuple[dict[str, Box], dict[str, Cluster]]:
    boxes, clusters = {}, {}
    varying = _varying(full, info, drawn)
    for b in full.boxes.values():
        if canonical(b.id, info.repeats, drawn) != b.id:
            continue
        frame = _frame(b.cluster, info)
        lines = b.lines[1:] if b.kind == "ops" else b.lines
        boxes[b.id] = Box(b.id, b.kind, lines or b.lines, frame, b.members)
    for cid, c in full.clusters.items():
        frame = _frame(cid, info)
        if frame == cid and canonical(cid, info.repeats, drawn) == cid:
            which = int(drawn.get(cid, "0"))
            note = ", first drawn" if which == 0 else f", no. {which + 1} drawn"
            label = _frame_label(cid, info) + (note if cid in varying else "")
            clusters[cid] = Cluster(cid, label, _frame(c.parent, info))
    return boxes, clusters


def _edges(full: View, boxes: dict[str, Box], info: ClusterInfo,
           drawn: dict[str, str]) -> list[Edge]:
    rank = {b: k for k, b in enumerate(full.boxes)}
    seen: dict[tuple[str, str], Edge] = {}
    for e in full.edges:
        src, dst = canonical(e.src, info.repeats, drawn), canonical(e.dst, info.repeats, drawn)
        if src not in boxes or dst not in boxes:
            continue  # only in a later instance (a node with `if:`): not drawn
        if src == dst or rank[src] > rank[dst]:
            continue  # an instance-to-instance link, folded onto instance 0
        if (src, dst) not in seen:
            seen[(src, dst)] = Edge(src, dst, _edge_marks(e.label), e.flat, weight=e.weight)
    edges = list(seen.values())
    for pid in [b.id for b in boxes.values() if b.kind == "pass"]:
        into = [e for e in edges if e.dst == pid]
        out = [e for e in edges if e.src == pid]
        edges = [e for e in edges if pid not in (e.src, e.dst)]
        known = {(e.src, e.dst) for e in edges}
        for a in into:
            for b in out:
                if (a.src, b.dst) not in known:
                    known.add((a.src, b.dst))
                    edges.append(Edge(a.src, b.dst, a.label or b.label, a.flat + b.flat,
                                      weight=max(a.weight, b.weight)))
        del boxes[pid]
    return edges


def _foldable(repeats: dict[str, int]) -> dict[str, int]:
    """The repeats that are drawn once: those whose instances hold the same nested
    repeats with the same counts (widths, strides and optional nodes may differ, and
    the label says so). One whose instances differ there (stages of 3, 4, 6 and 3
    blocks) is drawn instance by instance."""
    nested: dict[str, dict[str, set]] = {}
    for cid, count in repeats.items():
        parts = cid.split(".")
        for k in range(1, len(parts)):
            rid = ".".join(parts[:k])
            if rid in repeats and parts[k].isdigit():
                inside = (".".join(parts[k + 1:]), count)
                nested.setdefault(rid, {}).setdefault(parts[k], set()).add(inside)
    return {rid: n for rid, n in repeats.items()
            if len({frozenset(v) for v in nested.get(rid, {}).values()}) <= 1
            and (rid not in nested or len(nested[rid]) == n)}


def paper_view(g: FlatGraph) -> View:
    full = build_view(g, expand=True)
    info = cluster_info(g)
    # only the spec's repeats fold (a recurrence's numbered steps are drawn in full)
    info.repeats = _foldable({cid: n for cid, n in info.repeats.items()
                              if getattr(info.node_spec(cid), "repeat", None)})
    drawn = _drawn_instances(full, g, info.repeats)
    boxes, clusters = _boxes(full, info, drawn)
    edges = _edges(full, boxes, info, drawn)
    for name, shape in g.inputs.items():
        boxes[name].lines = [boxes[name].lines[0], "×".join(map(str, shape))]
    for box_id, _, node_id in output_boxes(g):
        boxes[box_id].lines = [boxes[box_id].lines[0], "×".join(map(str, g.nodes[node_id].shape))]
    used = {c.cluster for c in boxes.values()}
    for cid in list(clusters):  # a frame whose boxes were all contracted away
        if cid not in used and not any(c.parent == cid for c in clusters.values()):
            del clusters[cid]
    return View(g.name, full.full_depth, full.full_depth, boxes, edges, clusters)


def legend_lines(view: View, g: FlatGraph, dense: bool = False) -> list[str]:
    """A legend node listing each merge glyph in the figure with what it does (and the
    dashed link of a dense repeat, when there is one)."""
    rows: dict[str, tuple[str, str, str]] = {}
    for b in view.boxes.values():
        if b.kind != "merge":
            continue
        node = g.nodes[next(iter(b.members))]
        glyph, name, label = node.effective_merge().glyph_for([x.weight for x in node.inputs])
        rows[glyph + name] = (glyph, name, label)
    if not rows:
        return []
    fill, color = BOX_STYLE["merge"]["fillcolor"], BOX_STYLE["merge"]["color"]
    cells = "".join(
        f'<tr><td bgcolor="{fill}" color="{color}" border="1" style="rounded">'
        f'{_html(glyph)}</td><td align="left">{_html(name)}: {_html(doc)}</td></tr>'
        for glyph, name, doc in sorted(rows.values()))
    if dense:
        cells += (f'<tr><td><font color="{color}">- - -&gt;</font></td><td align="left">'
                  'dense: each layer also reads every earlier one</td></tr>')
    label = f'<<table border="0" cellspacing="3" cellpadding="2">{cells}</table>>'
    return [f'"legend" [shape=plaintext, {_attrs(dict(fontname=FONT, fontsize="9"))}, '
            f'label={label}];',
            f'{quote(output_boxes(g)[0][0])} -> "legend" [style=invis];']


def dense_links(view: View, info: ClusterInfo) -> list[str]:
    """A dense repeat drawn once: a dashed edge from its layer's output back to the
    layer's input (a loop when the layer is one box) says that every layer reads all
    the ones before it."""
    lines = []
    for cid in info.dense:
        inside = [b.id for b in view.boxes.values() if b.cluster == cid and b.id != cid]
        exits = [e.src for e in view.edges if e.dst == cid and e.src in inside]
        if inside and exits:
            attrs = dict(style="dashed", constraint="false", color=BOX_STYLE["merge"]["color"])
            lines.append(f"{quote(exits[-1])} -> {quote(inside[0])} [{_attrs(attrs)}];")
    return lines


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_paper_dot(g: FlatGraph, direction: str = "TB", view: View | None = None) -> str:
    view = view or paper_view(g)
    graph = dict(GRAPH, rankdir=direction)
    links = dense_links(view, cluster_info(g))
    return to_dot(view, graph=graph, node=NODE, edge=EDGE, styles=STYLES,
                  extra=links + legend_lines(view, g, dense=bool(links)))
