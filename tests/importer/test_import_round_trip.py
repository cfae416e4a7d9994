"""Every model.py that `linkc compile -o` writes imports back, in both modes, with every
merge lowering the passes choose: padded merges, in-place merges (inference), the
dense-block buffers of merge_nary, a gate, a learnable merge."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import linkc
from linkc.cli import main
from linkc.importer import import_module
from tests.importer.corpus_check import trained_looking

EVERY_MERGE = """
linkc: 1
name: every-merge
input: [3, 8, 8]
blocks:
  unit:
    params: [c]
    in: x
    nodes:
      f: {from: x, ops: [bn, relu, {conv: [c, 3]}]}
      y: {from: [f, x], merge: add, pad: zeros}
    out: y
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [4, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  wide: {from: stem, repeat: 2, block: unit, args: {c: 8 + 2 * (i + 1)}}
  avg: {from: [wide, stem], merge: mean, pad: zeros, ops: [relu]}
  signed: {from: [avg, {ref: wide, weight: -0.5}], merge: wsum}
  dense: {from: signed, repeat: 3, connect: dense, block: layer}
  gate: {from: dense, ops: [gap, {linear: 24}, sigmoid]}
  gated: {from: [dense, gate], merge: mul}
  mixed: {from: ["gated[0:12]", "gated[12:24]"], merge: dwsum, ops: [relu]}
  head: {from: mixed, ops: [gap, {linear: 5}]}
output: head
"""


def _generated(out: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{out.name}", out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    model.load_state_dict(load_file(out / "weights.safetensors"))
    return trained_looking(model).eval()


SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize("spec, mode, passes, lowered", [
    ("every-merge", "train", None, "add_padded("),
    ("every-merge", "infer", None, "dense_append("),
    ("every-merge", "infer", "fold_bn,inplace_merge", "add_padded_into("),
    ("resnet_20", "infer", "fold_bn,inplace_merge", "add_into(")])
def test_compile_output_imports_back_in_both_modes(tmp_path, spec, mode, passes, lowered):
    if spec == "every-merge":
        source = tmp_path / "every.yaml"
        source.write_text(EVERY_MERGE)
    else:
        source = SPECS / f"{spec}.yaml"
    out = tmp_path / mode
    chosen = ["--passes", passes] if passes else []
    assert main(["compile", str(source), "--mode", mode, *chosen, "-o", str(out)]) == 0
    model = _generated(out)
    assert lowered in (out / "model.py").read_text()  # the lowering this case reads back
    shape = tuple(linkc.build(source).input_shape)
    result = import_module(model, shape)
    again = linkc.compile(result.spec)
    again.load_state_dict(result.weights)
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        want, got = model(x), again.eval()(x)
    assert float((want - got).abs().max()) <= 1e-6 * float(want.abs().max())
    assert result.params == sum(p.numel() for p in model.parameters())
