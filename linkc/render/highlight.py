"""--highlight: the node or block named, everything on a path through it, the rest dimmed."""

from __future__ import annotations

from ..errors import did_you_mean
from ..expand.flat_graph import FlatGraph
from .diagram import RenderError, View, output_boxes


def resolve(g: FlatGraph, name: str) -> set[str]:
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


def mark(view: View, g: FlatGraph, name: str) -> None:
    """Mark the highlighted node, everything on a path through it, and dim the rest."""
    target = resolve(g, name)
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
