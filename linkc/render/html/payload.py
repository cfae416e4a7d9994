"""The data an HTML view embeds: the fully expanded view, the cluster tree, and
what the side panel shows for every node (ops, shape, parameters, MACs, YAML line).

The browser decides what is drawn: a box is drawn as itself when all of its
clusters are open, else as its outermost closed cluster, and the full view's
edges are mapped the same way (so a dense block keeps its ladder of concats and
an edge into a closed cluster is one edge). Everything is lists, not objects,
with edge labels in one table: a 10,000-node spec stays around a megabyte.
"""

from __future__ import annotations

from pathlib import Path

from ...expand.flat_graph import FlatGraph
from ...expand.as_text import op_text
from ..clusters import cluster_info
from ..dot import BOX_STYLE
from ..diagram import View, groups, shape_text
from ..view import build_view
from ..view_builder import collapsed_lines

KINDS = ("ops", "merge", "pass", "input", "output")  # box kind -> its code is the index


def node_numbers(g: FlatGraph) -> tuple[dict[str, int], dict[str, int]]:
    """Parameters and MACs per flat node, as `linkc analyze` counts them."""
    from ...analyze.macs import count_macs
    from ...analyze.params import lower_meta, node_params

    gm = lower_meta(g)
    return node_params(g, gm), count_macs(g, gm)[1]


def _members(g: FlatGraph) -> dict[str, list[str]]:
    """Cluster -> its flat nodes, in topological order."""
    out: dict[str, list[str]] = {}
    for n in g.order:
        for cid in groups(g.nodes[n]):
            out.setdefault(cid, []).append(n)
    return out


def _exits(g: FlatGraph) -> dict[str, str]:
    """Cluster -> the node whose value leaves it (the latest one read from outside)."""
    rank = {n: k for k, n in enumerate(g.order)}
    out: dict[str, str] = {}
    for n in g.order:
        inside = set(groups(g.nodes[n]))
        for x in g.nodes[n].inputs:
            if g.is_input(x.src):
                continue
            for cid in groups(g.nodes[x.src]):
                if cid not in inside and rank[x.src] >= rank.get(out.get(cid, x.src), -1):
                    out[cid] = x.src
    for cid in groups(g.nodes[g.output]):
        out[cid] = g.output
    return out


def _clusters(g: FlatGraph, view: View) -> list[list]:
    """[id, parent index, collapsed lines, frame label, YAML line, output shape]."""
    info = cluster_info(g)
    members, exits = _members(g), _exits(g)
    index = {cid: k for k, cid in enumerate(view.clusters)}
    rows = []
    for cid, c in view.clusters.items():
        inside = members.get(cid, [])
        ops = [op_text(call) for n in inside for call in g.nodes[n].ops]
        loc = info.loc(cid)
        exit_node = exits.get(cid)
        rows.append([cid, index[c.parent] if c.parent else -1,
                     collapsed_lines(info, cid, c.parent, ops, len(inside)), c.label,
                     loc.line if loc else 0,
                     shape_text(g.nodes[exit_node].shape) if exit_node else ""])
    return rows


def graph_payload(g: FlatGraph, counts: bool = True) -> dict:
    """Everything the viewer script needs about `g`, JSON-ready. Without `counts`,
    parameters and MACs are left out (they need torch, and take about 30 s for a
    10,000-node spec on a laptop core)."""
    view = build_view(g, expand=True)
    params, macs = node_numbers(g) if counts else ({}, {})
    node_index = {n: k for k, n in enumerate(g.order)}
    nodes = []
    for n in g.order:
        node = g.nodes[n]
        merge = node.effective_merge()
        nodes.append([n, "\n".join(op_text(c) for c in node.ops), merge.name if merge else "",
                      shape_text(node.shape), params.get(n), macs.get(n),
                      node.loc.line if node.loc else 0])
    cluster_index = {cid: k for k, cid in enumerate(view.clusters)}
    box_index = {bid: k for k, bid in enumerate(view.boxes)}
    boxes = []
    for b in view.boxes.values():
        member = next(iter(b.members), None) if b.kind not in ("input", "output") else None
        boxes.append([KINDS.index(b.kind), cluster_index[b.cluster] if b.cluster else -1,
                      node_index[member] if member else -1, b.lines[0]])
    labels: dict[str, int] = {}
    edges = [[box_index[e.src], box_index[e.dst], labels.setdefault(e.label, len(labels)),
              e.weight] for e in view.edges]
    name = g.source.name
    return {
        "title": g.name,
        "source": Path(name).name if not name.startswith("<") else name,
        "input": shape_text(g.input_shape),
        "output": shape_text(g.nodes[g.output].shape),
        "params": sum(params.values()) if counts else None,
        "macs": sum(macs.values()) if counts else None,
        "nodes": nodes,
        "boxes": boxes,
        "clusters": _clusters(g, view),
        "edges": edges,
        "labels": list(labels),
        "style": {kind: [BOX_STYLE[kind].get("fillcolor", "#ffffff"), BOX_STYLE[kind]["color"]]
                  for kind in (*KINDS, "collapsed")},
    }
