"""fold_bn: conv -> BN becomes one conv with a bias, at inference."""

import pytest
import torch
from torch import nn

from linkc.compiler.passes import PassError, run_passes
import linkc
from pass_helpers import assert_outputs_match, fused_pair, small_spec


def _conv_bn_edges(gm):
    modules = dict(gm.named_modules())
    return [n for n in gm.graph.nodes if n.op == "call_module"
            and isinstance(modules[n.target], nn.BatchNorm2d)
            and n.args[0].op == "call_module"
            and isinstance(modules[n.args[0].target], nn.Conv2d)
            and len(n.args[0].users) == 1]


def test_pattern_is_gone():
    plain, fused = fused_pair(small_spec("resnet_110"), ["fold_bn"], mode="infer")
    assert len(_conv_bn_edges(plain)) == 1 + 2 * 54  # stem + two per basic block
    assert _conv_bn_edges(fused) == []
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert all(m.bias is not None for m in fused.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("spec", ["resnet_110", "densenet_bc_100", "dmrnet_cifar"])
def test_outputs_match(spec):
    plain, fused = fused_pair(small_spec(spec), ["fold_bn"], mode="infer")
    assert_outputs_match(plain, fused)


NEAR_MISS = """
linkc: 1
name: two-readers
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}]}
  b: {from: a, ops: [bn, relu]}
  c: {from: [a, b], merge: concat, ops: [gap, {linear: 4}]}
output: c
"""


def test_conv_with_two_readers_is_left_alone():
    plain, fused = fused_pair(NEAR_MISS, ["fold_bn"], mode="infer")
    assert fused.code == plain.code
    assert any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    with pytest.raises(PassError, match="not valid in train mode"):
        run_passes(linkc.compile(NEAR_MISS), ["fold_bn"], mode="train")


# Found by the fuzz campaign's passes target: the second BN folded into the conv as it
# was before the first fold (a stale module table), so the first BN vanished: outputs
# 0.139 off
TWO_BNS = """
linkc: 1
name: two-bns
input: [1, 4, 4]
nodes:
  a: {from: input, ops: [{conv: [5, 1]}, bn, {bn: {eps: 0.001}}, gap, {linear: 2}]}
output: a
"""


def test_two_bns_in_a_row_both_fold_into_the_conv():
    torch.manual_seed(0)
    gm = linkc.compile(TWO_BNS).eval()
    for bn in (m for m in gm.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2), bn.bias.data.uniform_(-1, 1)
    x = torch.randn(3, 1, 4, 4)
    with torch.no_grad():
        want = gm(x)
    fused = run_passes(gm, ["fold_bn"], mode="infer")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():  # fp32: the folded weights round differently, ~1e-7
        torch.testing.assert_close(fused(x), want, rtol=1e-5, atol=1e-6)
