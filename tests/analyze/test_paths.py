"""Path statistics reproduce the seeds' structural claims (dynamic programming, exact ints).

Path length = number of weighted layers (conv, linear) on a path from the input to
the output; every entry of a node's `from` list is its own edge.
"""

from fractions import Fraction
from math import comb

import pytest

from linkc.analyze import path_stats
from linkc.frontend import build

# Seed 003 networks without width changes (its formulas leave projections out):
# conv0, then blocks whose residual branches have B convs, then GAP and FC.
HEAD = """
linkc: 1
name: {name}
params: {{B: {B}, blocks: {blocks}}}
input: [4, 8, 8]
"""
BRANCH = "ops: [{conv: [4, 3]}, bn, relu, {conv: [4, 3]}, bn]"


def _branch(B: int) -> str:
    return "[" + ", ".join(["{conv: [4, 3]}, bn, relu"] * B) + "]"


def resnet(B, blocks):
    return HEAD.format(name="resnet", B=B, blocks=blocks) + f"""
blocks:
  res:
    in: x
    nodes:
      h: {{from: x, ops: {_branch(B)}}}
      y: {{from: [x, h], merge: add}}
    out: y
nodes:
  conv0: {{from: input, ops: [{{conv: [4, 3]}}]}}
  body: {{from: conv0, repeat: blocks, block: res}}
  head: {{from: body, ops: [gap, {{linear: 3}}]}}
output: head
"""


def dilnet(B, blocks):
    return HEAD.format(name="dilnet", B=B, blocks=blocks) + f"""
blocks:
  il:
    in: x
    nodes:
      ha: {{from: x, ops: {_branch(B)}}}
      hb: {{from: x, ops: {_branch(B)}}}
      y: {{from: [x, ha, hb], merge: add}}
    out: y
nodes:
  conv0: {{from: input, ops: [{{conv: [4, 3]}}]}}
  body: {{from: conv0, repeat: blocks, block: il}}
  head: {{from: body, ops: [gap, {{linear: 3}}]}}
output: head
"""


def dmrnet(B, blocks):
    return HEAD.format(name="dmrnet", B=B, blocks=blocks) + f"""
blocks:
  mr:
    in: [a, b]
    nodes:
      ha: {{from: a, ops: {_branch(B)}}}
      hb: {{from: b, ops: {_branch(B)}}}
      m: {{from: [a, b], merge: mean}}
      ya: {{from: [ha, m], merge: add}}
      yb: {{from: [hb, m], merge: add}}
    out: [ya, yb]
nodes:
  conv0: {{from: input, ops: [{{conv: [4, 3]}}]}}
  body: {{from: [conv0, conv0], repeat: blocks, block: mr}}
  avg: {{from: [body.ya, body.yb], merge: mean}}
  head: {{from: avg, ops: [gap, {{linear: 3}}]}}
output: head
"""


@pytest.mark.parametrize("B,L", [(2, 3), (2, 6), (3, 4), (1, 5)])
def test_seed003_average_path_lengths(B, L):
    """Seed 003 Sec. 3.2: with 2L, L and L building blocks of B-layer branches, the
    average path lengths are BL + 2, (2B/3)L + 2 and (B/3)L + 2 (conv0 and FC: +2)."""
    res = path_stats(build(resnet(B, 2 * L)))
    dil = path_stats(build(dilnet(B, L)))
    dmr = path_stats(build(dmrnet(B, L)))
    assert res.mean == B * L + 2
    assert dil.mean == Fraction(2 * B, 3) * L + 2
    assert dmr.mean == Fraction(B, 3) * L + 2
    # counts: 2^(2L) ResNet paths, 3^L DILNet paths, 2*3^L DMRNet paths (two streams in)
    assert (res.total, dil.total, dmr.total) == (4 ** L, 3 ** L, 2 * 3 ** L)
    assert res.shortest == dil.shortest == dmr.shortest == 2
    assert res.longest == 2 * L * B + 2 and dil.longest == dmr.longest == L * B + 2


def test_seed003_intro_example():
    """Intro: two residual blocks average 2, an inception-like block 4/3, a
    merge-and-run block 2/3 (B = 2; minus conv0 and FC)."""
    assert path_stats(build(resnet(2, 2))).mean - 2 == 2
    assert path_stats(build(dilnet(2, 1))).mean - 2 == Fraction(4, 3)
    assert path_stats(build(dmrnet(2, 1))).mean - 2 == Fraction(2, 3)


