"""fold_bn: conv -> BN becomes one conv with a bias, at inference."""

import pytest
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
