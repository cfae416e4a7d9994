"""channels_last: parameters and the input in NHWC memory format."""

import pytest
import torch

from pass_helpers import assert_outputs_match, assert_training_matches, batch, fused_pair, \
    same_names, small_spec


def test_pattern_is_gone():
    plain, fused = fused_pair(small_spec("densenet_bc_100"), ["channels_last"])
    four_d = [p for p in fused.parameters() if p.dim() == 4]
    assert four_d and all(p.is_contiguous(memory_format=torch.channels_last) for p in four_d)
    assert any(not p.is_contiguous() for p in four_d)  # 1x1 kernels are both
    assert "memory_format = torch.channels_last" in fused.code
    first = next(n for n in fused.graph.nodes if n.op != "placeholder")
    assert first.op == "call_method" and first.target == "contiguous"


@pytest.mark.parametrize("spec", ["resnet_110", "densenet_bc_100", "dmrnet_cifar"])
def test_outputs_and_gradients_match(spec):
    plain, fused = fused_pair(small_spec(spec), ["channels_last"])
    assert_outputs_match(plain, fused)
    assert_training_matches(plain, fused, same_names)


VECTOR = """
linkc: 1
name: mlp
input: [16]
nodes:
  h: {from: input, ops: [{linear: 8}, relu, {linear: 4}]}
output: h
"""


def test_vector_input_is_left_alone():
    plain, fused = fused_pair(VECTOR, ["channels_last"])
    assert fused.code == plain.code
