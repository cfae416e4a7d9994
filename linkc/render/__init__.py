"""Diagrams of the flat graph: DOT, SVG, PNG, PDF and Mermaid.

    linkc.render("specs/densenet_bc_100.yaml", "dag.svg", depth=2)

`view.py` decides what is drawn (boxes, merge glyphs, clusters, edge labels,
collapsing and highlighting), `dot.py` and `mermaid.py` print it, and
`runner.py` runs Graphviz for the image formats.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..topology.flat import FlatGraph
from .dot import to_dot
from .mermaid import to_mermaid
from .runner import find_engines, run_graphviz
from .view import RenderError, View, build_view

__all__ = ["FORMATS", "RenderError", "Rendered", "View", "build_view", "find_engines",
           "render_file", "to_dot", "to_mermaid"]

FORMATS = ("svg", "png", "pdf", "dot", "mmd")


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
                timeout: float = 600) -> Rendered:
    """Draw `g` to `path`; the format is the file's extension (.svg .png .pdf .dot
    .mmd). Without `depth` or `expand`, the deepest view of at most
    `view.MAX_BOXES` boxes is drawn (the result's notes say so)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RenderError(f"cannot tell the format of '{path}': use one of the extensions "
                          + ", ".join("." + f for f in FORMATS))
    view = build_view(g, depth=depth, expand=expand, highlight=highlight)
    notes = []
    if depth is None and not expand and view.depth < view.full_depth:
        notes.append(f"drew {g.name} at depth {view.depth} of {view.full_depth} "
                     f"({len(view.boxes)} boxes); --depth N opens more levels, --expand all")
    if fmt == "mmd":
        path.write_text(to_mermaid(view), encoding="utf-8")
    elif fmt == "dot":
        path.write_text(to_dot(view), encoding="utf-8")
    else:
        notes += run_graphviz(to_dot(view), path, fmt, timeout=timeout)
    return Rendered(path, fmt, view.depth, view.full_depth, len(view.boxes), notes)
