"""The spec language: references, blocks, ports, repeats, expressions and op forms.

These tests need no torch: they check the expanded flat graph and its shapes.
"""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError, build
from linkc.expand.as_text import expanded_yaml, op_text

HEAD = "linkc: 1\nname: t\n"


def spec(body: str, input_shape="[16, 8, 8]") -> str:
    return HEAD + f"input: {input_shape}\n" + body


def test_op_forms_are_equivalent():
    g = build(spec("""
nodes:
  a: {from: input, ops: [{conv: 32}, {conv: [32, 1]}, {conv: {out: 32, k: 3, stride: 2}}]}
  b:
    from: input
    ops:
      - conv(32)
      - conv(32, 1)
      - "conv(32, 3, stride=2)"
  c: {from: [a, b], merge: concat}
output: c
"""))
    texts = [op_text(c) for c in g.nodes["b"].ops]
    assert texts == ["conv(32)", "conv(32, 1)", "conv(32, stride=2)"]
    assert [op_text(c) for c in g.nodes["a"].ops] == texts
    assert g.nodes["a"].shape == g.nodes["b"].shape == (32, 4, 4)


def test_unreachable_node_is_a_warning_and_left_out():
    g = build(spec("""
nodes:
  a: {from: input, ops: [relu]}
  unused: {from: input, ops: [{conv: [8, 1]}]}
output: a
"""))
    assert g.order == ["a"]
    [warning] = g.diagnostics.warnings
    assert str(warning) == "<spec>:7:3: warning: node 'unused' does not reach the output 'a' " \
        "(it is left out of the model)"


def test_dense_repeat_concatenates_from_and_all_instances():
    g = build(spec("""
params: {k: 4}
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [relu, {conv: [k, 3]}]}
    out: h
nodes:
  d: {from: input, repeat: 3, block: layer, connect: dense}
output: d
"""))
    assert [x.src for x in g.nodes["d.2.x"].inputs] == ["input", "d.0.h", "d.1.h"]
    assert "d.0.x" not in g.nodes  # a merge over one input is that input
    assert [x.src for x in g.nodes["d"].inputs] == ["input", "d.0.h", "d.1.h", "d.2.h"]
    assert g.nodes["d"].shape == (16 + 3 * 4, 8, 8)


def test_chain_repeat_uses_i_and_n_and_channels():
    g = build(spec("""
blocks:
  widen:
    params: [w]
    in: x
    nodes:
      y: {from: x, ops: [{conv: [w, 3]}]}
    out: y
nodes:
  p: {from: input, repeat: 4, block: widen, args: {w: "channels(input) + 2 * (i + 1)"}}
  q: {from: p, ops: [{conv: ["channels(p) * n", 1]}], repeat: 2}
output: q
"""))
    assert [g.nodes[f"p.{i}.y"].shape[0] for i in range(4)] == [18, 20, 22, 24]
    assert g.nodes["q.1"].shape[0] == 24 * 2  # q.0 has 48, q.1 reads channels(p) = 24


def test_multi_port_blocks_and_node_port_references():
    g = build(spec("""
blocks:
  mr:
    in: [x1, x2]
    nodes:
      m: {from: [x1, x2], merge: mean}
      f1: {from: x1, ops: [relu, {conv: [16, 3]}]}
      f2: {from: x2, ops: [relu, {conv: [16, 3]}]}
      y1: {from: [m, f1], merge: add}
      y2: {from: [m, f2], merge: add}
    out: [y1, y2]
nodes:
  s: {from: input, ops: [{conv: [16, 3]}]}
  r: {from: [s, s], repeat: 2, block: mr}
  o: {from: [r.y1, r.y2], merge: +}
output: o
"""))
    assert [x.src for x in g.nodes["r.1.m"].inputs] == ["r.0.y1", "r.0.y2"]
    assert [x.src for x in g.nodes["o"].inputs] == ["r.1.y1", "r.1.y2"]
    assert [x.src for x in g.nodes["r.0.m"].inputs] == ["s", "s"]


def test_dotted_paths_into_instances_and_negative_index():
    g = build(spec("""
blocks:
  u:
    in: x
    nodes:
      h: {from: x, ops: [relu]}
    out: h
nodes:
  r: {from: input, repeat: 3, block: u}
  o: {from: [r.0.h, r.-1.h, r.1], merge: add}
output: o
"""))
    assert [x.src for x in g.nodes["o"].inputs] == ["r.0.h", "r.2.h", "r.1.h"]


