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

from ..expand.flat_graph import FlatGraph
from .clusters import ClusterInfo, cluster_info
from .diagram import MAX_BOXES, MAX_EDGES, RenderError, View, asked_depth, full_depth
from .highlight import mark
from .view_builder import ViewBuilder

__all__ = ["MAX_BOXES", "MAX_EDGES", "RenderError", "View", "build_view"]


def _view(g: FlatGraph, depth: int, info: ClusterInfo) -> View:
    builder = ViewBuilder(g, depth, info)
    edges = builder.build()
    return View(g.name, depth, full_depth(g), builder.boxes, edges, builder.clusters)


def build_view(g: FlatGraph, depth: int | None = None, expand: bool = False,
               highlight: str | None = None) -> View:
    """The diagram of `g` at `depth`, or of every node with `expand`, marking the
    paths through `highlight`. The default depth is the deepest whose diagram has at
    most MAX_BOXES boxes and MAX_EDGES edges."""
    depth, deepest = asked_depth(g, depth, expand, "1 draws the top-level nodes, "
                                                   "{deepest} every node")
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
        mark(view, g, highlight)
    return view
