"""A `View` as Graphviz DOT text.

Node ids are the flat ids (`d1.3.h`; a node's merge glyph is `d1.3.h/merge`,
a collapsed cluster is its cluster id), clusters are `cluster_<id>`, so tests and
tools can find things in the DOT and in the SVG that Graphviz makes from it
(each SVG node's <title> is its DOT id).
"""

from __future__ import annotations

from .diagram import Box, Cluster, Edge, View

FONT = "Helvetica"

# How each kind of box looks; one table, so the picture is changed in one place.
BOX_STYLE = {
    "ops": dict(shape="box", style="rounded,filled", fillcolor="#eef3fb", color="#5b7bb2"),
    "merge": dict(shape="circle", style="filled", fillcolor="#fff4d6", color="#c69214",
                  fontsize="16", width="0.38", margin="0.02"),
    "pass": dict(shape="box", style="rounded,dashed", color="#888888"),
    "collapsed": dict(shape="box3d", style="filled", fillcolor="#e4e9f2", color="#44546a"),
    "input": dict(shape="invhouse", style="filled", fillcolor="#dff0d8", color="#3c763d"),
    "output": dict(shape="house", style="filled", fillcolor="#dff0d8", color="#3c763d"),
}
MARK_BOX = {
    "target": dict(fillcolor="#ffd54f", color="#d84315", penwidth="3"),
    "path": dict(color="#d84315", penwidth="2"),
    "dim": dict(color="#c8c8c8", fontcolor="#a0a0a0", fillcolor="#f7f7f7"),
}
MARK_EDGE = {
    "path": dict(color="#d84315", penwidth="2", fontcolor="#d84315"),
    "dim": dict(color="#d0d0d0", fontcolor="#b0b0b0"),
}
MARK_CLUSTER = {"path": dict(color="#d84315"), "dim": dict(color="#d0d0d0",
                                                                fontcolor="#a0a0a0")}


def quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={quote(str(v))}" for k, v in attrs.items())


def _box(box: Box, styles: dict) -> str:
    attrs = {"label": "\n".join(box.lines), **styles[box.kind],
             **MARK_BOX.get(box.mark, {})}
    if box.tooltip:
        attrs["tooltip"] = box.tooltip
    return f"{quote(box.id)} [{_attrs(attrs)}];"


def _edge(edge: Edge) -> str:
    attrs = dict(MARK_EDGE.get(edge.mark, {}))
    if edge.weight != 1:
        attrs["weight"] = str(edge.weight)
    if edge.label:
        attrs["label"] = edge.label
    return f"{quote(edge.src)} -> {quote(edge.dst)}" + (f" [{_attrs(attrs)}]" if attrs else "") + ";"


def _cluster(c: Cluster, view: View, children: dict, boxes: dict, indent: str,
             styles: dict) -> list[str]:
    depth = c.id.count(".")
    attrs = dict(label=c.label, style="rounded" + (",filled" if depth % 2 else ""),
                 fillcolor="#fafafa", color="#9aa5b1", fontcolor="#44546a")
    attrs.update(MARK_CLUSTER.get(c.mark, {}))
    lines = [f"{indent}subgraph {quote('cluster_' + c.id)} {{",
             f"{indent}  graph [{_attrs(attrs)}];"]
    lines += _body(c.id, view, children, boxes, indent + "  ", styles)
    return lines + [f"{indent}}}"]


def _body(parent: str | None, view: View, children: dict, boxes: dict, indent: str,
          styles: dict) -> list[str]:
    lines = [indent + _box(b, styles) for b in boxes.get(parent, ())]
    for c in children.get(parent, ()):
        lines += _cluster(c, view, children, boxes, indent, styles)
    return lines


def to_dot(view: View, graph: dict | None = None, node: dict | None = None,
           edge: dict | None = None, extra: list[str] = (), styles: dict | None = None) -> str:
    """The DOT text of a view: top to bottom, clusters nested as in the spec.
    `graph`, `node` and `edge` override default attributes (the paper style does);
    `styles` replaces BOX_STYLE; `extra` lines go in before the closing brace."""
    children, boxes = view.nesting()
    title = f"{view.title} (depth {view.depth} of {view.full_depth})"
    if view.highlight:
        title += f", paths through {view.highlight}"
    graph = {**dict(rankdir="TB", label=title, labelloc="t", fontname=FONT, fontsize="18",
                    nodesep="0.25", ranksep="0.35", newrank="true"), **(graph or {})}
    node = {**dict(fontname=FONT, fontsize="11"), **(node or {})}
    edge = {**dict(fontname=FONT, fontsize="9", color="#555555", arrowsize="0.6"), **(edge or {})}
    lines = [f"digraph {quote(view.title)} {{",
             f"  graph [{_attrs(graph)}];",
             f"  node [{_attrs(node)}];",
             f"  edge [{_attrs(edge)}];"]
    lines += _body(None, view, children, boxes, "  ", styles or BOX_STYLE)
    lines += ["  " + _edge(e) for e in view.edges]
    lines += ["  " + line for line in extra]
    return "\n".join(lines) + "\n}\n"
