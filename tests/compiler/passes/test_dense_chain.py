"""dense_chain: each dense concatenation reads the previous one, cat(prev, new)."""

import pytest

from linkc.compiler import functional
from linkc.compiler.passes.checkpoint_dense import DenseBottleneck
from pass_helpers import assert_outputs_match, assert_training_matches, fused_pair, same_names, \
    small_spec

# b and c read a prefix of d's inputs; e's inputs are not a prefix of anything (b, a)
GAPS = """
linkc: 1
name: gaps
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  h1: {from: a, ops: [relu, {conv: [2, 3]}]}
  h2: {from: a, ops: [tanh, {conv: [2, 3]}]}
  h3: {from: a, ops: [sigmoid, {conv: [2, 3]}]}
  b: {from: [a, h1], merge: concat}
  c: {from: [a, h1, h2, h3], merge: concat}
  e: {from: [h1, a], merge: concat}
  o: {from: [b, c, e], merge: concat, ops: [gap, {linear: 3}]}
output: o
"""


def _concats(gm):
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target is functional.concat]


def test_each_concatenation_reads_the_longest_earlier_prefix():
    plain, fused = fused_pair(GAPS, ["dense_chain"])
    args = {n.name: [str(a) for a in n.args] for n in _concats(fused)}
    assert args["c"] == ["b", "h2_conv1", "h3_conv1"]  # the prefix (a, h1) is b
    assert args["e"] == ["h1_conv1", "a_conv1"]  # no concatenation computes a prefix of it
    plain, fused = fused_pair(small_spec("densenet_bc_100"), ["dense_chain"])
    assert sorted({len(n.args) for n in _concats(plain)}) == list(range(2, 18))
    assert {len(n.args) for n in _concats(fused)} == {2}  # every one: cat(previous, new)


@pytest.mark.parametrize("spec", ["densenet_bc_100", "mixnet", "gaps"])
def test_outputs_and_gradients_match(spec):
    plain, fused = fused_pair(GAPS if spec == "gaps" else small_spec(spec), ["dense_chain"])
    assert_outputs_match(plain, fused, atol=0, rtol=0)  # a concatenation only copies
    assert_training_matches(plain, fused, same_names)


def test_it_leaves_what_merge_nary_and_checkpoint_dense_took_alone():
    spec = small_spec("densenet_bc_100")
    for first in (["merge_nary"], ["checkpoint_dense"]):
        _, before = fused_pair(spec, first)
        _, after = fused_pair(spec, [*first, "dense_chain"])
        assert after.code == before.code, first
    # checkpoint_dense still recomputes each layer's concatenation inside its checkpoint
    _, fused = fused_pair(spec, ["checkpoint_dense", "dense_chain"])
    bottlenecks = [n for n in fused.graph.nodes if n.op == "call_module"
                   and isinstance(fused.get_submodule(n.target), DenseBottleneck)]
    assert len(bottlenecks) == 47 and all(len(n.args) >= 2 for n in bottlenecks)

