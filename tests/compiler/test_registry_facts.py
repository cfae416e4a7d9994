"""Facts about ops and merges come from their registry entries, so an entry registered
through `linkc.extend` (as a plugin does) is treated exactly like a built-in one."""

from __future__ import annotations

import copy

import pytest
import torch
from pydantic import Field
from torch import fx, nn

import linkc
from linkc.compiler.lower import resolve_target
from linkc.compiler.passes import group_parallel as gp_module
from linkc.compiler.passes import run_passes
from linkc.compiler.passes.checkpoint_dense import checkpoint_dense
from linkc.compiler.passes.fold_bn import fold_bn
from linkc.extend import (Args, Lowering, MergeDef, OpDef, ShapeError, register_merge,
                          register_op)
from linkc.ops.merges import MERGES
from linkc.ops import OPS
from linkc.ops.registry import misspelling_of


class SoftClip(nn.Module):
    """limit * tanh(x / limit): an elementwise activation defined outside linkc."""

    def __init__(self, limit: float):
        super().__init__()
        self.limit = limit

    def forward(self, x):
        return self.limit * torch.tanh(x / self.limit)

    def extra_repr(self) -> str:
        return f"limit={self.limit}"


def maximum(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out


class LimitArgs(Args):
    limit: float = Field(3.0, gt=0, description="output bound")


def _same_shapes(inputs, options):
    if len({x.shape for x in inputs}) > 1:
        raise ShapeError("maximum needs equal shapes")
    return inputs[0].shape


@pytest.fixture
def entries():
    """softclip (elementwise), softclip_opaque (same module, no trait), maximum
    (associative) and maximum_plain (not), registered like a plugin's, then removed."""
    added = []
    for name, traits in (("softclip", {"elementwise"}), ("softclip_opaque", set())):
        added.append((OPS, register_op(OpDef(
            name, LimitArgs, lambda s, a: s,
            Lowering(f"{__name__}:SoftClip", lambda s, a: dict(limit=a.limit)),
            "bounded tanh", frozenset(traits))).name))
    for name, associative in (("maximum", True), ("maximum_plain", False)):
        added.append((MERGES, register_merge(MergeDef(
            name, _same_shapes, Lowering(f"{__name__}:maximum"), "max", "elementwise maximum",
            associative=associative)).name))
    yield
    for registry, name in added:
        registry.remove(name)


def test_entries_remember_their_origin(entries):
    assert OPS.origin("relu").name == "built-in"
    assert OPS.origin("softclip").name == f"module {__name__}"
    assert MERGES.origin("‖").name == "built-in"


def test_resolve_target_matches_whole_packages(entries):
    assert resolve_target("torch.nn:ReLU") is nn.ReLU
    assert resolve_target("linkc.compiler.functional:add").__name__ == "add"
    assert resolve_target(f"{__name__}:SoftClip") is SoftClip  # a registered origin's package
    for target in ("torchvision.models:resnet18", "torch_x:f", "linkcx.mod:f", "os:system"):
        with pytest.raises(ValueError, match="outside torch, linkc and the installed plugins"):
            resolve_target(target)


def test_registration_errors_name_the_problem():
    with pytest.raises(ValueError, match="op 'relu' is already registered \\(by built-in\\); "
                                         f"module {__name__} registers it again"):
        register_op(OpDef("relu", LimitArgs, lambda s, a: s, Lowering("torch.nn:ReLU"), "x"))
    with pytest.raises(ValueError, match="unknown trait\\(s\\) pool"):
        OpDef("p", LimitArgs, lambda s, a: s, Lowering("torch.nn:ReLU"), "x", frozenset({"pool"}))
    with pytest.raises(ValueError, match="'bad': lowering target 'os:system' is outside"):
        register_op(OpDef("bad", LimitArgs, lambda s, a: s, Lowering("os:system"), "x"))
    assert "bad" not in OPS


@pytest.mark.parametrize("name,expected", [
    ("rleu", "relu"), ("ReLU", "relu"), ("max_pool", "maxpool"), ("Max-Pool", "maxpool"),
    ("relu6", None), ("elu", None), ("selu", None), ("convv", None), ("vcon", None)])
def test_suggestions_only_for_misspellings(name, expected):
    assert misspelling_of(name, ["relu", "gelu", "maxpool", "conv"]) == expected


BRANCHES = """
linkc: 1
name: two-branches
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}]}
  b: {from: input, ops: [{conv: [8, 1]}]}
  h1: {from: a, ops: [{conv: [8, 3]}, bn, ACT, {conv: [8, 3]}]}
  h2: {from: b, ops: [{conv: [8, 3]}, bn, ACT, {conv: [8, 3]}]}
  head: {from: [h1, h2], merge: add}
output: head
"""


def _grouped_convs(gm) -> int:
    return sum(1 for m in gm.modules() if isinstance(m, nn.Conv2d) and m.groups == 2)


@pytest.mark.parametrize("act,grouped", [("relu", 2), ("{softclip: 2.5}", 2),
                                         ("{softclip_opaque: 2.5}", 1)])
def test_group_parallel_reads_the_elementwise_trait(entries, act, grouped):
    torch.manual_seed(0)
    plain = linkc.compile(BRANCHES.replace("ACT", act))
    fused = run_passes(copy.deepcopy(plain), ["group_parallel"], mode="infer")
    # through an elementwise op the chains continue to the second conv; else they stop
    assert _grouped_convs(fused) == grouped
    plain.eval(), fused.eval()
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(fused(x), plain(x))


CHAIN = """
linkc: 1
name: max-chain
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: input, ops: [{conv: [4, 1]}]}
  c: {from: input, ops: [tanh]}
  ab: {from: [a, b], merge: MERGE}
  abc: {from: [ab, c], merge: MERGE, ops: [relu]}
output: abc
"""


@pytest.mark.parametrize("merge,calls", [("maximum", 1), ("maximum_plain", 2)])
def test_merge_nary_flattens_associative_merges(entries, merge, calls):
    torch.manual_seed(0)
    plain = linkc.compile(CHAIN.replace("MERGE", merge).replace("[3, 8, 8]", "[4, 8, 8]")
                          .replace("[tanh]", "[{conv: [4, 1]}]"))
    fused = run_passes(copy.deepcopy(plain), ["merge_nary"], mode="infer")
    found = [n for n in fused.graph.nodes if n.op == "call_function" and n.target is maximum]
    assert len(found) == calls and len(found[0].args) == 4 - calls
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(fused(x), plain(x))


def _bn_graph(args, kwargs=None) -> fx.GraphModule:
    root = nn.Module()
    root.bn = nn.BatchNorm2d(4)
    graph = fx.Graph()
    x = graph.placeholder("x")
    bn = graph.call_module("bn", args(x), kwargs(x) if kwargs else {})
    bn.meta["linkc"] = {"what": "op:bn", "shape": (4, 8, 8)}
    graph.output(bn)
    return fx.GraphModule(root, graph)


def test_fold_bn_skips_a_bn_whose_input_is_not_a_node():
    gm = _bn_graph(lambda x: (2.0,))
    fold_bn(gm)  # used to read `.op` of the constant
    assert [n.op for n in gm.graph.nodes] == ["placeholder", "call_module", "output"]


def test_checkpoint_dense_checks_arity_before_reading_the_input():
    gm = _bn_graph(lambda x: (), lambda x: {"input": x})
    checkpoint_dense(gm)  # used to read args[0] of an empty tuple
    assert [n.op for n in gm.graph.nodes] == ["placeholder", "call_module", "output"]


def test_group_parallel_looks_at_each_node_a_bounded_number_of_times(monkeypatch):
    """The branch search used to scan every later node for every conv (and rebuild a
    position map each time): quadratic in the graph. Now each node is classified
    a constant number of times."""
    layers = "\n".join(f"  l{i}: {{from: {'input' if i == 0 else f'l{i - 1}'}, "
                       f"ops: [{{conv: [4, 3]}}, bn, relu]}}" for i in range(40))
    gm = linkc.compile(f"linkc: 1\nname: deep\ninput: [4, 8, 8]\nnodes:\n{layers}\n"
                       "output: l39\n")
    calls = []
    real = gp_module._conv
    monkeypatch.setattr(gp_module, "_conv", lambda node, modules: calls.append(node) or
                        real(node, modules))
    nodes = len(gm.graph.nodes)
    gp_module.group_siblings(gm)
    gp_module.group_branches(gm)
    assert len(calls) <= 3 * nodes, (len(calls), nodes)
