"""group_parallel: sibling convs -> one conv + split; parallel branches -> grouped convs."""

import pytest
from torch import nn

from pass_helpers import assert_outputs_match, assert_training_matches, fused_pair, small_spec

MERGE_AND_RUN = """
linkc: 1
name: mr-tiny
input: [3, 8, 8]
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  a: {from: stem, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: stem, ops: [{conv: [8, 3]}, bn, relu]}
  m: {from: [a, b], merge: mean}
  h1: {from: a, ops: [{conv: [8, 3]}, bn, relu, {conv: [8, 3]}, bn]}
  h2: {from: b, ops: [{conv: [8, 3]}, bn, relu, {conv: [8, 3]}, bn]}
  y1: {from: [h1, m], merge: add, ops: [relu]}
  y2: {from: [h2, m], merge: add, ops: [relu]}
  head: {from: [y1, y2], merge: add, ops: [gap, {linear: 10}]}
output: head
"""


def _convs(gm):
    return [m for m in gm.modules() if isinstance(m, nn.Conv2d)]


def _grads_by_value(name, plain_params):
    """Grouped parameters are the originals stacked: compare by concatenation."""
    import torch
    if "_grouped" not in name:
        return plain_params[name].grad
    owner, _, leaf = name.rpartition(".")
    first = owner.replace("_grouped", "")
    mates = {"a.conv1": ["a.conv1", "b.conv1"], "h1.conv1": ["h1.conv1", "h2.conv1"],
             "h1.bn1": ["h1.bn1", "h2.bn1"], "h1.conv2": ["h1.conv2", "h2.conv2"],
             "h1.bn2": ["h1.bn2", "h2.bn2"]}[first]
    return torch.cat([plain_params[f"{m}.{leaf}"].grad for m in mates])


def test_pattern_is_gone():
    plain, fused = fused_pair(MERGE_AND_RUN, ["group_parallel"])
    assert len(_convs(plain)) == 7
    convs = _convs(fused)
    assert len(convs) == 4  # stem, siblings a+b, and the two grouped branch convs
    assert sorted(c.groups for c in convs) == [1, 1, 2, 2]
    readers = {}
    for n in fused.graph.nodes:
        if n.op == "call_module" and isinstance(fused.get_submodule(n.target), nn.Conv2d):
            readers.setdefault(n.args[0], []).append(n)
    assert all(len(v) == 1 for v in readers.values())  # no two convs read one tensor


@pytest.mark.parametrize("spec", ["mr", "dmrnet_cifar"])
def test_outputs_and_gradients_match(spec):
    plain, fused = fused_pair(MERGE_AND_RUN if spec == "mr" else small_spec(spec),
                              ["group_parallel"])
    assert len(_convs(fused)) < len(_convs(plain))
    assert_outputs_match(plain, fused)
    if spec == "mr":
        assert_training_matches(plain, fused, _grads_by_value)


def test_sequential_and_mismatched_convs_are_left_alone():
    spec = """
linkc: 1
name: near-miss
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}]}
  b: {from: input, ops: [{conv: [8, 1]}]}
  c: {from: input, ops: [{conv: {out: 8, k: 3, stride: 2}}]}
  d: {from: [a, b], merge: add, ops: [{conv: [8, 3]}, gap]}
  e: {from: c, ops: [gap]}
  o: {from: [d, e], merge: add, ops: [{linear: 2}]}
output: o
"""
    for text in (spec, small_spec("resnet_110")):
        plain, fused = fused_pair(text, ["group_parallel"])
        assert fused.code == plain.code
