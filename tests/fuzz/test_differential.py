"""Random valid specs compile, and the compiled module computes what the spec says:
the same output as an independent eager interpreter of the expanded graph."""

from __future__ import annotations

import torch
from hypothesis import given, note

import linkc
from linkc.topology import build

from .interpreter import interpret
from .settings import fuzz_settings
from .specgen import valid_specs


def _randomize(gm: torch.nn.Module, seed: int) -> None:
    """Random weights *and* BN statistics, so every tensor the forward reads matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in gm.state_dict().items():
            if t.is_floating_point():
                values = torch.rand(t.shape, generator=gen) + 0.5 if name.endswith(
                    "running_var") else torch.randn(t.shape, generator=gen) * 0.5
                t.copy_(values)


@fuzz_settings(ci_examples=40)
@given(valid_specs())
def test_compiled_module_matches_the_interpreter(text):
    note(text)
    g = build(text)
    gm = linkc.compile(text)
    _randomize(gm, seed=len(text))
    gm.eval()
    x = torch.randn(2, *g.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = gm(x)
        want = interpret(g, dict(gm.state_dict()), x)
    assert tuple(got.shape) == (2, *g.nodes[g.output].shape)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_interpreter_catches_a_wrong_weight():
    """The oracle is not vacuous: perturbing one weight changes its answer."""
    text = ("linkc: 1\nname: t\ninput: [2, 4, 4]\nnodes:\n"
            "  a: {from: input, ops: [{conv: [3, 3]}, bn, relu]}\n"
            "  b: {from: [a, input], merge: concat, ops: [gap, {linear: 2}]}\noutput: b\n")
    g, gm = build(text), linkc.compile(text)
    _randomize(gm, 0)
    gm.eval()
    x = torch.randn(2, 2, 4, 4)
    weights = dict(gm.state_dict())
    torch.testing.assert_close(gm(x), interpret(g, weights, x))
    weights["a.conv1.weight"] = weights["a.conv1.weight"] + 1
    assert not torch.allclose(gm(x), interpret(g, weights, x))
