"""merge_nary, the pair of merge_chains (binary merge chains -> n-ary merges, bit for
bit) and dense_buffer (dense concatenations -> one buffer)."""

import pytest
import torch

from linkc.compiler import functional
from pass_helpers import assert_outputs_match, assert_training_matches, batch, fused_pair, \
    same_names, small_spec

CHAIN = """
linkc: 1
name: chain
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: input, ops: [{conv: [4, 1]}]}
  c: {from: input, ops: [{conv: [4, 3]}, relu]}
  s: {from: [a, b], merge: add}
  t: {from: [s, c], merge: add}
  u: {from: [t, a], merge: concat}
  v: {from: [u, b], merge: concat, ops: [bn, relu, gap, {linear: 3}]}
output: v
"""


def _calls(gm, fn):
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target is fn]


def test_pattern_is_gone():
    plain, fused = fused_pair(CHAIN, ["merge_nary"])
    assert [len(n.args) for n in _calls(fused, functional.add)] == [3]
    assert [len(n.args) for n in _calls(fused, functional.concat)] == [3]  # concat(t, a, b)
    plain, fused = fused_pair(small_spec("densenet_bc_100"), ["merge_nary"])
    assert len(_calls(plain, functional.concat)) == 3 * 16
    assert _calls(fused, functional.concat) == []  # every dense concatenation is a view
    assert len(_calls(fused, functional.dense_start)) == 3
    assert len(_calls(fused, functional.dense_append)) == 3 * 16


@pytest.mark.parametrize("spec", ["densenet_bc_100", "dmrnet_cifar", "chain"])
def test_outputs_and_gradients_match(spec):
    plain, fused = fused_pair(CHAIN if spec == "chain" else small_spec(spec), ["merge_nary"])
    assert_outputs_match(plain, fused)
    assert_training_matches(plain, fused, same_names)


NEAR_MISS = """
linkc: 1
name: near-miss
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: input, ops: [{conv: [4, 1]}]}
  s: {from: [a, b], merge: add, ops: [relu]}
  t: {from: [s, a], merge: add}
  p: {from: [a, b], merge: concat}
  q: {from: [b, a], merge: concat}
  r: {from: [p, q], merge: mean}
  o: {from: [r, t], merge: concat, ops: [gap, {linear: 3}]}
output: o
"""


def test_unrelated_merges_are_left_alone():
    # s has an op after the merge (no chain), p and q are not prefixes of one another
    plain, fused = fused_pair(NEAR_MISS, ["merge_nary"])
    assert fused.code == plain.code


ORDER = """
linkc: 1
name: order
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: input, ops: [{conv: [4, 1]}]}
  c: {from: input, ops: [{conv: [4, 3]}, relu]}
  s: {from: [a, b], merge: add}
  t: {from: [c, s], merge: add}
  u: {from: [t, c], merge: add, ops: [gap, {linear: 3}]}
output: u
"""


def test_a_chain_is_spliced_only_where_the_sum_keeps_its_order():
    # t = c + (a + b): add(c, a, b) would compute (c + a) + b, another rounding; u = t + c
    # is t's left-to-right continuation, so add(c, s, c) is the same sum
    plain, fused = fused_pair(ORDER, ["merge_chains"])
    assert [[a.name for a in n.args] for n in _calls(fused, functional.add)] == \
        [["a_conv1", "b_conv1"], ["c_relu1", "s", "c_relu1"]]
    x = batch(plain, 4)
    plain.eval(), fused.eval()
    assert torch.equal(fused(x), plain(x))
    xs = [x.clone().requires_grad_() for _ in range(2)]
    plain.train(), fused.train()
    plain(xs[0]).sum().backward()
    fused(xs[1]).sum().backward()
    assert torch.equal(xs[1].grad, xs[0].grad)


def test_each_half_alone():
    plain, chains = fused_pair(small_spec("densenet_bc_100"), ["merge_chains"])
    assert chains.code == plain.code  # no binary chains in DenseNet: nothing to splice
    _, buffer = fused_pair(CHAIN, ["dense_buffer"])
    assert [len(n.args) for n in _calls(buffer, functional.add)] == [2, 2]


TWO_BLOCKS = """
linkc: 1
name: two-blocks
input: [3, 8, 8]
nodes:
  d1: {from: input, repeat: 3, connect: dense, merge: concat, ops: [bn, {conv: [2, 1]}]}
  d2: {from: d1, repeat: 2, connect: dense, merge: concat, ops: [bn, {conv: [1, 1]}]}
  head: {from: d2, ops: [gap, {linear: 2}]}
output: head
"""


def test_a_dense_block_reading_the_one_before_gets_its_own_buffer():
    # found by the fuzz campaign's passes target: the second block's first input is the
    # first block's last view, which the positions taken before any rewrite did not know
    plain, fused = fused_pair(TWO_BLOCKS, ["dense_buffer"])
    assert len(_calls(fused, functional.dense_start)) == 2
    assert _calls(fused, functional.concat) == []
    assert_outputs_match(plain, fused)
