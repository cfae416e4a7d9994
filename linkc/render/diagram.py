"""What a diagram is made of: boxes, edges and clusters, and the View that holds
them (see view.py for how a flat graph becomes one)."""

from __future__ import annotations

from ..errors import UserError

from dataclasses import dataclass, field

from ..expand.flat_graph import FlatGraph, FlatNode

OUTPUT = "output"
MAX_BOXES = 250  # the automatic depth keeps a diagram to at most this many boxes
MAX_EDGES = 400  # and edges (dense blocks: Graphviz slows down and the picture blurs)
MAX_LISTED_OPS = 8  # a collapsed box lists its ops up to this many, else counts them
SPINE_WEIGHT = 100  # pulls each node's latest input straight above it
FANOUT_LABELS = 4  # above this fan-out, equal shape labels are written on one edge only


class RenderError(UserError):
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


def asked_depth(g: FlatGraph, depth: int | None, expand: bool,
                meaning: str) -> tuple[int | None, int]:
    """(depth to draw, full depth): the full depth with `expand`, `depth` as asked
    (None: the caller's default) unless it is under 1. `meaning` says what depth 1 and
    the full depth show, `{deepest}` standing for the number."""
    deepest = full_depth(g)
    if expand:
        return deepest, deepest
    if depth is not None and depth < 1:
        raise RenderError(f"--depth must be 1 or more ({meaning.format(deepest=deepest)}), "
                          f"got {depth}")
    return depth, deepest


def merge_glyph(node: FlatNode) -> str:
    return node.effective_merge().glyph_for([x.weight for x in node.inputs])[0]


def output_boxes(g: FlatGraph) -> list[tuple[str, str, str]]:
    """(box id, output name, flat id) of each output: one box `output`, or one box per
    output named `output:NAME` when there are several."""
    if len(g.outputs) == 1:
        return [(OUTPUT, g.output_names[0], g.output)]
    return [(f"{OUTPUT}:{name}", name, o) for name, o in zip(g.output_names, g.outputs)]
