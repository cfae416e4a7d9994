"""List params, `if:` with fallbacks, `repeat: 0`, ops after a block, empty channel
slices and overrides: the flat graph and shapes they give (no torch needed)."""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError, build

HEAD = "linkc: 1\nname: t\n"

# A basic residual block that adds its projection only where the shape changes,
# in one body; widths and strides come from a per-stage table.
RESNET = HEAD + """
params: {stages: [[8, 1, 2], [16, 2, 2], [32, 2, 1]]}
input: [8, 16, 16]
blocks:
  basic:
    params: [c, stride]
    in: x
    nodes:
      f: {from: x, ops: [{conv: {out: c, stride: stride}}, bn, relu, {conv: c}, bn]}
      proj: {if: "stride != 1 or channels(x) != c", from: x,
             ops: [{conv: {out: c, k: 1, stride: stride}}, bn]}
      y: {from: [f, {ref: proj, else: x}], merge: add, ops: [relu]}
    out: y
  stage:
    params: [cfg]
    in: x
    nodes:
      b: {from: x, repeat: "cfg[2]", block: basic,
          args: {c: "cfg[0]", stride: "cfg[1] if i == 0 else 1"}}
    out: b
nodes:
  s: {from: input, repeat: len(stages), block: stage, args: {cfg: "stages[i]"}}
  head: {from: s, ops: [gap]}
output: head
"""


def test_list_params_drive_repeats_and_args():
    g = build(RESNET)
    blocks = sorted({n.rsplit(".", 1)[0] for n in g.order if n.endswith(".y")})
    assert blocks == ["s.0.b.0", "s.0.b.1", "s.1.b.0", "s.1.b.1", "s.2.b.0"]
    assert g.nodes["s.1.b.0.y"].shape == (16, 8, 8)
    assert g.nodes["s.2.b.0.y"].shape == (32, 4, 4)


def test_if_adds_the_projection_only_where_the_shape_changes():
    g = build(RESNET)
    projections = [n for n in g.order if n.endswith(".proj")]
    assert projections == ["s.1.b.0.proj", "s.2.b.0.proj"]
    # where the projection does not exist, the fallback (the block's input) is added
    assert [x.src for x in g.nodes["s.0.b.1.y"].inputs] == ["s.0.b.1.f", "s.0.b.0.y"]
    assert [x.src for x in g.nodes["s.1.b.0.y"].inputs] == ["s.1.b.0.f", "s.1.b.0.proj"]
    assert g.nodes["s.0.b.0.proj"].absent and "s.0.b.0.proj" not in g.order


def test_optional_reference_to_an_absent_node_is_dropped():
    g = build(HEAD + """
params: {aux: 0}
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [relu]}
  b: {if: aux, from: input, ops: [tanh]}
  c: {from: [a, {ref: b, optional: true}], merge: add}
output: c
""")
    assert [x.src for x in g.nodes["c"].inputs] == ["a"]
    assert g.order == ["a", "c"]


def test_if_on_a_block_node_removes_the_whole_instance():
    text = HEAD + """
params: {deep: 0}
input: [4, 8, 8]
blocks:
  two: {in: x, nodes: {p: {from: x, ops: [relu]}, q: {from: p, ops: [tanh]}}, out: q}
nodes:
  t: {if: deep, from: input, block: two}
  o: {from: {ref: t, else: input}, ops: [gap]}
output: o
"""
    assert build(text).order == ["o"]
    assert build(text, {"deep": 1}).order == ["t.p", "t.q", "o"]


def test_repeat_zero_passes_the_input_through():
    g = build(HEAD + """
params: {n_layers: 0}
input: [4, 8, 8]
blocks:
  layer: {in: x, nodes: {h: {from: x, ops: [{conv: [2, 3]}]}}, out: h}
nodes:
  chain: {from: input, repeat: n_layers, ops: [relu]}
  dense: {from: chain, repeat: n_layers, block: layer, connect: dense}
  out: {from: dense, ops: [gap]}
output: out
""")
    assert g.nodes["out"].shape == (4,)
    assert sum(len(g.nodes[n].ops) for n in g.order) == 1


def test_ops_after_a_block_apply_to_its_output_in_each_instance():
    g = build(HEAD + """
input: [4, 8, 8]
blocks:
  body: {in: x, nodes: {h: {from: x, ops: [{conv: [6, 3]}]}}, out: h}
nodes:
  a: {from: input, block: body, ops: [bn, relu]}
  r: {from: a, repeat: 2, block: body, ops: [{maxpool: 2}]}
output: r
""")
    assert [x.src for x in g.nodes["a"].inputs] == ["a.h"]
    assert [c.name for c in g.nodes["a"].ops] == ["bn1", "relu1"]
    assert g.nodes["r.1.x"].inputs[0].src == "r.0"  # instance 1 reads 0 after its ops
    assert g.output == "r.1" and g.nodes["r.1"].shape == (6, 2, 2)


def test_empty_slices_are_dropped_from_a_concat():
    # a generic mixed-link block: instance 0 takes no channels from the shared stream
    g = build(HEAD + """
params: {k: 3}
input: [4, 8, 8]
blocks:
  mix:
    in: x
    nodes:
      s: {from: x, ops: [{conv: [k, 1]}]}
      y: {from: [x, "s[0:min(i, 1)*k]"], merge: concat}
    out: y
nodes:
  m: {from: input, repeat: 3, block: mix}
output: m
""")
    assert [x.src for x in g.nodes["m.2.y"].inputs] == ["m.1.y", "m.2.s"]
    assert [x.label for x in g.nodes["m.2.y"].inputs] == ["x", "s[0:min(i, 1)*k]"]
    assert g.nodes["m.2.y"].shape == (4 + 3 + 3, 8, 8)
    assert "m.0.s" not in g.order  # it fed only an empty slice


def test_overrides_are_checked_like_the_spec_params():
    g = build(RESNET, {"stages": [[8, 1, 1], [8, 1, 1]]})
    assert g.nodes["head"].shape == (8,) and not any(n.endswith(".proj") for n in g.order)
    with pytest.raises(SpecError) as err:
        build(RESNET, {"stage": [[8, 1, 1]]})
    assert err.value.hint == "did you mean 'stages'?"
    with pytest.raises(SpecError) as err:
        build(RESNET, {"stages": [[8, 1, 1], {"c": 1}]})
    assert "must be a number, an expression or a list of them" in err.value.message


def test_expression_in_an_override_is_located_in_the_override():
    from linkc.spec.overrides import parse_sets

    with pytest.raises(SpecError) as err:
        build(RESNET, parse_sets(["stages=[[8, 1, 1], [width, 1, 1]]"]))
    assert str(err.value).splitlines()[0] == "--set:1:8: error: unknown name 'width'"
