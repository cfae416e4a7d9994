"""The lowering's module factory: copies of a prototype are new modules, drawn from the
same random stream as their constructors would draw them."""

from __future__ import annotations

import importlib

import torch
from torch import nn

from linkc.compiler.module_factory import ModuleFactory
from linkc.frontend import build

lower_module = importlib.import_module("linkc.compiler.lower")

SPEC = """
linkc: 1
name: factory
input: [3, 8, 8]
blocks:
  unit:
    in: x
    nodes:
      a: {from: x, ops: [{conv: [8, 3]}, bn, relu]}
      b: {from: a, ops: [{conv: {out: 8, k: 1, bias: true}}, bn]}
      y: {from: [x, b], merge: add, pad: zeros, ops: [relu]}
    out: y
nodes:
  body: {from: input, repeat: 4, block: unit}
  head: {from: body, ops: [gap, {linear: 10}]}
output: head
"""


class _Constructors:
    def __call__(self, target, kwargs):
        return target(**kwargs)


def test_a_lowered_model_is_bit_identical_to_one_built_by_its_constructors(monkeypatch):
    g = build(SPEC)
    torch.manual_seed(0)
    fast = lower_module.lower(g).state_dict()
    monkeypatch.setattr(lower_module, "ModuleFactory", _Constructors)
    torch.manual_seed(0)
    plain = lower_module.lower(g).state_dict()
    assert fast.keys() == plain.keys()
    for name in fast:
        assert torch.equal(fast[name], plain[name]), name
    # and the weights are not all one copy: the units differ
    convs = [v for k, v in fast.items() if k.endswith("a.conv1.weight")]
    assert len(convs) == 4 and not torch.equal(convs[0], convs[1])


def test_copies_have_their_own_storage_and_hooks():
    factory = ModuleFactory()
    first = factory(nn.BatchNorm2d, {"num_features": 4})
    second = factory(nn.BatchNorm2d, {"num_features": 4})
    assert type(second) is nn.BatchNorm2d and second is not first
    with torch.no_grad():
        first.weight.fill_(3.0)
        first.running_mean.fill_(2.0)
    assert torch.equal(second.weight, torch.ones(4))
    assert torch.equal(second.running_mean, torch.zeros(4))
    second.register_forward_hook(lambda *a: None)
    assert not first._forward_hooks
    second.train(False)
    assert first.training and not second.training
    assert dict(second.named_parameters()).keys() == {"weight", "bias"}


class _Stateful(nn.Module):
    """A module from outside torch.nn and linkc (a plugin's, say)."""
    built = 0

    def __init__(self, n: int):
        super().__init__()
        type(self).built += 1
        self.w = nn.Parameter(torch.randn(n))

    def reset_parameters(self):  # does not reset everything a constructor sets
        pass


def test_modules_from_other_packages_and_unhashable_arguments_are_constructed():
    factory = ModuleFactory()
    _Stateful.built = 0
    a, b = factory(_Stateful, {"n": 3}), factory(_Stateful, {"n": 3})
    assert _Stateful.built == 2 and not torch.equal(a.w, b.w)
    pads = [factory(nn.ZeroPad2d, {"padding": [1, 1, 0, 0]}) for _ in range(2)]
    assert pads[0].padding == pads[1].padding == (1, 1, 0, 0)
    seq = factory(nn.Sequential, {}), factory(nn.Sequential, {})
    assert seq[0] is not seq[1]
