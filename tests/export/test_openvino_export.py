"""`linkc export --format openvino`: the IR (.xml and .bin) opens in OpenVINO and agrees
with the module, with a dynamic batch; a path without .xml is a usage error."""

from __future__ import annotations

import pytest
import torch

import linkc
from linkc.cli import main
from linkc.compiler.emit.export import ExportError, export_module

ov = pytest.importorskip("openvino")
pytest.importorskip("onnxscript")

SPEC = """linkc: 1
name: small-ir
input: [3, 8, 8]
blocks:
  unit:
    in: x
    nodes:
      f: {from: x, ops: [bn, relu, {conv: [6, 3]}]}
    out: f
nodes:
  stem: {from: input, ops: [{conv: [6, 3]}, bn, relu]}
  d: {from: stem, repeat: 2, block: unit, connect: dense, merge: concat}
  g: {from: d, ops: [{maxpool: 2}, gap, {linear: 5}]}
output: g
"""


def test_the_ir_opens_in_openvino_and_agrees_with_the_module(tmp_path):
    torch.manual_seed(0)
    gm = linkc.compile(SPEC).eval()
    done = export_module(gm, "openvino", tmp_path / "net.xml")
    assert done.max_abs_diff < 1e-4
    assert (tmp_path / "net.xml").exists() and (tmp_path / "net.bin").exists()
    # read back with OpenVINO's own API, pinned to f32 (it would pick bf16 on AMX CPUs)
    compiled = ov.Core().compile_model(str(tmp_path / "net.xml"), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    for batch in (1, 3):
        x = torch.randn(batch, 3, 8, 8)
        got = torch.from_numpy(compiled([x.numpy()])[0])
        with torch.no_grad():
            torch.testing.assert_close(got, gm(x), atol=1e-5, rtol=1e-4)


def test_the_cli_writes_the_ir_and_says_it_matched(tmp_path, capsys):
    (tmp_path / "small.yaml").write_text(SPEC)
    out = tmp_path / "small.xml"
    assert main(["export", str(tmp_path / "small.yaml"), "--format", "openvino",
                 "-o", str(out)]) == 0
    assert out.exists() and out.with_suffix(".bin").exists()
    assert "matches the module on batches of 1 and 3" in capsys.readouterr().out


def test_an_ir_path_without_xml_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "small.yaml").write_text(SPEC)
    assert main(["export", str(tmp_path / "small.yaml"), "--format", "openvino",
                 "-o", str(tmp_path / "small.ir")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"OpenVINO IR is a .xml file with a .bin beside it: write to "
        f"'{tmp_path / 'small.xml'}', not '{tmp_path / 'small.ir'}'")
    with pytest.raises(ExportError):
        export_module(linkc.compile(SPEC), "openvino", tmp_path / "other.onnx")
