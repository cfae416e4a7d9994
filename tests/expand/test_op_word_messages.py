"""Word params that name ops: where an op name meets a param in a way that cannot
work, the error is located and says how to vary an op."""

from __future__ import annotations

import pytest

from linkc.expand.word_params import op_word
from linkc.frontend import SpecError, build
from linkc.spec.expr_eval import VARY_AN_OP

SPEC = """linkc: 1
name: t
params: {act: hardswish}
input: [4, 6, 6]
blocks:
  b:
    params: [act]
    in: x
    nodes:
      y: {from: x, ops: [bn, act]}
    out: y
nodes:
  r: {from: input, repeat: 3, block: b, args: {act: ACT}}
output: r
"""


def error(text: str, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        build(text, **kw)
    return info.value


def test_words_reach_blocks_and_overrides():
    g = build(SPEC.replace("ACT", "act"))  # a block argument passing the caller's word on
    assert [c.op.name for c in g.nodes["r.2.y"].ops] == ["bn", "hardswish"]
    g = build(SPEC.replace("ACT", "act"), params={"act": "gelu"})
    assert [c.op.name for c in g.nodes["r.0.y"].ops] == ["bn", "gelu"]
    g = build(SPEC.replace("ACT", "silu"))
    assert [c.op.name for c in g.nodes["r.1.y"].ops] == ["bn", "silu"]


def test_an_op_computed_per_instance_says_how_to_vary_an_op():
    e = error(SPEC.replace("ACT", '"hardswish if i >= 2 else relu"'))
    assert (e.loc.line, e.loc.col) == (10, 30)  # the op item that reads the param
    assert e.message == ("param 'act' holds the expression 'hardswish if i >= 2 else relu' "
                         "(line 13), not the name of an op, so ops: [act] names no op")
    assert e.hint == VARY_AN_OP
    assert "word param" in e.hint and "if:" in e.hint


def test_an_op_name_inside_an_expression_is_located_with_the_way_to_vary_an_op():
    e = error(SPEC.replace("ACT", "act").replace("{act: hardswish}",
                                                 '{deep: 1, act: "gelu if deep else relu"}'))
    assert (e.loc.line, e.loc.col) == (3, 25)  # at 'gelu'
    assert e.message == ("'gelu' is an op, and an expression computes a number, not an op "
                         "('gelu if deep else relu')")
    assert e.hint == VARY_AN_OP


def test_a_number_where_an_op_is_named_is_located():
    e = error(SPEC.replace("ACT", "3"))
    assert e.message == ("param 'act' holds the number 3 (line 13), not the name of an op, "
                         "so ops: [act] names no op")


def test_a_param_named_like_an_op_is_never_read_either_way_silently():
    text = SPEC.replace("ACT", "relu").replace("params: [act]", "params: [act, scale]") \
        .replace("ops: [bn, act]", "ops: [bn, scale]") \
        .replace("{act: relu}", "{act: relu, scale: gelu}")
    e = error(text)
    assert e.message == "'scale' is both an op and a param that holds the op 'gelu'"
    # a param that holds a number does not hide the op of its name
    g = build(text.replace("scale: gelu", "scale: 2"))
    assert [c.op.name for c in g.nodes["r.0.y"].ops] == ["bn", "scale"]


def test_a_word_in_an_expression_names_ops_among_the_words():
    e = error(SPEC.replace("ACT", "act").replace("ops: [bn, act]", "ops: [{conv: act}]"))
    assert e.message == "'act' holds the word 'hardswish', not a number"
    assert "ops: [NAME]" in e.hint


def test_op_word_leaves_names_that_are_no_param_alone():
    g = build(SPEC.replace("ACT", "act"))
    scope = g.nodes["r.0.y"].scope
    assert op_word(scope, "act", None) == "hardswish"
    assert op_word(scope, "relu", None) is None
