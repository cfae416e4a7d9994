"""Every pass keeps what its row in the table declares (passes.table), checked here
independently of `--verify`: the outputs and the training gradients (of the input and
of every parameter the pass kept) are bit-identical (torch.equal) for an exact pass,
and within the row's relative error in float64 for a pass that only rounds
differently. On the zoo's op and merge kinds (the specs of conftest.ZOO_SAMPLE,
shrunk), each pass alone on the lowered module and as part of its mode's whole
pipeline, and on a plugin's subclassed convolution and BatchNorm, which no pass may
treat as the torch class they derive from."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import linkc
from linkc.compiler.fxutil import node_op
from linkc.compiler.passes import PASSES, run_passes
from linkc.extend import Lowering, OpDef, register_op
from linkc.ops import OPS
from linkc.ops.merges import MERGES
from linkc.compiler.signature import as_tuple, example_inputs

from tests.conftest import ZOO_SAMPLE
from pass_helpers import randomize_bn_stats, small_spec

MODES = ("train", "infer")


def _small(name: str) -> str:
    """The zoo spec with its input shrunk to the smallest side that leaves every feature
    map at least 2x2: a training-mode BN over the two samples of one pixel sees two
    values, and normalising two nearly equal numbers turns float64 rounding into
    differences of 1e-5 (EfficientNet-B0 at 8x8), whatever the pass."""
    for side in (8, 16, 32, 64, 128):
        text = small_spec(name, side)
        try:
            g = linkc.build(text)
        except linkc.SpecError:
            continue
        if all(n.shape[1] * n.shape[2] >= 4 for n in g.nodes.values() if len(n.shape or ()) == 3):
            return text
    return small_spec(name, 224)


def _step(module: nn.Module, inputs, mode: str):
    """(outputs, {name: gradient}) of one seeded forward (and backward, in training)."""
    training = mode == "train"
    module.train(training)
    for n in module.graph.nodes:  # dropout draws its mask in memory order: NHWC, another
        if training and "random" in getattr(node_op(n), "traits", ()):  # sample
            module.get_submodule(n.target).eval()
    xs = [x.clone().requires_grad_(training) for x in inputs]
    torch.manual_seed(7)
    with torch.set_grad_enabled(training):
        outputs = as_tuple(module(*xs))
    grads = {}
    if training:
        gen = torch.Generator().manual_seed(8)
        sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum()
            for o in outputs).backward()
        grads = {f"input {i}": x.grad for i, x in enumerate(xs)}
        grads.update((name, p.grad) for name, p in module.named_parameters())
    return [o.detach() for o in outputs], grads


def _relative(got: torch.Tensor, want: torch.Tensor, scale: float) -> float:
    """Relative error; a gradient that is ~0 in real arithmetic (a BN's bias before
    another BN) is rounding noise, judged against 1e-3 of the largest (`scale`)."""
    return float((got - want).norm() / max(want.norm(), 1e-3 * scale, 1e-300))


def assert_pass_keeps_values(row, gm, mode: str) -> nn.Module:
    """Pass `row` on a copy of gm keeps what its row says; returns the rewritten copy
    (in gm's precision) for the next pass of a pipeline."""
    exact = row.bound is None
    before = copy.deepcopy(gm) if exact else copy.deepcopy(gm).double()
    work = copy.deepcopy(before)
    name_of = {id(p): name for name, p in work.named_parameters()}
    after = row.fn(work)
    renamed = {name: name_of[id(p)] for name, p in after.named_parameters() if id(p) in name_of}
    inputs = example_inputs(gm, 2, torch.randn, generator=torch.Generator().manual_seed(1),
                            dtype=torch.float32 if exact else torch.float64)
    want, want_grads = _step(before, inputs, mode)
    got, got_grads = _step(after, inputs, mode)
    got_grads = {renamed.get(k, k): g for k, g in got_grads.items()
                 if k.startswith("input") or k in renamed}
    assert got_grads.keys() <= want_grads.keys()
    if mode == "train":  # a pass without new weights keeps every parameter
        assert row.new_weights or len(got_grads) == len(want_grads), row.name
    pairs = [(f"output {i}", g, w) for i, (g, w) in enumerate(zip(got, want))]
    pairs += [(k, g, want_grads[k]) for k, g in got_grads.items()]
    scale = max((w.norm() for _, _, w in pairs if w is not None), default=1.0)
    for what, g, w in pairs:
        if w is None or g is None:
            assert g is None and w is None, (row.name, mode, what)
        elif exact:
            assert torch.equal(g, w), f"{row.name} ({mode}): {what} is not bit-identical"
        else:
            error = _relative(g, w, float(scale))
            assert error <= row.bound, f"{row.name} ({mode}): {what} off by {error:.2e}"
    if exact:
        return after
    return run_passes(copy.deepcopy(gm), [row.name], mode=mode)  # the pass in gm's precision


def _lowered(text: str) -> nn.Module:
    torch.manual_seed(0)
    gm = linkc.compile(text)
    randomize_bn_stats(gm)
    return gm


# Every op and merge kind, and every pattern a pass rewrites: an identity pool and op,
# conv -> BN, sibling convs and parallel branches (merge-and-run), add chains at a first
# and at a second input, a dense block and its transition (1x1 conv -> average pool).
KINDS = """
linkc: 1
name: kinds
input: [3, 8, 8]
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}, bn, relu, {maxpool: {k: 1, stride: 1}}, identity]}
  a: {from: stem, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: stem, ops: [{conv: [8, 3]}, bn, relu]}
  m: {from: [a, b], merge: mean}
  h1: {from: a, ops: [{conv: [8, 3]}, bn, gelu, {conv: [8, 3]}, bn]}
  h2: {from: b, ops: [{conv: [8, 3]}, bn, gelu, {conv: [8, 3]}, bn]}
  s: {from: [h1, m], merge: add}
  t: {from: [s, h2], merge: add}
  u: {from: [h1, t], merge: add, ops: [relu, {scale: 0.5}]}
  d0: {from: u, ops: [bn, relu, {conv: [4, 1]}, bn, relu, {conv: [4, 3]}]}
  c1: {from: [u, d0], merge: concat}
  d1: {from: c1, ops: [bn, relu, {conv: [4, 1]}, bn, relu, {conv: [4, 3]}]}
  c2: {from: [u, d0, d1], merge: concat}
  d2: {from: c2, ops: [bn, relu, {conv: [4, 1]}, bn, relu, {conv: [4, 3]}]}
  c3: {from: [u, d0, d1, d2], merge: concat, ops: [bn, relu, {conv: [8, 1]}, {avgpool: 2}]}
  gate: {from: c3, ops: [gap, {linear: 8}, sigmoid]}
  e: {from: [c3, gate], merge: mul, ops: [{conv: {out: 8, k: 3, groups: 2}}, {groupnorm: 2}, silu]}
  f: {from: [e, {ref: c3, weight: -1}], merge: wsum, ops: [{channel_shuffle: 2}, layernorm]}
  g: {from: [e, f], merge: dwsum, ops: [{drop_path: 0.2}, {conv_transpose: [8]}, hardswish]}
  h: {from: g, ops: [{upsample: {scale: 0.5}}, {conv: {out: 8, k: 3, dilation: 2, padding: 2}}, {dropout: 0.1}, elu]}
  head: {from: [h, c3], merge: add, ops: [leaky_relu, relu6, tanh, hardsigmoid, {adaptive_maxpool: 2}, {adaptive_avgpool: 1}, flatten, {linear: 3}]}
output: head
"""


@pytest.fixture(autouse=True)
def _one_thread():
    """Maps of 8x8 pixels: a second thread only adds synchronisation (and, on a loaded
    machine, a wait for a core at every kernel)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check_every_pass(gm, mode: str, alone: bool = False) -> None:
    """Each pass of `mode` in the table's order, on the module the earlier ones left
    (and, `alone`, on the module as lowered too)."""
    pipeline = copy.deepcopy(gm)
    for row in PASSES:
        if mode in row.modes:
            if alone:
                assert_pass_keeps_values(row, gm, mode)
            pipeline = assert_pass_keeps_values(row, pipeline, mode)


@pytest.mark.parametrize("mode", MODES)
def test_every_pass_keeps_values_on_every_kind_of_op_and_merge(mode):
    gm = _lowered(KINDS)
    used = {n.meta["linkc"]["what"].partition(":")[2] for n in gm.graph.nodes
            if n.op != "placeholder" and n.op != "output"}
    assert {name for name in OPS if OPS.origin(name).name == "built-in"} <= used
    assert {name for name in MERGES if MERGES.origin(name).name == "built-in"} <= used
    _check_every_pass(gm, mode)


@pytest.mark.zoo
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ZOO_SAMPLE)
def test_every_pass_keeps_values_on_the_zoo(name, mode):
    _check_every_pass(_lowered(_small(name)), mode, alone=True)


# --- a plugin's subclasses of Conv2d and BatchNorm2d --------------------------------------

class WSConv(nn.Conv2d):
    """Weight-standardised convolution: each filter normalised to zero mean, unit variance
    in forward. Folding a BN into its raw weights would be undone by the standardisation."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


class BatchNormAct(nn.BatchNorm2d):
    """BatchNorm followed by its activation in one module (as timm's BatchNormAct2d)."""

    def __init__(self, num_features: int, eps: float, momentum: float, rank: int):
        super().__init__(num_features, eps=eps, momentum=momentum)

    def forward(self, x):
        return torch.relu(super().forward(x))


@pytest.fixture
def subclass_ops():
    conv, bn = OPS["conv"], OPS["bn"]
    register_op(OpDef("wsconv", conv.args, conv.infer, Lowering(f"{__name__}:WSConv",
                      conv.lowering.kwargs), "weight-standardised conv", conv.traits,
                      params=conv.params))
    register_op(OpDef("bnact", bn.args, bn.infer, Lowering(f"{__name__}:BatchNormAct",
                      bn.lowering.kwargs), "BN + ReLU in one module", bn.traits,
                      params=bn.params))
    yield
    OPS.remove("wsconv")
    OPS.remove("bnact")


SUBCLASSES = """
linkc: 1
name: subclasses
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{wsconv: [8, 3]}, bn, relu]}
  b: {from: a, ops: [{conv: [8, 3]}, bnact]}
  c: {from: a, ops: [{wsconv: [8, 3]}, bnact]}
  d: {from: [b, c], merge: concat, ops: [bnact, relu, {wsconv: [8, 1]}, {avgpool: 2}]}
  e: {from: [b, c], merge: concat, ops: [bnact, relu, {conv: [8, 3]}, {avgpool: 2}]}
  f: {from: [d, e], merge: add, ops: [bn, relu, {wsconv: [8, 1]}, {avgpool: 2}, gap, {linear: 3}]}
output: f
"""


def test_no_pass_takes_a_subclass_for_its_base(subclass_ops):
    gm = _lowered(SUBCLASSES)
    folded = run_passes(copy.deepcopy(gm), ["fold_bn"], mode="infer")
    # only the built-in conv -> BN pair could fold, and b's BN is a plugin's
    assert folded.code == gm.code
    gm.eval(), folded.eval()
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(folded(x), gm(x))
    for names, mode in ((["pool_first", "checkpoint_dense", "group_parallel"], "train"),
                        (["pool_first", "group_parallel"], "infer")):
        assert run_passes(copy.deepcopy(gm), names, mode=mode).code == gm.code
    for mode in MODES:
        _check_every_pass(gm, mode, alone=True)
