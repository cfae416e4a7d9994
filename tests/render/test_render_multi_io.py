"""Diagrams of a spec with several inputs and outputs: one input box per input, one
output box per output, each wired to its node, in every printer."""

from __future__ import annotations

from linkc.render import build_view, to_dot, to_mermaid
from linkc.render.paper import to_paper_dot
from linkc.frontend import build

SPEC = """
linkc: 1
name: two-in-two-out
inputs: {image: [3, 8, 8], meta: [5]}
nodes:
  stem: {from: image, ops: [{conv: [8, 3]}, gap]}
  side: {from: meta, ops: [{linear: 8}]}
  head: {from: [stem, side], merge: concat, ops: [{linear: 4}]}
  aux1: {from: stem, ops: [{linear: 3}]}
outputs: [head, aux1]
"""


def test_a_box_per_input_and_output():
    view = build_view(build(SPEC))
    ends = {b.id: b.lines for b in view.boxes.values() if b.kind in ("input", "output")}
    assert ends == {"image": ["input image"], "meta": ["input meta"],
                    "output:head": ["output head"], "output:aux1": ["output aux1"]}
    wires = {(e.src, e.dst, e.label) for e in view.edges}
    assert {("image", "stem", "3×8×8"), ("meta", "side", "5"), ("head", "output:head", "4"),
            ("aux1", "output:aux1", "3")} <= wires


def test_highlight_follows_the_second_input_to_its_output():
    view = build_view(build(SPEC), highlight="side")
    marks = {b.id: b.mark for b in view.boxes.values()}
    assert marks["meta"] == "path" and marks["output:head"] == "path"
    assert marks["image"] == "dim" and marks["output:aux1"] == "dim"


def test_every_printer_draws_them():
    g = build(SPEC)
    dot = to_dot(build_view(g))
    assert '"output:aux1" [label="output aux1"' in dot and '"meta" -> "side"' in dot
    assert "output aux1" in to_mermaid(build_view(g))
    paper = to_paper_dot(g)
    assert "output aux1\\n3" in paper and "input meta\\n5" in paper
