"""linkc render: what the DOT and SVG say (boxes, merge glyphs, clusters, edge labels),
one golden DOT per zoo family, and files that really open."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import linkc
from linkc.cli import main
from linkc.render import RenderError, build_view, render_file, to_dot, to_mermaid
from linkc.frontend import build

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).with_name("golden")
SVG = "{http://www.w3.org/2000/svg}"

# One spec per zoo family (the smallest), drawn at the default depth.
FAMILIES = ["densenet_bc_100", "resnet_20", "resnet_s_18", "se_resnet_s_18", "dmrnet_wide",
            "dilnet_cifar", "delugenet", "mixnet", "micro_dense", "dpn_mixed_100",
            "pyramidnet_110_a48", "resnext_s_29_2x64d", "resnet_mr_cifar", "wrn_16_8",
            "preact_resnet_164"]

MERGES_SPEC = """
linkc: 1
name: merges
input: [4, 8, 8]
blocks:
  pair:
    in: x
    nodes:
      a: {from: x, ops: [{conv: [8, 3]}, bn]}
      b: {from: x, ops: [relu]}
      s: {from: [a, b], merge: add, ops: [relu]}
    out: s
nodes:
  stem: {from: input, ops: [{conv: [8, 1]}]}
  p: {from: stem, repeat: 2, block: pair}
  c: {from: [p, "stem[0:4]"], merge: concat}
  m: {from: [p, stem], merge: mean, pad: zeros}
  d: {from: [m, stem], merge: dwsum}
  w: {from: [d, {ref: stem, weight: -1}], merge: wsum}
  h: {from: [w, c], merge: add, pad: zeros, ops: [gap, {linear: 8}, sigmoid]}
  g: {from: [w, h], merge: mul, ops: [gap, {linear: 3}]}
