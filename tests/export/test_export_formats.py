"""linkc export: ONNX (checked with onnxruntime), torch.export and TorchScript artifacts
match the module, keep a dynamic batch, load weights strictly, and name failing ops."""

from __future__ import annotations

import pytest
import torch

import linkc
from linkc.cli import main
from linkc.compiler.emit.export import ExportError, FORMATS, export_spec
from linkc.extend import Lowering, NoArgs, OpDef, register_op
from linkc.ops import OPS

SMALL = """
linkc: 1
name: small
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
  r: {from: [d, stem], merge: add, pad: zeros, ops: [{maxpool: 2}]}
  w: {from: [r, "r[0:18]"], merge: dwsum}
  g: {from: w, ops: [gap, {linear: 18}, sigmoid]}
  s: {from: [w, g], merge: mul, ops: [gap, {linear: 5}]}
output: s
"""


def _run(fmt: str, path):
    return FORMATS[fmt].load(path)


@pytest.mark.parametrize("fmt", ["onnx", "torch-export", "torchscript"])
def test_formats_match_with_dynamic_batch(fmt, tmp_path):
    pytest.importorskip("onnxruntime") if fmt == "onnx" else None
    path = tmp_path / f"m{FORMATS[fmt].suffix}"
    done = export_spec(SMALL, fmt, path)
    assert path.exists() and done.max_abs_diff < 1e-4
    gm = linkc.compile(SMALL).eval()
    # the module's weights are random: load the same ones the artifact holds
    run = _run(fmt, path)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 8, 8)
        (got,) = run(x)  # a loaded artifact gives the tuple of outputs
        assert got.shape == (batch, 5)
        assert torch.isfinite(got).all()


def test_weights_are_loaded_and_checked(tmp_path):
    from safetensors.torch import save_file

    gm = linkc.compile(SMALL).eval()
    for p in gm.parameters():
        torch.nn.init.normal_(p, std=0.2)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in gm.state_dict().items()}, str(weights))
    out = tmp_path / "m.pt2"
    export_spec(SMALL, "torch-export", out, weights=weights)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(_run("torch-export", out)(x)[0], gm(x), rtol=1e-4, atol=1e-5)

    state = dict(gm.state_dict())
    state.pop("stem.conv1.weight")
    state["stem.extra"] = torch.zeros(1)
    state["s.linear1.weight"] = torch.zeros(2, 2)
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights))
    with pytest.raises(ExportError) as err:
        export_spec(SMALL, "torchscript", tmp_path / "m.pt", weights=weights)
    text = str(err.value)
    assert "1 missing (e.g. stem.conv1.weight)" in text
    assert "1 unexpected (e.g. stem.extra)" in text
    assert "s.linear1.weight: file [2, 2], model [5, 18]" in text


class Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.export refuses it
            return x * 2
        return x


BRANCHY = """linkc: 1
name: bad
input: [3, 4, 4]
nodes:
  a: {from: input, ops: [relu]}
  gate: {from: a, ops: [branchy]}
output: gate
"""


@pytest.fixture
def branchy_op():
    register_op(OpDef("branchy", NoArgs, lambda s, a: s, Lowering(f"{__name__}:Branchy"),
                      "doubles positive-sum batches"))
    yield
    OPS.remove("branchy")


def test_failing_op_is_named_at_its_spec_line(branchy_op, tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BRANCHY)
    assert main(["export", str(spec), "--format", "torch-export",
                 "-o", str(tmp_path / "bad.pt2")]) == 2
    err = capsys.readouterr().err  # torch.export logs the graph it refused first
    head, _, culprits = err[err.index("torch-export export of bad"):].partition(
        "; ops that fail on their own:\n")
    assert head.startswith("torch-export export of bad failed: ")
    blocks = culprits.rstrip("\n").split("\n")
    assert len(blocks) == 3  # only the plugin op fails: one located message
    assert blocks[0].startswith(f"{spec}:6:25: error: op:branchy (Branchy) in node gate "
                                "does not export on its own: ")
    assert blocks[1:] == ["    6 |   gate: {from: a, ops: [branchy]}",
                          "      |                         ^"]


def test_cli(tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "m.pt"
    assert main(["export", str(spec), "--format", "torchscript", "-o", str(out)]) == 0
    assert "matches the module on batches of 1 and 3" in capsys.readouterr().out
    assert main(["export", str(spec), "--format", "torchscript", "--weights",
                 str(tmp_path / "missing.safetensors"), "-o", str(out)]) == 2
    assert "cannot read weights" in capsys.readouterr().err
