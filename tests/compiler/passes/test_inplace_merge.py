"""inplace_merge: a sum-like merge writes into an input temporary that only it reads."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import fx

import linkc
from linkc.compiler import functional
from linkc.compiler.fxutil import node_op
from linkc.compiler.passes import PassError, default_passes, run_passes
from linkc.compiler.emit.torch_compile import graph_breaks
from linkc.train.config import ConfigError, TrainConfig
from linkc.train.model_setup import training_passes
from linkc.ops import OPS
from pass_helpers import batch, randomize_bn_stats, small_spec

INTO = {functional.add_into, functional.add_padded_into, functional.mean_into,
        functional.mean_padded_into, functional.wsum_into, functional.wsum_padded_into}

THREE = """
linkc: 1
name: three-way
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, relu]}
  b: {from: a, ops: [{conv: [4, 3]}, bn]}
  c: {from: a, ops: [{conv: [4, 1]}]}
  s: {from: [a, b, c], merge: add, ops: [relu]}
  d: {from: s, ops: [{conv: [6, 3]}]}
  t: {from: [d, s], merge: add, pad: zeros, ops: [gap, {linear: 3}]}
output: t
"""


def _pair(spec: str):
    """(default inference passes, the same + inplace_merge), with the same weights."""
    torch.manual_seed(0)
    plain = linkc.compile(spec)
    randomize_bn_stats(plain)
    base = run_passes(copy.deepcopy(plain), default_passes("infer"), mode="infer")
    return base, run_passes(copy.deepcopy(base), ["inplace_merge"], mode="infer")


def _rewritten(gm) -> list[fx.Node]:
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target in INTO]


class _Reuse(fx.Interpreter):
    """Runs the graph; records, per merge node, whether its result lies in the storage
    of one of its inputs."""

    def run(self, *args):
        self.reused = {}
        with torch.no_grad():
            return super().run(*args)

    def run_node(self, n):
        inputs = [self.env[a].data_ptr() for a in n.all_input_nodes]
        out = super().run_node(n)
        if n.meta.get("linkc", {}).get("what", "").startswith("merge:"):
            self.reused[n.name] = out.data_ptr() in inputs
        return out


@pytest.mark.parametrize("spec, n", [("dmrnet_cifar", 57), ("resnet_20", 9), ("three", 2)])
def test_outputs_are_bit_identical_and_inputs_reused(spec, n):
    base, fused = _pair(THREE if spec == "three" else small_spec(spec))
    # DMRNet: 54 branch + mean adds, the 2 projection means and the streams' mean; the
    # 25 means of two streams that the next block's convolutions also read stay
    assert len(_rewritten(fused)) == n and _rewritten(base) == []
    x = batch(base, 3)
    with torch.no_grad():
        assert torch.equal(fused.eval()(x), base.eval()(x))
    reuse = _Reuse(fused)
    reuse.run(x)
    assert sorted(k for k, v in reuse.reused.items() if v) == sorted(
        node.name for node in _rewritten(fused))
    without = _Reuse(base)
    without.run(x)  # without the pass, every merge allocates its result
    assert without.reused.keys() == reuse.reused.keys() and not any(without.reused.values())


def test_the_three_input_add_writes_into_a_branch():
    _, fused = _pair(THREE)
    s, t = _rewritten(fused)
    # a is read by b and c too; b (bn folded into its conv) is read by s alone
    assert s.target is functional.add_into and s.kwargs == {"into": 1}
    assert [a.name for a in s.args] == ["a_relu1", "b_conv1", "c_conv1"]
    # the padded add writes into its wide input d, not into the narrow s
    assert t.target is functional.add_padded_into and t.kwargs == {"into": 0}


NEAR_MISS = """
linkc: 1
name: near-miss
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: input, ops: [{conv: [4, 1]}]}
  two: {from: [a, b], merge: add}
  also: {from: [a, two], merge: concat}
  ph: {from: [input, input], merge: mean}
  w: {from: input, ops: [{conv: [8, 1]}]}
  sl: {from: ["w[0:4]", "w[4:8]"], merge: add}
  dr: {from: input, ops: [{conv: [4, 1]}, {dropout: 0.1}]}
  kept: {from: [dr, input], merge: add}
  m: {from: [also, ph, sl, kept], merge: concat, ops: [gap, {linear: 3}]}
output: m
"""


def test_inputs_read_elsewhere_placeholders_views_and_aliases_are_left_alone():
    # two: a is read by `also`, b only by two: b is written (into=1), a never;
    # ph: the image input (a placeholder); sl: channel slices of w (views);
    # kept: dropout returns its input in eval (not `fresh`), then the placeholder
    base, fused = _pair(NEAR_MISS)
    rewritten = {n.meta["linkc"]["id"]: n.kwargs for n in _rewritten(fused)}
    assert rewritten == {"two": {"into": 1}}
    x = batch(base, 2)
    with torch.no_grad():
        assert torch.equal(fused.eval()(x), base.eval()(x))


def test_the_fresh_trait_holds_for_every_op_that_declares_it():
    """A `fresh` op's output shares storage with none of its inputs, parameters or buffers."""
    spec = """linkc: 1
name: fresh-ops
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, {groupnorm: 2}, layernorm, relu, relu6,
                          leaky_relu, elu, sigmoid, hardsigmoid, gelu, silu, hardswish, tanh,
                          {maxpool: 1}, {avgpool: 1}, {upsample: 2}, {conv_transpose: [4, 2]},
                          {scale: 0.5},
                          {adaptive_avgpool: 4}, {adaptive_maxpool: 4}, {channel_shuffle: 2}, gap,
                          {linear: 5}]}
output: a
"""
    gm = linkc.compile(spec).eval()
    fresh = {name for name, op in OPS.items() if "fresh" in op.traits}
    own = {t.untyped_storage().data_ptr() for t in (*gm.parameters(), *gm.buffers())}
    seen = set()

    class Check(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            op = node_op(n)
            if op is not None and op.name in fresh:
                before = {self.env[a].untyped_storage().data_ptr() for a in n.all_input_nodes}
                assert out.untyped_storage().data_ptr() not in before | own, op.name
                seen.add(op.name)
            return out
    with torch.no_grad():
        Check(gm).run(batch(gm, 2))
    assert seen == fresh
    assert not {"identity", "dropout", "drop_path", "flatten"} & fresh  # they return aliases


def test_training_refuses_it():
    with pytest.raises(PassError, match=r"^pass 'inplace_merge' is not valid in train mode "
                                        r"\(valid in: infer; the train-mode passes: "):
        run_passes(linkc.compile(THREE), ["inplace_merge"], mode="train")
    with pytest.raises(ConfigError, match="'inplace_merge' is not valid in train mode"):
        training_passes(TrainConfig(passes=["inplace_merge"]))
    assert "inplace_merge" not in default_passes("train")


def test_it_traces_without_graph_breaks():
    _, fused = _pair(small_spec("resnet_20"))
    count, reasons = graph_breaks(fused.eval(), batch(fused, 2))
    assert count == 0, reasons
