"""The recurrence node's semantics: reuse, vanishing terms, maps, merges, references,
numbers against hand-written torch, and located errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import linkc
from linkc.frontend import SpecError, build

HEAD = """
linkc: 1
name: r
params: {c: 4}
input: [4, 6, 6]
"""


def spec(body: str, extra: str = "") -> str:
    return HEAD + extra + "nodes:\n" + body + "output: body\n"


def conv_map(name: str = "W") -> str:
    return f"      {name}: {{ops: [{{conv: [c, 3]}}]}}\n"


def rec(formula: str, steps=3, maps=None, more: str = "", frm: str = "input") -> str:
    """A recurrence node over the input; W is a 3x3 conv where the formula applies it."""
    maps = maps if maps is not None else conv_map() if "W[" in formula else ""
    return spec(f"""  body:
    from: {frm}
    recurrence: "{formula}"
    steps: {steps}
{more}""" + (f"    maps:\n{maps}" if maps else ""))


def inputs(g, node_id):
    return [(x.src, x.weight) for x in g.nodes[node_id].inputs]


def test_resnet_s_reuses_the_previous_branch_and_drops_the_vanished_term():
    g = build(rec("X[i] = X[i-1] + W[i](X[i-1]) - W[i-1](X[i-2])"))
    assert [n for n in g.order if ".W." in n] == ["body.W.1", "body.W.2", "body.W.3"]
    assert inputs(g, "body.X.1") == [("input", 1), ("body.W.1", 1)]  # - W_0 X_{-1} vanished
    assert g.nodes["body.X.1"].merge.name == "add"
    assert inputs(g, "body.X.3") == [("body.X.2", 1), ("body.W.3", 1), ("body.W.2", -1)]
    assert g.nodes["body.X.3"].merge.name == "wsum"


def test_compiled_resnet_s_matches_hand_written_torch():
    gm = linkc.compile(rec("X[i] = X[i-1] + W[i](X[i-1]) - W[i-1](X[i-2])", steps=4))
    w = {j: gm.get_submodule(f"body.W.{j}.conv1").weight for j in range(1, 5)}
    x = torch.randn(2, 4, 6, 6)
    xs, fs = [x], {}
    for j in range(1, 5):
        fs[j] = F.conv2d(xs[j - 1], w[j], padding=1)
        xs.append(xs[j - 1] + fs[j] - (fs[j - 1] if j > 1 else 0))
    torch.testing.assert_close(gm(x), xs[-1])


def test_compiled_history_concatenation_matches_hand_written_torch():
    gm = linkc.compile(rec("X[i] = relu(W[i](cat(X[0:i])))", steps=3,
                           more="    out: \"X[0] ‖ X[1] || X[2] | X[3]\"\n"))
    x = torch.randn(2, 4, 6, 6)
    xs = [x]
    for j in range(1, 4):
        weight = gm.get_submodule(f"body.W.{j}.conv1").weight
        xs.append(F.relu(F.conv2d(torch.cat(xs, 1), weight, padding=1)))
    torch.testing.assert_close(gm(x), torch.cat(xs, 1))


def test_block_maps_one_instance_per_index_with_i_in_args():
    blocks = """blocks:
  branch:
    params: [width]
    in: x
    nodes:
      h: {from: x, ops: [{conv: [width, 3]}, bn]}
    out: h
"""
    maps = "      W: {block: branch, args: {width: 4 * i}}\n"
    g = build(spec("""  body:
    from: input
    recurrence: "X[i] = W[i](X[i-1])"
    steps: 3
    maps:
""" + maps, blocks))
    assert [(n, g.nodes[n].shape[0]) for n in g.order] == [
        ("body.W.1.h", 4), ("body.W.2.h", 8), ("body.W.3.h", 12)]
    assert inputs(g, "body.W.2.h") == [("body.W.1.h", 1)]  # the in port reads the node
    taps = """  tap: {from: [body.W.2.h, body.W.3, body.X.1], merge: concat}
