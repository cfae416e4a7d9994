"""Lowering: names that read like the spec, locations and shapes in meta, and
inferred shapes equal to real ones for every spec in specs/."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import fx, nn

import linkc
from linkc.compiler.emit.codegen import write_artifacts
from linkc.compiler.lower import lower
from linkc.compiler.verify import check_graph_module
from linkc.frontend import build
from tests.conftest import zoo_params

SPECS = Path(__file__).resolve().parents[2] / "specs"

SMALL = """
linkc: 1
name: small-dense
params: {k: 8}
input: [3, 8, 8]
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [k, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}]}
  d: {from: stem, repeat: 3, block: layer, connect: dense, merge: dwsum}
  head: {from: d, ops: [gap, {linear: 5}]}
output: head
"""


def test_module_names_follow_node_paths():
    gm = linkc.compile(SMALL)
    names = {name for name, _ in gm.named_modules()}
    assert {"stem.conv1", "d.0.h.bn1", "d.0.h.conv1", "d.2.h.conv1", "d.1.x.merge",
            "d.merge", "head.linear1"} <= names
    assert "d.weight" not in gm.state_dict()
    assert gm.state_dict()["d.2.x.merge.weight"].shape == (3, 8)  # (stem, d.0.h, d.1.h) x 8


def test_meta_carries_location_and_shape():
    g = build(SMALL)
    gm = lower(g)
    gm.graph.lint()
    by_target = {n.target: n for n in gm.graph.nodes if n.op == "call_module"}
    conv = by_target["d.1.h.conv1"]
    assert conv.meta["linkc"]["shape"] == (8, 8, 8)
    loc = conv.meta["linkc"]["loc"]  # the Loc itself: later errors quote the YAML line
    assert str(loc) == "<spec>:10:36"
    assert loc.source.line(loc.line) == SMALL.splitlines()[9]
    assert conv.meta["linkc"]["id"] == "d.1.h"
    merge_nodes = [n for n in gm.graph.nodes if n.meta.get("linkc", {}).get("what", "").startswith(
        "merge")]
    assert all(n.op in ("call_function", "call_module") for n in merge_nodes)


def test_graph_is_built_without_tracing_one_module_call_per_op():
    g = build(SMALL)
    gm = lower(g)
    calls = [n for n in gm.graph.nodes if n.op == "call_module"]
    op_count = sum(len(g.nodes[n].ops) for n in g.order)
    merges_with_params = sum(1 for n in g.order if g.nodes[n].effective_merge() is not None
                             and g.nodes[n].effective_merge().params)
    assert len(calls) == op_count + merges_with_params


@pytest.mark.parametrize("spec", zoo_params())
def test_inferred_shapes_equal_real_shapes(spec):
    g = build(spec)
    gm = lower(g)
    check_graph_module(gm)  # runs the module and compares every node's shape with inference
    assert gm.meta["linkc"]["output_shape"] == tuple(g.nodes[g.output].shape)


def _import_model_py(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_py_is_standalone_and_reproduces_outputs(tmp_path):
    g = build(SPECS / "densenet_bc_100.yaml")
    gm = lower(g).eval()
    paths = write_artifacts(gm, g, tmp_path)
    source = paths["model"].read_text()
    imported = {a.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in (node.names if isinstance(node, ast.Import) else [node])
                if not isinstance(node, ast.ImportFrom)} | {
        node.module.split(".")[0] for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)}
    assert imported <= {"torch", "math"}
    model = _import_model_py(paths["model"]).Model().eval()
    model.load_state_dict(load_file(paths["weights"]), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), gm(x))
    graph = json.loads(paths["graph"].read_text())
    assert graph["output"] == "head" and graph["nodes"][-1]["shape"] == [10]
    assert len(graph["nodes"]) == len(g.order)


def test_model_py_with_merges_of_every_kind(tmp_path):
    spec = """
linkc: 1
name: all-merges
input: [4, 6, 6]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu]}
  b: {from: input, ops: [{conv: [6, 1]}]}
  s: {from: [input, a], merge: add}
  p: {from: [a, b], merge: add, pad: zeros}
  c: {from: ["b[0:4]", s], merge: concat}
  m: {from: [s, a], merge: mean}
  w: {from: [s, {ref: m, weight: -1}], merge: wsum}
  d: {from: [w, m, s], merge: dwsum}
  g: {from: d, ops: [gap, {linear: 4}, sigmoid]}
  y: {from: [d, g], merge: mul}
  out: {from: [y, "c[2:6]", "p[0:4]"], merge: concat, ops: [gap, {linear: 3}]}
output: out
"""
    g = build(spec)
    gm = lower(g).eval()
    paths = write_artifacts(gm, g, tmp_path)
    model = _import_model_py(paths["model"]).Model().eval()
    model.load_state_dict(load_file(paths["weights"]), strict=True)
    x = torch.randn(3, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), gm(x), rtol=0, atol=0)


def test_compile_accepts_text_and_path():
    from_text = linkc.compile((SPECS / "resnet_110.yaml").read_text())
    from_path = linkc.compile(SPECS / "resnet_110.yaml")
    assert isinstance(from_text, fx.GraphModule)
    assert list(from_text.state_dict()) == list(from_path.state_dict())
    assert sum(p.numel() for p in from_path.parameters()) == 1_727_962


def test_graph_module_trains():
    gm = linkc.compile(SMALL)
    opt = torch.optim.SGD(gm.parameters(), lr=0.1)
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 5, (8,))
    loss0 = nn.functional.cross_entropy(gm(x), y)
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(gm(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < loss0.item()
