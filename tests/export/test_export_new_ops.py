"""The ops users reach for first export to every format and match the module
(export_spec checks each artifact on batches of 1 and 3), and the one op torch's
ONNX exporter cannot write is named with its place in the spec."""

from __future__ import annotations

import pytest

from linkc.compiler.emit.export import ExportError, export_spec

OPS = """
linkc: 1
name: new-ops
input: [8, 12, 12]
nodes:
  a: {from: input, ops: [{conv: {out: 16, k: 3, padding: same}}, {groupnorm: 4}, relu6,
                         hardswish, {leaky_relu: 0.2}, {elu: 0.5}, hardsigmoid, layernorm,
                         {channel_shuffle: 4}, {drop_path: 0.1}]}
  b: {from: a, ops: [{maxpool: {k: 3, stride: 2, padding: same, ceil_mode: true}},
                     {avgpool: {k: 3, stride: 2, padding: 1, ceil_mode: true,
                                count_include_pad: false}}]}
  c: {from: b, ops: [{upsample: {scale: 2, mode: bilinear, align_corners: true}},
                     {conv_transpose: [8, 3, 2]}, {upsample: 2},
                     {conv: {out: 8, k: 3, stride: 2, padding: valid}},
                     {adaptive_avgpool: {size: [3, 2]}}, {adaptive_maxpool: 1}, flatten]}
output: c
"""


@pytest.mark.parametrize("fmt", ["onnx", "torch-export", "torchscript"])
def test_new_ops_export_and_match(fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    done = export_spec(OPS, fmt, tmp_path / "m.bin")
    assert done.max_abs_diff < 1e-4


def test_adaptive_maxpool_to_a_size_that_does_not_divide_is_named(tmp_path):
    pytest.importorskip("onnxruntime")
    spec = OPS.replace("{adaptive_maxpool: 1}", "{adaptive_maxpool: 2}")  # from 3x2
    with pytest.raises(ExportError) as info:
        export_spec(spec, "onnx", tmp_path / "m.onnx")
    culprit = str(info.value).split("; ops that fail on their own:\n")[1].splitlines()
    assert culprit[0].startswith("<spec>:15:58: error: op:adaptive_maxpool (AdaptiveMaxPool2d) "
                                 "in node c does not export on its own: ")
    assert culprit[1:] == [f"   15 | {spec.splitlines()[14]}", "      | " + " " * 57 + "^"]
