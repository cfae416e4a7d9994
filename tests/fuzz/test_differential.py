"""Random valid specs compile, and the compiled module computes what the spec says:
the same output as an independent eager interpreter of the expanded graph."""

from __future__ import annotations

import torch
from hypothesis import given, note

import linkc
from linkc.topology import build

from .interpreter import interpret
from .oracles import differential_outcome, randomize
from .settings import fuzz_settings
from .specgen import valid_specs


@fuzz_settings(ci_examples=40)
@given(valid_specs())
def test_compiled_module_matches_the_interpreter(text):
    note(text)
    differential_outcome(text)


def test_interpreter_catches_a_wrong_weight():
    """The oracle is not vacuous: perturbing one weight changes its answer."""
    text = ("linkc: 1\nname: t\ninput: [2, 4, 4]\nnodes:\n"
            "  a: {from: input, ops: [{conv: [3, 3]}, bn, relu]}\n"
            "  b: {from: [a, input], merge: concat, ops: [gap, {linear: 2}]}\noutput: b\n")
    g, gm = build(text), linkc.compile(text)
    randomize(gm, 0)
    gm.eval()
    x = torch.randn(2, 2, 4, 4)
    weights = dict(gm.state_dict())
    torch.testing.assert_close(gm(x), interpret(g, weights, x))
    weights["a.conv1.weight"] = weights["a.conv1.weight"] + 1
    assert not torch.allclose(gm(x), interpret(g, weights, x))
