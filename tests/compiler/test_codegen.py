"""model.py: only what its graph uses, modules as attributes and lists, and the same
outputs as the in-memory module, with and without passes, for the zoo."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import linkc
from linkc.compiler.emit.codegen import model_source
from linkc.compiler.passes import default_passes

ZOO = sorted((Path(__file__).resolve().parents[2] / "linkc" / "zoo" / "specs").glob("*.yaml"))
QUICK = ["resnet_20", "densenet_bc_100", "dmrnet_cifar", "delugenet", "resnext_s_29_2x64d",
         "pyramidnet_110_a48", "digits_resnet"]


def run_source(source: str):
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)  # the generated file, as written
    return namespace


def same_outputs(path: Path, passes: list[str], mode: str) -> None:
    gm = linkc.compile(path, passes=passes, mode=mode)
    model = run_source(model_source(gm))["Model"]()
    model.load_state_dict(gm.state_dict(), strict=True)
    torch.manual_seed(0)
    x = torch.randn(2, *gm.meta["linkc"]["input_shape"])
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), gm.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", QUICK)
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_model_py_reproduces_the_module_with_default_passes(name, mode):
    path = ZOO[0].parent / f"{name}.yaml"
    same_outputs(path, default_passes(mode), mode)


@pytest.mark.parametrize("passes,channels_last", [(["channels_last"], True), ([], False)])
def test_model_py_keeps_the_weights_memory_format(passes, channels_last):
    # contiguous weights under channels_last activations run a different oneDNN path:
    # reordered on every call, and rounded differently from the module (digits_resnet)
    gm = linkc.compile(ZOO[0].parent / "digits_resnet.yaml", passes=passes)
    model = run_source(model_source(gm))["Model"]()
    convs = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) is channels_last
                         for p in convs)


@pytest.mark.parametrize("name", ["dmrnet_cifar", "resnet_20"])
def test_model_py_with_in_place_merges(name):
    passes = list(dict.fromkeys([*default_passes("infer"), "inplace_merge"]))
    same_outputs(ZOO[0].parent / f"{name}.yaml", passes, "infer")
    source = model_source(linkc.compile(ZOO[0].parent / f"{name}.yaml", passes=passes,
                                        mode="infer"))
    assert "add_into(" in source and "def _writable(t, xs)" in source


@pytest.mark.zoo
@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
@pytest.mark.parametrize("passes", ["none", "default"])
def test_model_py_reproduces_every_zoo_module(path, passes):
    same_outputs(path, [] if passes == "none" else default_passes("train"), "train")


def defined_and_imported(source: str) -> tuple[set[str], set[str]]:
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    imported = {ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    return defined, imported


def test_only_the_helpers_and_imports_the_graph_uses():
    source = model_source(linkc.compile("specs/resnet_20.yaml"))
    defined, imported = defined_and_imported(source)
    assert defined == {"add_padded", "add", "_widen", "GlobalAvgPool", "Model"}
    assert imported == {"import torch", "from torch import nn"}
    dense = model_source(linkc.compile("specs/densenet_bc_100.yaml", passes=["merge_nary"]))
    defined, _ = defined_and_imported(dense)  # the buffer helpers and what they call
    assert defined == {"dense_start", "dense_append", "_DenseStart", "_DenseAppend", "_alias",
                       "GlobalAvgPool", "Model"}


def test_modules_are_attributes_and_repeats_are_lists():
    source = model_source(linkc.compile("specs/resnet_20.yaml"))
    assert "_put" not in source and "getattr(" not in source
    lines = [line.strip() for line in source.splitlines()]
    assert "self.stage1 = nn.ModuleList(nn.Module() for _ in range(3))" in lines
    assert "self.stem.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)" in lines
    assert "self.stem.bn1 = nn.BatchNorm2d(16)" in lines
    assert "stage1_0_f_conv1 = self.stage1[0].f.conv1(stem_relu1)" in lines
    model = run_source(source)["Model"]()
    assert isinstance(model.stage1, torch.nn.ModuleList) and len(model.stage1) == 3


def test_a_node_named_like_a_helper_keeps_the_helper_callable():
    spec = """linkc: 1
name: shadow
input: [4, 6, 6]
nodes:
  a: {from: input, ops: [{conv: [4, 1]}]}
  concat: {from: [input, a], merge: concat}
  add: {from: [a, concat], merge: add, pad: zeros}
output: add
"""
    gm = linkc.compile(spec)
    model = run_source(model_source(gm))["Model"]()
    model.load_state_dict(gm.state_dict())
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(model(x), gm(x), rtol=0, atol=0)