output: g
"""


def dot_nodes(text: str) -> dict[str, str]:
    """DOT node id -> its label."""
    return {m[0]: m[1] for m in re.findall(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"', text,
                                           re.M)}


def dot_edges(text: str) -> dict[tuple[str, str], str]:
    edges = {}
    for src, dst, attrs in re.findall(r'^\s*"([^"]+)" -> "([^"]+)"(.*);$', text, re.M):
        label = re.search(r'label="([^"]*)"', attrs)
        edges[(src, dst)] = label.group(1) if label else ""
    return edges


def test_merge_glyphs_ops_and_edge_labels():
    text = to_dot(build_view(build(MERGES_SPEC), expand=True))
    nodes, edges = dot_nodes(text), dot_edges(text)
    assert nodes["p.0.s/merge"] == "+"
    assert nodes["c"] == "‖"
    assert nodes["m"] == "avg"
    assert nodes["d"] == "w"
    assert nodes["w"] == "-"  # a signed sum that subtracts
    assert nodes["g/merge"] == "×"
    assert nodes["p.0.a"] == "a\\nconv(8), bn"  # one box lists the op chain
    assert nodes["stem"] == "stem\\nconv(8, 1)"
    assert edges[("input", "stem")] == "4×8×8"
    assert edges[("stem", "c")] == "[0:4] 4×8×8"  # the slice is on the edge
    assert edges[("stem", "w")] == "− 8×8×8"
    assert edges[("g/merge", "g")] == "8×8×8"  # the merged shape, before the ops
    assert edges[("g", "output")] == "3"
    assert 'subgraph "cluster_p"' in text and 'subgraph "cluster_p.1"' in text
    assert 'label="p: pair × 2, chain"' in text


def test_depth_collapses_clusters_into_boxes():
    g = build(SPECS / "densenet_bc_100.yaml")
    top = build_view(g, depth=1)
    assert set(top.boxes) == {"input", "stem", "d1", "t1", "d2", "t2", "d3", "head", "output"}
    assert top.boxes["d1"].kind == "collapsed"
    assert top.boxes["d1"].lines[:2] == ["d1", "layer × 16, dense ‖"]
    assert not top.clusters
    edges = {(e.src, e.dst): e.label for e in top.edges}
    assert edges[("d1", "t1")] == "216×32×32"
    two = build_view(g, depth=2)
    assert two.boxes["d1.3"].kind == "collapsed" and two.boxes["d1.3"].cluster == "d1"
    assert two.boxes["d1"].kind == "merge"  # the dense repeat's final ‖ sits in its cluster
    assert set(two.clusters) == {"d1", "d2", "d3", "t1", "t2"}  # t1: one block instance
    full = build_view(g, expand=True)
    assert full.depth == full.full_depth == 3
    assert full.boxes["d1.3.h"].kind == "ops" and full.boxes["d1.3.x"].lines == ["‖"]
    assert len([b for b in full.boxes.values() if b.kind == "merge"]) == 3 * 16


def test_default_depth_keeps_big_graphs_readable():
    from linkc.render.view import MAX_BOXES, MAX_EDGES

    view = build_view(build(SPECS / "densenet_bc_250_k24.yaml"))
    assert view.depth < view.full_depth
    assert len(view.boxes) <= MAX_BOXES and len(view.edges) <= MAX_EDGES
    assert build_view(build(SPECS / "resnet_20.yaml")).depth == 3  # small: everything
    assert len(build_view(build(SPECS / "densenet_bc_190_k40.yaml"), depth=1).boxes) < 20


def test_dense_concats_are_drawn_as_a_ladder():
    # Every layer of a dense block reads all earlier ones (quadratically many flat
    # edges); since concat is associative, each port is drawn as the previous port
    # plus one new layer, so the drawing has linearly many edges.
    g = build(SPECS / "densenet_bc_190_k40.yaml")
    view = build_view(g, expand=True)
    flat_edges = sum(len(g.nodes[n].inputs) for n in g.order)
    assert flat_edges > 1500 and len(view.edges) < 2 * len(view.boxes)
    port = next(e for e in view.edges if e.dst == "d1.5.x" and e.src == "d1.4.x")
    assert sorted(port.flat) == sorted((s, "d1.5.x") for s in
                                       ["stem", "d1.0.h", "d1.1.h", "d1.2.h", "d1.3.h"])
    assert port.label == "240×32×32"  # d1.4.x: 80 + 4 x 40 channels


def test_highlight_marks_node_and_its_paths():
    view = build_view(build(SPECS / "resnet_20.yaml"), expand=True, highlight="stage2.1.y")
    marks = {b.id: b.mark for b in view.boxes.values()}
    assert marks["stage2.1.y"] == "target"
    assert marks["stem"] == marks["input"] == marks["head"] == marks["output"] == "path"
    assert marks["stage2.2.f"] == "path"  # downstream
    assert marks["stage2.1.f"] == "path"  # upstream
    text = to_dot(view)
    assert 'penwidth="3"' in text
    with pytest.raises(RenderError, match="did you mean 'stage2.1.y'"):
        build_view(build(SPECS / "resnet_20.yaml"), highlight="stage2.1.yy")


def test_bad_options_are_errors():
    g = build(SPECS / "resnet_20.yaml")
    with pytest.raises(RenderError, match="--depth"):
        build_view(g, depth=0)
    with pytest.raises(RenderError, match="extension"):
        render_file(g, "x.jpeg2")


def test_mermaid(tmp_path):
    text = to_mermaid(build_view(build(MERGES_SPEC), expand=True))
    assert text.splitlines()[3] == "flowchart TB"
    assert '(("‖"))' in text and '(("-"))' in text
    assert re.search(r'subgraph c\d+ \["p: pair × 2, chain"\]', text)
    assert '-->|"[0:4] 4×8×8"|' in text
    out = tmp_path / "m.mmd"
    linkc.draw(MERGES_SPEC, out)
    assert out.read_text(encoding="utf-8").count("subgraph") == 3


@pytest.mark.parametrize("family", FAMILIES)
def test_golden_dot(family):
    path = SPECS / f"{family}.yaml"
    assert path.exists(), f"{family}: a golden diagram without its spec in specs/"
    # built from the text, so locations read '<spec>:LINE:COL' wherever the checkout is
    text = to_dot(build_view(build(path.read_text(encoding="utf-8"))))
    golden = GOLDEN / f"{family}.dot"
    if os.environ.get("LINKC_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        f"the diagram of {family} changed; review it and rerun with LINKC_UPDATE_GOLDEN=1"


def test_svg_and_png_open(tmp_path):
    from PIL import Image

    svg, png = tmp_path / "r.svg", tmp_path / "r.png"
    assert main(["render", str(SPECS / "resnet_20.yaml"), "-o", str(svg)]) == 0
    root = ET.parse(svg).getroot()
    titles = {g.findtext(f"{SVG}title") for g in root.iter(f"{SVG}g")}
    assert {"stem", "stage1.0.y/merge", "cluster_stage1", "head", "output"} <= titles
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "+" in texts and "16×32×32" in texts and "stage1: basic × 3, chain" in texts
    assert main(["render", str(SPECS / "resnet_20.yaml"), "-o", str(png), "--depth", "1"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.width > 100 and image.height > 300


def test_pdf(tmp_path):
    out = tmp_path / "r.pdf"
    assert main(["render", str(SPECS / "resnet_20.yaml"), "-o", str(out), "--depth", "1"]) == 0
    assert out.read_bytes()[:5] == b"%PDF-"


def test_no_graphviz_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import sys

    # the module object itself: the name `linkc.render` is the render function
    monkeypatch.setattr(sys.modules["linkc.render.runner"], "find_engines", lambda: [])
    assert main(["render", str(SPECS / "resnet_20.yaml"), "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert "no Graphviz found" in err and "pip install graphviz-pure" in err
    # .dot needs no Graphviz
    assert main(["render", str(SPECS / "resnet_20.yaml"), "-o", str(tmp_path / "x.dot")]) == 0


def test_linkc_render_is_the_package_and_draw_the_function():
    import types

    from linkc import render

    assert isinstance(render, types.ModuleType) and render.render_file is not None
    assert callable(linkc.draw) and linkc.render is render
