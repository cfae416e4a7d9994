"""pool_first: 1x1 conv -> average pool becomes pool -> conv, in both modes."""

import pytest
import torch
from torch import nn

from pass_helpers import (assert_outputs_match, assert_training_matches, fused_pair,
                          same_names, small_spec)


def _shallow(name: str) -> str:
    """The zoo spec at 8x8 with two layers per block: the same transitions, fast."""
    return small_spec(name).replace("depth: 100", "depth: 16")


def _conv_then_pool(gm):
    """Average pools whose input is a 1x1 convolution."""
    modules = dict(gm.named_modules())
    return [n for n in gm.graph.nodes if n.op == "call_module"
            and type(modules[n.target]) is nn.AvgPool2d and n.args[0].op == "call_module"
            and type(modules[n.args[0].target]) is nn.Conv2d
            and modules[n.args[0].target].kernel_size == (1, 1)]


def _conv_input_sizes(gm, x):
    """Spatial size of every 1x1 convolution's input when gm runs on x."""
    sizes, hooks = [], []
    for m in gm.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1):
            hooks.append(m.register_forward_pre_hook(
                lambda mod, args: sizes.append(tuple(args[0].shape[2:]))))
    with torch.no_grad():
        gm.eval()(x)
    for h in hooks:
        h.remove()
    return sorted(sizes)


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_densenet_transitions_pool_first(mode):
    plain, fused = fused_pair(_shallow("densenet_bc_100"), ["pool_first"], mode=mode)
    assert len(_conv_then_pool(plain)) == 2  # the two transitions
    assert _conv_then_pool(fused) == []
    x = torch.randn(1, 3, 8, 8)
    before, after = _conv_input_sizes(plain, x), _conv_input_sizes(fused, x)
    # the two transition convs now read the pooled 4x4 and 2x2 maps, not 8x8 and 4x4
    assert before.count((8, 8)) - after.count((8, 8)) == 1
    assert after.count((2, 2)) - before.count((2, 2)) == 1
    assert len(before) == len(after)


@pytest.mark.parametrize("spec", ["densenet_bc_100", "mixnet"])
def test_outputs_match(spec):
    plain, fused = fused_pair(_shallow(spec), ["pool_first"], mode="infer")
    assert _conv_then_pool(plain) and not _conv_then_pool(fused)
    assert_outputs_match(plain, fused)


def test_training_outputs_and_gradients_match():
    plain, fused = fused_pair(_shallow("densenet_bc_100"), ["pool_first"])
    assert_training_matches(plain, fused, same_names)


def test_after_fold_bn_the_folded_bias_commutes_too():
    spec = """
linkc: 1
name: conv-bn-pool
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [6, 1]}, bn, {avgpool: 2}, gap, {linear: 3}]}
output: a
"""
    plain, fused = fused_pair(spec, ["fold_bn", "pool_first"], mode="infer")
    assert not _conv_then_pool(fused)
    assert_outputs_match(plain, fused)


@pytest.mark.parametrize("ops, why", [
    ("[{conv: [6, 3]}, {avgpool: 2}]", "a 3x3 conv mixes neighbouring pixels"),
    ("[{conv: [6, 1, 2]}, {avgpool: 2}]", "a strided conv drops pixels"),
    ("[{conv: [6, 1]}, {avgpool: [3, 2, 1]}]", "padding averages in zeros, not the bias"),
    ("[{conv: [6, 1]}, {maxpool: 2}]", "max does not commute with an affine map"),
])
def test_left_alone(ops, why):
    spec = f"""
linkc: 1
name: near-miss
input: [4, 8, 8]
nodes:
  a: {{from: input, ops: {ops}}}
  b: {{from: a, ops: [gap, {{linear: 3}}]}}
output: b
"""
    plain, fused = fused_pair(spec, ["pool_first"])
    assert fused.code == plain.code, why


def test_conv_with_two_readers_is_left_alone():
    spec = """
linkc: 1
name: two-readers
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [6, 1]}]}
  p: {from: a, ops: [{avgpool: 2}, gap]}
  q: {from: a, ops: [gap]}
  c: {from: [p, q], merge: add, ops: [{linear: 3}]}
output: c
"""
    plain, fused = fused_pair(spec, ["pool_first"])
    assert fused.code == plain.code
