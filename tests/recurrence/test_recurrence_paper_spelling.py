"""A recurrence written as the paper typesets it (`W[i] X[i-1]`, `X_{i-1}`, `X_i`) is
an error that shows linkc's spelling, at the place and for the whole formula."""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError, build


def spec(formula: str) -> str:
    return f"""linkc: 1
name: t
input: [4, 6, 6]
nodes:
  body:
    from: input
    recurrence: "{formula}"
    steps: 3
    maps:
      W: {{ops: ["conv(4, 3)", bn, relu]}}
output: body
"""


@pytest.mark.parametrize("formula, col, message, whole", [
    ("X[i] = X[i-1] + W[i] X[i-1]", 34,
     "'W[i] X[i-1]' applies a map as the paper writes it, without parentheses; in a "
     "recurrence write W[i](X[i-1])", "X[i] = X[i-1] + W[i](X[i-1])"),
    ("X[i] = X_{i-1} + W[i](X_{i-1})", 25,
     "'X_{i-1}' is the paper's subscript; in a recurrence write X[i-1]",
     "X[i] = X[i-1] + W[i](X[i-1])"),
    ("X_i = relu(X_{i-1} + W_i X_{i-1})", 18,
     "'X_i' is the paper's subscript; in a recurrence write X[i]",
     "X[i] = relu(X[i-1] + W[i](X[i-1]))"),
    ("X[i] = X[i-1] + W[i](X_(i-1))", 39,
     "'X_(i-1)' is the paper's subscript; in a recurrence write X[i-1]",
     "X[i] = X[i-1] + W[i](X[i-1])"),
])
def test_paper_spellings_get_the_spelling_to_use(formula, col, message, whole):
    with pytest.raises(SpecError) as info:
        build(spec(formula))
    e = info.value
    assert (e.loc.line, e.loc.col, e.message) == (7, col, message)
    assert e.hint == f"the formula in linkc's spelling: {whole}"
    build(spec(whole))  # and that spelling is a valid formula


def test_names_with_underscores_are_not_subscripts():
    # a map applied with a space before its parentheses, and a param X_scale, are linkc's
    text = spec("X[i] = X_scale * X[i-1] + W[i] (X[i-1])").replace(
        "input: [4, 6, 6]", "params: {X_scale: 0.5}\ninput: [4, 6, 6]")
    g = build(text)
    assert g.order == ["body.W.1", "body.X.1", "body.W.2", "body.X.2", "body.W.3", "body.X.3"]
    assert [x.weight for x in g.nodes["body.X.2"].inputs] == [0.5, 1.0]  # X_scale * X[1] + W


def test_a_state_named_with_an_underscore_is_indexed_as_any_state():
    g = build(spec("H_1[i] = H_1[i-1] + W[i](H_1[i-1])").replace(
        "    steps: 3", "    steps: 3\n    init: H_1[0]"))
    assert g.order == ["body.W.1", "body.H_1.1", "body.W.2", "body.H_1.2", "body.W.3",
                       "body.H_1.3"]


def test_the_out_value_gets_the_spelling_too():
    text = spec("X[i] = X[i-1] + W[i](X[i-1])").replace(
        "    steps: 3", '    steps: 3\n    out: "cat(X_{0:n+1})"')
    with pytest.raises(SpecError) as info:
        build(text)
    e = info.value
    assert (e.loc.line, e.loc.col) == (9, 15)
    assert e.message == "'X_{0:n+1}' is the paper's subscript; in a recurrence write X[0:n+1]"
    assert e.hint == "the formula in linkc's spelling: cat(X[0:n+1])"
