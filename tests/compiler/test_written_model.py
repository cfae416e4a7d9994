"""model.py computes exactly what the compiled module computes (`linkc compile -o` checks
it by running both: linkc.compiler.emit.rebuild)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from linkc.compiler import compile_graph
from linkc.compiler.emit.codegen import write_artifacts
from linkc.compiler.emit.rebuild import check_written_model
from linkc.frontend import build

ONE_CHANNEL = """linkc: 1
name: gray
input: [1, 3, 5]
nodes:
  a: {from: input, ops: [{conv: [5, 3]}, relu]}
  b: {from: input, ops: [{conv: [5, 1]}]}
  m: {from: [a, b], merge: add}
  head: {from: m, ops: [gap, {linear: 3}]}
output: head
"""


def _written(tmp_path, text: str, passes: list[str]):
    g = build(text)
    gm = compile_graph(g, passes)
    paths = write_artifacts(gm, g, tmp_path)
    spec = importlib.util.spec_from_file_location("written_model", paths["model"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    model.load_state_dict(gm.state_dict())
    return gm.eval(), model.eval(), paths["model"]


def test_a_one_channel_input_keeps_its_channels_last_weights_in_model_py(tmp_path):
    """A conv weight with one input channel is contiguous in both memory orders, yet its
    strides say which: model.py must lay it out as the channels_last pass did, or the
    kernels differ and the average pool after them rounds differently."""
    gm, model, _ = _written(tmp_path, ONE_CHANNEL, ["channels_last"])
    assert model.a.conv1.weight.stride() == gm.a.conv1.weight.stride() == (9, 1, 3, 1)
    x = torch.randn(4, 1, 3, 5)
    with torch.no_grad():
        assert torch.equal(model(x), gm(x))


def test_the_check_finds_a_model_py_that_computes_otherwise(tmp_path):
    gm, _, path = _written(tmp_path, ONE_CHANNEL, [])
    check_written_model(gm, path)  # as written: equal
    path.write_text(path.read_text().replace("nn.ReLU()", "nn.GELU()"))
    with pytest.raises(RuntimeError, match="first at module 'a.relu1'"):
        check_written_model(gm, path)