"""
    g = build(spec("""  body:
    from: input
    recurrence: "X[i] = W[i](X[i-1])"
    steps: 3
    maps:
""" + maps + taps, blocks).replace("output: body", "output: tap"))
    assert [x.src for x in g.nodes["tap"].inputs] == ["body.W.2.h", "body.W.3.h", "body.W.1.h"]


def test_if_makes_a_map_the_identity():
    maps = conv_map() + "      S: {ops: [{conv: [c, 1]}], if: i == 2}\n"
    g = build(rec("X[i] = S[i](X[i-1]) + W[i](X[i-1])", maps=maps))
    assert inputs(g, "body.X.1") == [("input", 1), ("body.W.1", 1)]
    assert inputs(g, "body.X.2") == [("body.S.2", 1), ("body.W.2", 1)]
    assert "body.S.1" not in g.nodes and "body.S.3" not in g.nodes


@pytest.mark.parametrize("formula, weights, merge", [
    ("X[i] = 0.5 * X[i-1] + W[i](X[i-1]) / 2", [0.5, 0.5], "wsum"),
    ("X[i] = -X[i-1] + 2 * (W[i](X[i-1]) - X[i-1])", [-1, 2, -2], "wsum"),
    ("X[i] = mean(X[i-1], W[i](X[i-1]))", [1, 1], "mean"),
    ("X[i] = X[i-1] · c + W[i](X[i-1])", [4, 1], "wsum"),
])
def test_sums_scalars_and_means(formula, weights, merge):
    g = build(rec(formula, steps=1))
    assert [w for _, w in inputs(g, "body.X.1")] == weights
    assert g.nodes["body.X.1"].merge.name == merge


def test_ops_fold_into_the_node_they_wrap():
    g = build(rec("X[i] = relu(X[i-1] + W[i](X[i-1]))", steps=2))
    assert [c.op.name for c in g.nodes["body.X.2"].ops] == ["relu"]
    assert g.nodes["body.X.2"].merge.name == "add"


def test_two_states_and_references_from_outside():
    body = """  body:
    from: [input, input]
    recurrence: ["A[i] = A[i-1] + F[i](mean(A[i-1], B[i-1]))",
                 "B[i] = B[i-1] + G[i](mean(A[i-1], B[i-1]))"]
    init: A[0], B[0]
    steps: 2
    out: mean(A[n], B[n])
    maps:
""" + conv_map("F") + conv_map("G") + "  tap: {from: body.A.1, ops: [relu]}\n"
    g = build(HEAD + "nodes:\n" + body + "output: body\n")
    # the merge-and-run mean is one node per step, read by both streams
    assert inputs(g, "body.F.2")[0] == inputs(g, "body.G.2")[0] == ("body.A.2_1", 1)
    assert inputs(g, "body.out") == [("body.A.2", 1), ("body.B.2", 1)]
    assert inputs(g, "tap") == [("body.A.1", 1)]


def test_two_initial_values():
    g = build(spec("""  a: {from: input, ops: [relu]}
  body:
    from: [input, a]
    init: X[0], X[1]
    recurrence: "X[i] = X[i-1] + X[i-2]"
    steps: 3
"""))
    assert inputs(g, "body.X.2") == [("a", 1), ("input", 1)]
    assert inputs(g, "body.X.3") == [("body.X.2", 1), ("a", 1)]


TWO_STATES = """  body:
    from: {frm}
    init: {init}
    recurrence: ["A[i] = {a} + A[i-1]", "B[i] = B[i-1]"]
    steps: 2
