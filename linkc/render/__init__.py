"""Diagrams of the flat graph: DOT, SVG, PNG, PDF and Mermaid.

    linkc.draw("specs/densenet_bc_100.yaml", "dag.svg", depth=2)

`view.py` decides what is drawn (boxes, merge glyphs, clusters, edge labels,
collapsing and highlighting: diagram.py holds the pieces, view_builder.py draws one
depth, highlight.py marks --highlight), `dot.py` and `mermaid.py` print it, and
`runner.py` runs Graphviz for the image formats. `paper.py` is the compact
publication style, `html/` the interactive view and the side-by-side comparison.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..expand.flat_graph import FlatGraph
from .dot import to_dot
from .mermaid import to_mermaid
from .runner import find_engines, run_graphviz
from .paper import DIRECTIONS, paper_view, to_paper_dot
from .diagram import RenderError, View, asked_depth
from .highlight import resolve
from .view import build_view

__all__ = ["FORMATS", "RenderError", "Rendered", "View", "build_view", "find_engines",
           "render_compare", "render_file", "to_dot", "to_mermaid"]

FORMATS = ("svg", "png", "pdf", "dot", "mmd", "html")
STYLES = ("default", "paper")


@dataclass
class Rendered:
    path: Path
    format: str
    depth: int
    full_depth: int
    boxes: int
    notes: list[str] = field(default_factory=list)


def render_file(g: FlatGraph, path: str | os.PathLike, depth: int | None = None,
                expand: bool = False, highlight: str | None = None,
                timeout: float = 600, style: str = "default",
                direction: str | None = None, counts: bool = True) -> Rendered:
    """Draw `g` to `path`; the format is the file's extension (.svg .png .pdf .dot
    .mmd .html). Without `depth` or `expand`, the deepest view of at most
    `view.MAX_BOXES` boxes is drawn (the result's notes say so). `style="paper"`
    draws a compact publication figure (`paper.py`); .html is the interactive
    view (`html/`): `depth` is how far it is open at first, `highlight` the node it
    shows and selects, and `counts=False` leaves parameters and MACs out."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RenderError(f"cannot tell the format of '{path}': use one of the extensions "
                          + ", ".join("." + f for f in FORMATS))
    if style not in STYLES:
        raise RenderError(f"--style must be one of {', '.join(STYLES)}, got '{style}'")
    if direction is not None and direction not in DIRECTIONS:
        raise RenderError(f"--direction must be TB or LR, got '{direction}'")
    try:  # like `linkc compile -o DIR`, a missing folder is made
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"cannot write '{path}': cannot make the folder '{path.parent}' "
                          f"({exc.strerror or exc})") from None
    if fmt == "html":
        return _render_html(g, path, depth, expand, highlight, style, counts)
    if style == "paper":
        return _render_paper(g, path, fmt, depth, expand, highlight, direction or "TB", timeout)
    view = build_view(g, depth=depth, expand=expand, highlight=highlight)
    notes = []
    if depth is None and not expand and view.depth < view.full_depth:
        notes.append(f"drew {g.name} at depth {view.depth} of {view.full_depth} "
                     f"({len(view.boxes)} boxes); --depth N opens more levels, --expand all")
    graph = {"rankdir": direction} if direction else None
    notes += _write(to_dot(view, graph=graph), view, path, fmt, timeout)
    return Rendered(path, fmt, view.depth, view.full_depth, len(view.boxes), notes)


def _write(dot_text: str, view: View, path: Path, fmt: str, timeout: float) -> list[str]:
    if fmt in ("mmd", "dot"):
        try:
            path.write_text(to_mermaid(view) if fmt == "mmd" else dot_text, encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"cannot write '{path}': {exc.strerror or exc}") from None
    else:
        return run_graphviz(dot_text, path, fmt, timeout=timeout)
    return []


def _render_paper(g: FlatGraph, path: Path, fmt: str, depth, expand, highlight,
                  direction: str, timeout: float) -> Rendered:
    if depth is not None or expand or highlight:
        raise RenderError("--style paper draws every node with each repeat once; "
                          "--depth, --expand and --highlight apply to the default style")
    view = paper_view(g)
    notes = _write(to_paper_dot(g, direction, view), view, path, fmt, timeout)
    return Rendered(path, fmt, view.depth, view.full_depth, len(view.boxes), notes)


def _render_html(g: FlatGraph, path: Path, depth, expand, highlight, style,
                 counts: bool) -> Rendered:
    if style != "default":
        raise RenderError("--style applies to the static formats; the .html view has one look")
    from .html import write_html

    depth, deepest = asked_depth(g, depth, expand, "1 opens with every block closed, "
                                                   "{deepest} with every node drawn")
    if highlight:
        resolve(g, highlight)  # a clear error for a name that is not there
    depth = min(depth or 1, deepest)
    boxes = write_html(g, path, counts, depth=depth, select=highlight)
    return Rendered(path, "html", depth, deepest, boxes)


def render_compare(a: FlatGraph, b: FlatGraph, path: str | os.PathLike,
                   counts: bool = True) -> dict[str, int]:
    """Two specs side by side in one HTML file, the nodes that differ marked."""
    path = Path(path)
    if path.suffix.lower() != ".html":
        raise RenderError(f"--compare writes an HTML page: give -o a .html file, not '{path.name}'")
    from .html import write_compare

    return write_compare(a, b, path, counts)