def chain(n, s_variant):
    """n residual blocks with one conv per branch (W_l), no stem or head, so a path's
    length is the number of residual branches it goes through."""
    y = ("{from: [x, f, {ref: prev.f, weight: -1, optional: true}], merge: wsum}" if s_variant
         else "{from: [x, f], merge: add}")
    return f"""
linkc: 1
name: chain
input: [4, 8, 8]
blocks:
  blk:
    in: x
    nodes:
      f: {{from: x, ops: [{{conv: [4, 3]}}]}}
      y: {y}
    out: y
nodes:
  body: {{from: input, repeat: {n}, block: blk}}
output: body
"""


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_seed002_resnet_paths_per_length(n):
    """Seed 002 Eq. 11: prod(1 + W) over n blocks has C(n, k) paths through k blocks."""
    stats = path_stats(build(chain(n, s_variant=False)))
    assert stats.counts == {k: comb(n, k) for k in range(n + 1)}
    assert stats.signed == stats.counts


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_seed002_resnet_s_one_path_per_length(n):
    """Seed 002 Eq. 12: X_L = (1+W_L)X_{L-1} - W_{L-1}X_{L-2}, X_1 = (1+W_1)X_0 has
    exactly one path of each length 0..n. What is counted: signed paths, each the
    product of its wsum weights (+1, or -1 through the subtracted term), summed per
    length; the DAG itself has more (unsigned) paths, which cancel in pairs."""
    stats = path_stats(build(chain(n, s_variant=True)))
    assert stats.signed == {k: 1 for k in range(n + 1)}
    if n > 1:
        assert stats.total > n + 1  # structurally more, cancelling to one per length


def mixed(n, merge):
    """Seed 000's dense topology with only the inner link (add: ResNet) or only the
    outer link (concat: DenseNet), n layers of one conv each."""
    if merge == "add":
        body = "{from: input, repeat: %d, block: layer}" % n
        block = "h: {from: s, ops: [{conv: [4, 3]}]}\n      y: {from: [s, h], merge: add}"
        out = "y"
    else:
        body = "{from: input, repeat: %d, block: layer, connect: dense}" % n
        block = "y: {from: s, ops: [{conv: [4, 3]}]}"
        out = "y"
    return f"""
linkc: 1
name: {merge}
input: [4, 8, 8]
blocks:
  layer:
    in: s
    nodes:
      {block}
    out: {out}
nodes:
  body: {body}
output: body
"""


@pytest.mark.parametrize("n", [3, 8, 16])
def test_seed000_resnet_and_densenet_are_the_two_extremes(n):
    """Seed 000: ResNet (inner link, +) and DenseNet (outer link, ‖) come from the same
    dense topology and differ only in the connection: their path counts per length are
    identical, C(n, k), while their widths differ (n*4 + 4 channels against 4)."""
    res_g, dense_g = build(mixed(n, "add")), build(mixed(n, "concat"))
    res, dense = path_stats(res_g), path_stats(dense_g)
    side_by_side = {k: (res.counts.get(k, 0), dense.counts.get(k, 0)) for k in range(n + 1)}
    print(f"n={n} length: (ResNet, DenseNet) paths", side_by_side)
    assert res.counts == dense.counts == {k: comb(n, k) for k in range(n + 1)}
    assert res_g.nodes[res_g.output].shape[0] == 4
    assert dense_g.nodes[dense_g.output].shape[0] == 4 * (n + 1)


def test_zoo_densenet_and_resnet_path_counts_side_by_side(tmp_path):
    """On real specs: DenseNet-BC-100 has 2^48 paths (48 dense layers, each on or off
    the path), ResNet-110 2^54; Python ints, no enumeration."""
    from tests.conftest import SPECS

    dense = path_stats(build(SPECS / "densenet_bc_100.yaml"))
    res = path_stats(build(SPECS / "resnet_110.yaml"))
    print("DenseNet-BC-100", dense.total, float(dense.mean), "ResNet-110", res.total,
          float(res.mean))
    assert dense.total == 2 ** 48 and res.total == 2 ** 54
    # each BC layer has 2 convs; stem, 2 transitions and FC are on every path
    assert dense.counts == {4 + 2 * k: comb(48, k) for k in range(49)}
    assert res.counts == {2 + 2 * k: comb(54, k) for k in range(55)}


HALF = """
linkc: 1
name: half
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}]}
  b: {from: a, ops: [{conv: [4, 3]}]}
  y: {from: [{ref: input, weight: 0.5}, {ref: a, weight: -0.1}, b], merge: wsum}
output: y
"""


def test_signed_counts_under_fractional_weights_are_exact_fractions(tmp_path, capsys):
    # found by the CLI fuzzer: `weight: 0.5` made `linkc analyze` an internal error
    stats = path_stats(build(HALF))
    assert stats.counts == {0: 1, 1: 1, 2: 1}
    assert stats.signed == {0: Fraction(1, 2), 1: Fraction(-1, 10), 2: 1}
    assert stats.as_dict()["signed_counts"] == {"0": "1/2", "1": "-1/10", "2": 1}
    import json

    from linkc.cli import main

    spec = tmp_path / "half.yaml"
    spec.write_text(HALF)
    assert main(["analyze", str(spec), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["paths"]["signed_counts"] == \
        {"0": "1/2", "1": "-1/10", "2": 1}
    assert main(["analyze", str(spec)]) == 0
    assert main(["analyze", str(spec), "--derivative"]) == 0
    assert "signed by the wsum weights: 0: 1/2, 1: -1/10, 2: 1" in capsys.readouterr().out
