"""checkpoint_dense: dense layers' concat+BN+ReLU+1x1 conv recomputed in backward."""

import pytest
import torch

from linkc.compiler.modules import DenseBottleneck
from pass_helpers import assert_grad_close, assert_outputs_match, assert_training_matches, \
    fused_pair, small_spec

RENAMED = {"bn_weight": "bn1.weight", "bn_bias": "bn1.bias", "conv_weight": "conv1.weight"}


def grads_of(name, plain_params):
    """`d1.3.h.bottleneck.conv_weight` was `d1.3.h.conv1.weight`, and so on; transitions
    (t1.bottleneck) were t1.t's bn1 / conv1 likewise."""
    owner, _, leaf = name.rpartition(".")
    if owner.endswith(".bottleneck"):
        return plain_params[f"{owner[:-len('.bottleneck')]}.{RENAMED[leaf]}"].grad
    return plain_params[name].grad


def _bottlenecks(gm):
    return [m for m in gm.modules() if isinstance(m, DenseBottleneck)]


def test_pattern_is_gone():
    plain, fused = fused_pair(small_spec("densenet_bc_100"), ["checkpoint_dense"])
    assert len(_bottlenecks(fused)) == 3 * 16 - 3 + 2  # layers after the first + transitions
    code = fused.code
    # left: the first layer of each block (no concatenation) and the head (no conv)
    assert code.count(".h.bn1(") == 3 and ".t.bn1(" not in code and "head.bn1(" in code
    _, fused = fused_pair(small_spec("densenet_bc_100"), ["merge_nary", "checkpoint_dense"])
    assert len(_bottlenecks(fused)) == 3 * 16 - 3 + 2
    from linkc.compiler import functional
    views = (functional.dense_start, functional.dense_append)
    inputs = [n.args for n in fused.graph.nodes if n.op == "call_module"
              and n.target.endswith("bottleneck")]
    assert all(len(a) == 1 and a[0].target in views for a in inputs)  # one buffer view each


@pytest.mark.parametrize("passes", [["checkpoint_dense"], ["merge_nary", "checkpoint_dense"]])
def test_outputs_gradients_and_statistics_match(passes):
    plain, fused = fused_pair(small_spec("densenet_bc_100"), passes)
    assert_training_matches(plain, fused, grads_of)
    # running statistics were updated once (not again by the recomputation)
    for name, module in fused.named_modules():
        if isinstance(module, DenseBottleneck):
            bn = plain.get_submodule(name.rpartition(".")[0] + ".bn1")
            torch.testing.assert_close(module.running_mean, bn.running_mean)
            torch.testing.assert_close(module.running_var, bn.running_var)
            assert int(module.num_batches_tracked) == int(bn.num_batches_tracked) == 1
    assert_outputs_match(plain, fused)


def test_checkpoint_really_recomputes():
    plain, fused = fused_pair(small_spec("densenet_bc_100"), ["checkpoint_dense"])
    saved = {}
    for name, gm in (("plain", plain), ("fused", fused)):
        gm.train()
        count = [0]

        def pack(t, count=count):
            count[0] += t.numel()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            gm(torch.randn(2, 3, 8, 8)).sum().backward()
        saved[name] = count[0]
    assert saved["fused"] < 0.6 * saved["plain"]


@pytest.mark.parametrize("spec", ["resnet_110", "dmrnet_cifar"])
def test_nets_without_dense_layers_are_left_alone(spec):
    plain, fused = fused_pair(small_spec(spec), ["checkpoint_dense"])
    assert fused.code == plain.code


def test_bn_relu_3x3_after_concat_is_left_alone():
    spec = """
linkc: 1
name: cat-3x3
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: a, ops: [{conv: [4, 3]}]}
  c: {from: [a, b], merge: concat, ops: [bn, relu, {conv: [4, 3]}, gap, {linear: 2}]}
output: c
"""
    plain, fused = fused_pair(spec, ["checkpoint_dense"])
    assert fused.code == plain.code