"""

ERRORS = [
    (rec("X[i] = X + W[i](X[i-1])"), "state 'X' needs an index: X[i-1]"),
    (rec("X[i] = X[i-1] * W[i](X[i-1])"), "a product in a recurrence needs exactly one scalar "
     "side (2 * X[i-1]); two terms do not multiply"),
    (rec("X[i] = W(X[i-1])", maps=conv_map()), "map 'W' needs an index: W[i](...)"),
    (rec("X[i] = W[i](X[i/2])"), "the index of X 'i/2' must be an integer, got 0.5"),
    (rec("X[i-1] = W[i](X[i-1])"), "the left side of a recurrence must be STATE[i], e.g. X[i]"),
    (rec("X[i] = cat(X[-1:i])"), "X[-1:1] is out of range: a history range runs from X[0] "
     "or later and holds at least one state"),
    (rec("X[i] = W[i](X[i-1])", more="    ops: [relu]\n"),
     "'ops' does not apply to a recurrence node"),
    (rec("X[i] = W[i](X[i-1])", maps="      W: {args: {a: 1}}\n"),
     "map 'W' needs either 'block' or 'ops'"),
    (rec("X[i] = W[i](X[i-1])", steps=1, frm="[input, input]", more="    init: X[0], X[1]\n"),
     "steps is 1, but the recursion starts at i = 2: nothing to compute"),
    (rec("X[i] = W[i](X[i-1])", more="    init: X[0], X[1]\n"),
     "'init' names 2 state terms but 'from' gives 1 references"),
    (rec("X[i] = sqrt(X[i-1])"), "unknown map or op 'sqrt'"),
    (rec("X[i] = X[i-1] + W[i](X[i-1]) ** 2"), "'W[i](X[i-1]) ** 2' is not allowed in a "
     "recurrence"),
    (spec("  body: {from: input, steps: 3}\n"), "'steps' of node 'body' needs a 'recurrence'"),
    (rec("X[i] = X[i-1]", maps=conv_map("F")), "map 'F' is never applied: no formula of node "
     "'body' uses it"),
    (rec("X[i] = X[i-1]", frm="[input, input]", more="    init: X[0], X[0]\n"),
     "X[0] is given twice in 'init'"),
    (spec(TWO_STATES.format(init="A[0], B[0], B[1]", frm="[input, input, input]",
                            a="A[i-1]")),
     "A[1] is never defined: the initial values of A must run up to A[1]"),
    (spec(TWO_STATES.format(init="A[0], B[0]", frm="[input, input]", a="B[i]")),
     "B[i] on the right side is B[1] at i = 1, which is not computed yet when this formula "
     "runs"),
]


@pytest.mark.parametrize("text, message", ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_located_errors(text, message):
    with pytest.raises(SpecError) as info:
        build(text)
    assert info.value.message == message
    assert info.value.loc is not None


def test_broken_formula_catalogue():
    """tests/broken_specs/ holds a broken formula for each check the recurrence adds (their
    messages are checked by tests/spec/test_broken_specs.py)."""
    from pathlib import Path

    names = {p.stem for p in (Path(__file__).resolve().parents[1] / "broken_specs").glob("*.yaml")}
    assert {"recur_unknown_state", "recur_unknown_map", "recur_never_initial",
            "recur_two_arguments", "recur_not_earlier", "recur_parentheses",
            "recur_cat_shapes", "recur_out_of_range"} <= names


def test_a_formula_over_several_lines():
    text = spec("""  body:
    from: input
    recurrence: |
      X[i] = X[i-1]
        + W[i](X[i-1])
    steps: 2
    maps:
""" + conv_map())
    g = build(text)
    assert inputs(g, "body.X.2") == [("body.X.1", 1), ("body.W.2", 1)]


def test_a_state_named_out():
    g = build(spec("""  body:
    from: input
    recurrence: "out[i] = out[i-1] + W[i](out[i-1])"
    steps: 2
    maps:
""" + conv_map() + "  tap: {from: body.out.1, ops: [relu]}\n").replace("output: body",
                                                                         "output: tap"))
    assert inputs(g, "tap") == [("body.out.1", 1)]
