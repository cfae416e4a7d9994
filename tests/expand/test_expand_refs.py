"""References in expansion: `else:` on a recurrence's initial value, and positions of
values that the validated spec carries (list params, op items) reaching errors."""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError, build

RECURRENCE = """linkc: 1
name: t
input: [3, 8, 8]
nodes:
  stem: {{from: input, ops: [{{conv: [8, 3]}}]{stem_if}}}
  other: {{from: input, ops: [{{conv: [8, 1]}}]{other_if}}}
  body:
    from: {{ref: stem, else: other}}
    recurrence: "X[i] = X[i-1] + W[i](X[i-1])"
    steps: 3
    maps: {{W: {{ops: [relu]}}}}
output: body
"""


@pytest.mark.parametrize("stem_if, other_if, read, params", [
    ("", ", if: false", "stem", 3 * 8 * 3 * 3),  # stem exists: conv 3x3 from 3 to 8 channels
    (", if: false", "", "other", 3 * 8),  # stem does not: its fallback, conv 1x1
])
def test_initial_value_with_else_reads_the_node_that_exists(stem_if, other_if, read, params):
    g = build(RECURRENCE.format(stem_if=stem_if, other_if=other_if))
    first = g.nodes["body.X.0"]  # the port node every reader of X[0] reads
    assert [x.src for x in first.inputs] == [read]
    assert g.nodes["body.X.1"].inputs[0].src == "body.X.0"
    assert g.param_count == params
    assert g.nodes[g.output].shape == (8, 8, 8)


def test_error_in_a_list_param_points_at_its_item():
    text = "linkc: 1\nname: t\ninput: [3, 8, 8]\nparams: {w: [8, 2 +]}\n" \
           "nodes:\n  a: {from: input, ops: [{conv: 'w[0]'}]}\noutput: a\n"
    with pytest.raises(SpecError) as info:
        build(text)
    assert (info.value.loc.line, info.value.loc.col) == (4, 17)
    assert info.value.message.startswith("cannot parse expression '2 +'")


def test_error_in_an_op_item_of_a_block_points_at_the_item():
    text = """linkc: 1
name: t
input: [3, 8, 8]
blocks:
  b:
    in: x
    nodes:
      y:
        from: x
        ops:
          - bn
          - {convv: 8}
    out: y
nodes:
  a: {from: input, block: b}
output: a
"""
    with pytest.raises(SpecError) as info:
        build(text)
    assert (info.value.loc.line, info.value.loc.col) == (12, 14)
    assert info.value.message.startswith("unknown op 'convv'")
