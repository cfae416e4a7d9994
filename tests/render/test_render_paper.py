"""linkc render --style paper: every zoo spec, repeats drawn once, no internal ids,
a legend of the merges, and golden DOT files for the seeds' own figures."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from linkc.cli import main
from linkc.render import RenderError, render_file
from linkc.render.clusters import cluster_info
from linkc.render.paper import paper_view, to_paper_dot
from linkc.frontend import build
from tests.conftest import zoo_params

SPECS = Path(__file__).resolve().parents[2] / "specs"
GOLDEN = Path(__file__).with_name("golden") / "paper"
SVG = "{http://www.w3.org/2000/svg}"
# the seeds' figures: MixNet's family (ResNet, DenseNet, DPN, MixNet), seed 003's
# merge-and-run block, seed 002's ResNet-s block
FIGURES = ["mixnet", "dpn_mixed_100", "densenet_bc_100", "resnet_20", "dmrnet_wide",
           "resnet_s_18"]


def texts(svg: Path) -> list[str]:
    return [t.text or "" for t in ET.parse(svg).getroot().iter(f"{SVG}text")]


@pytest.mark.parametrize("path", zoo_params())
def test_every_zoo_spec_draws_as_a_paper_figure(path, tmp_path):
    spec = path.stem
    g = build(path)
    out = tmp_path / f"{spec}.svg"
    render_file(g, out, style="paper")
    root = ET.parse(out).getroot()
    words = texts(out)
    ids = set(g.order)
    assert not [w for w in words if w in ids or re.search(r"\b[A-Za-z_]\w*\.\d+\b", w)], "internal ids"
    info = cluster_info(g)
    drawn = paper_view(g)
    for cid, count in info.repeats.items():  # each repeat that is drawn says how often
        if cid in drawn.clusters and count > 1 and info.node_spec(cid).repeat:
            assert f"× {count}" in drawn.clusters[cid].label
    merges = {g.nodes[n].effective_merge().name for n in g.order if g.nodes[n].effective_merge()}
    legend = " ".join(words)
    for name in merges - {"wsum"}:  # a wsum of ±1 is drawn (and explained) as "-"
        assert f"{name}:" in legend
    sizes = [float(t.get("font-size")) for t in root.iter(f"{SVG}text")]
    assert min(sizes) >= 8  # points, at 100 %
    assert not any(n.kind == "pass" for n in drawn.boxes.values())


def test_repeats_are_drawn_once():
    def boxes(name):
        return len(paper_view(build(SPECS / f"{name}.yaml")).boxes)

    assert boxes("resnet_20") == boxes("resnet_56") == boxes("resnet_110") == 16
    assert boxes("densenet_bc_100") == boxes("densenet_bc_190_k40") == 12
    view = paper_view(build(SPECS / "resnet_20.yaml"))
    labels = {cid: c.label for cid, c in view.clusters.items()}
    # stage1's blocks are alike; stages 2 and 3 start with a stride-2 block
    assert labels == {"stage1": "basic × 3", "stage2": "basic × 3, first drawn",
                      "stage3": "basic × 3, first drawn"}
    assert view.boxes["stage1.0.f"].lines == ["conv(16), bn, relu, conv(16),", "bn"]
    edges = {(e.src, e.dst) for e in view.edges}
    assert ("stage1.0.y", "stage2.0.f") in edges  # stage to stage, from instance 0
    assert ("stage1.0.y", "stage1.0.f") not in edges  # the chain inside a repeat is folded


def test_a_repeat_whose_instances_differ_in_depth_is_drawn_in_full():
    # ResNet-50's stages repeat one block 3, 4, 6 and 3 times: each stage is drawn,
    # each with its blocks once (the first has a projection shortcut, the rest not)
    view = paper_view(build(SPECS / "resnet_50_imagenet.yaml"))
    labels = sorted(c.label for c in view.clusters.values())
    assert labels == ["bottleneck × 3, first drawn"] * 2 + ["bottleneck × 4, first drawn",
                      "bottleneck × 6, first drawn"] + ["stage"] * 4


def test_the_drawn_instance_shows_what_later_ones_add():
    # a stage's first MBConv block changes the shape and has no residual add; the
    # second has one, so the second is drawn (and the frame says which)
    view = paper_view(build(SPECS / "efficientnet_b0.yaml"))
    assert "+" in {b.lines[0] for b in view.boxes.values() if b.kind == "merge"}
    assert any(c.label.endswith(", no. 2 drawn") for c in view.clusters.values())


def test_subtraction_and_legend():
    text = to_paper_dot(build(SPECS / "resnet_s_18.yaml"))
    assert "difference: signed sum that subtracts" in text
    assert "add: elementwise sum" in text
    assert 'label="basic_s × 2"' in text and 'label="basic_s"' in text  # a repeat of 1


def test_a_dense_repeat_drawn_once_keeps_its_dense_link():
    text = to_paper_dot(build(SPECS / "densenet_bc_100.yaml"))
    # the layer (one box: its one-input concat port is an identity) loops onto itself
    assert text.count('"d1.0.h" -> "d1.0.h" [style="dashed"') == 1
    assert "dense: each layer also reads every earlier one" in text
    assert "dense:" not in to_paper_dot(build(SPECS / "resnet_20.yaml"))


@pytest.mark.parametrize("figure", FIGURES)
def test_golden_paper_dot(figure):
    text = to_paper_dot(build((SPECS / f"{figure}.yaml").read_text(encoding="utf-8")))
    golden = GOLDEN / f"{figure}.dot"
    if os.environ.get("LINKC_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        f"the paper figure of {figure} changed; review it and rerun with LINKC_UPDATE_GOLDEN=1"


def test_left_to_right_and_pdf(tmp_path):
    out = tmp_path / "fig.pdf"
    assert main(["render", str(SPECS / "dmrnet_wide.yaml"), "-o", str(out), "--style", "paper",
                 "--direction", "LR"]) == 0
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    assert re.search(rb"/FontFile[23]?", data)  # embedded fonts: the text is text
    assert not re.search(rb"/Subtype\s*/Image", data)  # and no picture of the figure
    assert 'rankdir="LR"' in to_paper_dot(build(SPECS / "dmrnet_wide.yaml"), "LR")
    render_file(build(SPECS / "resnet_20.yaml"), tmp_path / "d.dot", direction="LR")
    assert 'rankdir="LR"' in (tmp_path / "d.dot").read_text(encoding="utf-8")  # default style too
    with pytest.raises(RenderError, match="--style paper draws every node"):
        render_file(build(SPECS / "resnet_20.yaml"), tmp_path / "x.svg", style="paper", depth=1)
