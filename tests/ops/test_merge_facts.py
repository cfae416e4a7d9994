"""The facts other stages read from a merge's row (its legend label, its linear
coefficients, its signed glyph, the merge names in hints) hold for every row, the
built-in ones and one registered as a plugin registers it."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

import linkc
from linkc.compiler.lower import resolve_target
from linkc.errors import SpecError
from linkc.extend import Lowering, MergeDef, register_merge
from linkc.ops import MERGES


def half_sum(*xs):
    """(x1 + ... + xn) / 2: a linear merge defined outside linkc."""
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out / 2


@pytest.fixture
def plugin_merge():
    name = register_merge(MergeDef(
        "halfsum", MERGES["add"].infer, Lowering(f"{__name__}:half_sum"), "½",
        "half of the sum (a test merge)",
        coefficients=lambda weights: [Fraction(1, 2)] * len(weights))).name
    yield name
    MERGES.remove(name)


def _call(merge: MergeDef, xs, weights):
    options = type("Options", (), {"weights": tuple(weights)})()
    kwargs = merge.lowering.kwargs([tuple(x.shape[1:]) for x in xs], options)
    return resolve_target(merge.lowering.target)(*xs, **kwargs)


@pytest.mark.usefixtures("plugin_merge")
def test_every_linear_merge_computes_its_coefficients():
    """A merge that declares coefficients computes sum(c_i * x_i): the derivative
    analysis may expand it by them."""
    torch.manual_seed(0)
    xs = [torch.randn(2, 4, 3, 3) for _ in range(3)]
    checked = []
    for name, merge in MERGES.items():
        if merge.coefficients is None or merge.params:
            continue
        weights = [1.0, -1.0, 0.5] if merge.weighted else [1.0, 1.0, 1.0]
        coefficients = merge.coefficients(weights)
        if name == "concat":  # each input is kept as it is, in its own channels
            expected = torch.cat([float(c) * x for c, x in zip(coefficients, xs)], 1)
        else:
            expected = sum(float(c) * x for c, x in zip(coefficients, xs))
        torch.testing.assert_close(_call(merge, xs, weights), expected, rtol=1e-6, atol=1e-6)
        checked.append(name)
    assert {"add", "concat", "mean", "wsum", "halfsum"} <= set(checked)


@pytest.mark.usefixtures("plugin_merge")
def test_every_merge_has_a_legend_label_and_glyph():
    for name, merge in MERGES.items():
        glyph, shown, label = merge.glyph_for([1.0, 1.0])
        assert (glyph, shown) == (merge.glyph, name) and label and "(" not in label


def test_a_signed_sum_is_drawn_as_a_difference():
    wsum = MERGES["wsum"]
    assert wsum.glyph_for([1.0, -1.0]) == ("-", "difference", "signed sum that subtracts")
    assert wsum.glyph_for([1.0, -0.5])[0] == wsum.glyph  # scaled, not signed


def test_the_missing_merge_hint_names_plugin_merges(plugin_merge):
    spec = ("linkc: 1\nname: two\ninput: [2, 4, 4]\nnodes:\n"
            "  a: {from: input, ops: [relu]}\n  b: {from: [input, a]}\noutput: b\n")
    with pytest.raises(SpecError) as err:
        linkc.build(spec)
    assert err.value.hint == "add merge: add, concat, mean, wsum, dwsum, mul or halfsum"


def test_the_derivative_reads_mean_from_its_row():
    """mean's 1/n comes from its row: X[i] = mean(X[i-1], W[i](X[i-1])) has
    dX_i/dX_(i-1) = (1 + W_i) / 2, two terms of coefficient 1/2."""
    from linkc.analyze.derivative import expansions

    spec = ("linkc: 1\nname: avg\ninput: [2, 4, 4]\nnodes:\n  stem: {from: input, ops: [relu]}\n"
            "  body:\n    from: stem\n    recurrence: \"X[i] = mean(X[i-1], W[i](X[i-1]))\"\n"
            "    steps: 2\n    maps:\n      W: {ops: [\"conv(2, 3)\"]}\noutput: body\n")
    graph = linkc.build(spec)
    first = expansions(graph, graph.recurrences["body"])[0]
    assert sorted(c for _, c in first.terms) == [Fraction(1, 2), Fraction(1, 2)]