def test_prev_optional_is_dropped_in_first_instance_only():
    g = build(spec("""
blocks:
  unit:
    in: x
    nodes:
      f: {from: x, ops: [{conv: [16, 3]}]}
      y: {from: [x, f, {ref: prev.f, weight: -1, optional: true}], merge: wsum}
    out: y
nodes:
  r: {from: input, repeat: 3, block: unit}
output: r
"""))
    assert [x.src for x in g.nodes["r.0.y"].inputs] == ["r.0.x"] or \
        [x.src for x in g.nodes["r.0.y"].inputs] == ["input", "r.0.f"]
    assert [(x.src, x.weight) for x in g.nodes["r.2.y"].inputs] == [
        ("r.1.y", 1.0), ("r.2.f", 1.0), ("r.1.f", -1.0)]


def test_forward_references_are_allowed():
    g = build(spec("""
nodes:
  out: {from: [a, b], merge: concat}
  b: {from: a, ops: [relu]}
  a: {from: input, ops: [{conv: [8, 1]}]}
output: out
"""))
    assert g.order == ["a", "b", "out"]
    assert g.nodes["out"].shape == (16, 8, 8)


def test_params_may_use_earlier_params():
    g = build(spec("""
params: {depth: 40, layers: (depth - 4) // 3, width: 2 ** 3}
nodes:
  a: {from: input, ops: [{conv: [width * layers, 1]}]}
output: a
"""))
    assert g.nodes["a"].shape[0] == 8 * 12


def test_expressions_whitelist():
    for bad, fragment in [("__import__('os')", "calling '__import__'"),
                          ("(lambda: 1)()", "this call"),
                          ("[i for i in range(3)]", "comprehension"),
                          ("10**10**10", "power too large"),
                          ("4 // 0", "division by zero")]:
        with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            build(spec(f"""
nodes:
  a: {{from: input, ops: [{{conv: ["{bad}", 1]}}]}}
output: a
"""))


def test_conditional_and_functions():
    g = build(spec("""
params: {theta: 0.5}
nodes:
  a: {from: input, ops: [{conv: ["max(4, floor(theta * channels(input))) if theta < 1 else 1", 1]}]}
output: a
"""))
    assert g.nodes["a"].shape[0] == 8


def test_expand_yaml_lists_every_node_with_shape():
    g = build(spec("""
blocks:
  u:
    in: x
    nodes:
      h: {from: x, ops: [relu]}
    out: h
nodes:
  r: {from: input, repeat: 2, block: u, connect: dense}
output: r
"""))
    text = expanded_yaml(g)
    assert "r.0.h: {from: input, ops: [relu], shape: [16, 8, 8]}" in text
    assert "r: {from: [input, r.0.h, r.1.h], merge: concat, shape: [64, 8, 8]}" in text


def test_node_with_several_outputs_needs_a_port():
    with pytest.raises(SpecError, match=r"has several outputs \(y1, y2\)"):
        build(spec("""
blocks:
  two:
    in: x
    nodes:
      y1: {from: x, ops: [relu]}
      y2: {from: x, ops: [relu]}
    out: [y1, y2]
nodes:
  t: {from: input, block: two}
  o: {from: t, ops: [relu]}
output: o
"""))


def test_block_params_defaults_and_missing_argument():
    text = """
blocks:
  b:
    params: {w: 8, s: 1}
    in: x
    nodes:
      y: {from: x, ops: [{conv: {out: w, stride: s}}]}
    out: y
nodes:
  a: {from: input, block: b, args: {s: 2}}
output: a
"""
    assert build(spec(text)).nodes["a.y"].shape == (8, 4, 4)
    with pytest.raises(SpecError, match="needs argument 'w'"):
        build(spec(text.replace("params: {w: 8, s: 1}", "params: [w, s]")))


def test_weight_outside_wsum_is_an_error():
    with pytest.raises(SpecError, match=r"'a' has weight -1, but weights only apply to "
                                        r"'merge: wsum' \(node 'b' has merge: add\)"):
        build(spec("""
nodes:
  a: {from: input, ops: [relu]}
  b: {from: [input, {ref: a, weight: -1}], merge: add}
output: b
"""))


def test_weighted_reference_into_a_block_port_keeps_its_weight():
    g = build(spec("""
blocks:
  unit:
    in: x
    nodes:
      y: {from: x, ops: [relu]}
    out: y
nodes:
  a: {from: {ref: input, weight: -1}, block: unit}
output: a
"""))
    port = g.nodes["a.x"]
    assert port.effective_merge().name == "wsum" and port.inputs[0].weight == -1.0
