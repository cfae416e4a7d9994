"""Several named inputs and outputs: the GraphModule takes the inputs in order and
returns the outputs in order, and agrees with a hand-written torch module holding the
same weights; model.py and the ONNX, torch.export and TorchScript artifacts follow."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from torch import nn

import linkc
from linkc.analyze import analyze
from linkc.compiler.emit.codegen import write_artifacts
from linkc.compiler.emit.export import FORMATS, export_spec
from linkc.frontend import build

SPEC = """
linkc: 1
name: two-in-two-out
inputs: {image: [3, 8, 8], meta: [5]}
nodes:
  stem:  {from: image, ops: [{conv: [8, 3]}, bn, relu]}
  trunk: {from: stem, ops: [{conv: {out: 8, k: 3, stride: 2}}, bn, relu, gap]}
  side:  {from: meta, ops: [{linear: 8}, relu]}
  head:  {from: [trunk, side], merge: concat, ops: [{linear: 4}]}
  aux1:  {from: stem, ops: [gap, {linear: 3}]}
outputs: [head, aux1]
"""


class HandWritten(nn.Module):
    """The spec above, written out in PyTorch."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.side = nn.Linear(5, 8)
        self.head = nn.Linear(16, 4)
        self.aux = nn.Linear(8, 3)

    def forward(self, image, meta):
        stem = torch.relu(self.bn1(self.conv1(image)))
        trunk = torch.relu(self.bn2(self.conv2(stem))).mean((2, 3))
        side = torch.relu(self.side(meta))
        return self.head(torch.cat([trunk, side], 1)), self.aux(stem.mean((2, 3)))

    def spec_state(self) -> dict:
        names = {"conv1": "stem.conv1", "bn1": "stem.bn1", "conv2": "trunk.conv1",
                 "bn2": "trunk.bn1", "side": "side.linear1", "head": "head.linear1",
                 "aux": "aux1.linear1"}
        return {f"{names[k.split('.')[0]]}.{k.split('.', 1)[1]}": v
                for k, v in self.state_dict().items()}


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    ref = HandWritten()
    for p in ref.parameters():  # away from the defaults, so a mix-up shows
        nn.init.normal_(p, std=0.3)
    for bn in (ref.bn1, ref.bn2):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    gm = linkc.compile(SPEC)
    gm.load_state_dict(ref.spec_state())
    return ref.eval(), gm.eval()


def _inputs(batch=3):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(batch, 3, 8, 8, generator=gen), torch.randn(batch, 5, generator=gen)


def test_inputs_in_order_outputs_as_tuple(pair):
    ref, gm = pair
    image, meta = _inputs()
    got = gm(image, meta)
    assert isinstance(got, tuple) and [tuple(t.shape) for t in got] == [(3, 4), (3, 3)]
    with torch.no_grad():
        want = ref(image, meta)
        got = gm(image, meta)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    # swapping the inputs is a shape error, not a silent mix-up
    with pytest.raises(RuntimeError):
        gm(meta, image)


def test_single_output_stays_a_tensor():
    gm = linkc.compile(SPEC.replace("outputs: [head, aux1]", "outputs: [head]"))
    out = gm(*_inputs())
    assert isinstance(out, torch.Tensor) and out.shape == (3, 4)


def test_analyze_counts_every_input_and_output():
    info = analyze(build(SPEC))
    # conv 3->8 (216) + conv 8->8 (576) + linear 5->8 (48) + 16->4 (68) + 8->3 (27) + 2 BN
    assert info["params"]["total"] == 216 + 16 + 576 + 16 + 48 + 68 + 27
    assert info["macs"] == 216 * 64 + 576 * 16 + 40 + 64 + 24
    assert info["inputs"] == {"image": [3, 8, 8], "meta": [5]}
    assert info["outputs"] == {"head": [4], "aux1": [3]}
    # head: image->conv->conv->linear (3 layers) and meta->linear->linear (2); aux1: 2 layers
    assert info["paths"]["counts"] == {"2": 1, "3": 1}
    assert info["paths_by_output"]["aux1"]["counts"] == {"2": 1}


def test_model_py_runs_and_matches(pair, tmp_path):
    ref, gm = pair
    paths = write_artifacts(gm, build(SPEC), tmp_path)
    assert "def forward(self, image, meta):" in paths["model"].read_text()
    spec = importlib.util.spec_from_file_location("multi_io_model", paths["model"])
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("multi_io_model", None)
    spec.loader.exec_module(module)
    from safetensors.torch import load_file

    model = module.Model()
    model.load_state_dict(load_file(str(paths["weights"])))
    model.eval()
    image, meta = _inputs()
    with torch.no_grad():
        for g, w in zip(model(image, meta), ref(image, meta)):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_onnx_names_inputs_and_outputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path / "m.onnx"
    done = export_spec(SPEC, "onnx", path)  # checked against the module on batches 1 and 3
    assert done.max_abs_diff < 1e-4
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image", "meta"]
    assert [o.name for o in graph.output] == ["head", "aux1"]
    head, aux = FORMATS["onnx"].load(path)(*_inputs(batch=5))
    assert head.shape == (5, 4) and aux.shape == (5, 3)


@pytest.mark.parametrize("fmt", ["torch-export", "torchscript"])
def test_other_formats_take_and_return_several(fmt, tmp_path):
    path = tmp_path / f"m{FORMATS[fmt].suffix}"
    assert export_spec(SPEC, fmt, path).max_abs_diff < 1e-4
    head, aux = FORMATS[fmt].load(path)(*_inputs(batch=2))
    assert head.shape == (2, 4) and aux.shape == (2, 3)
