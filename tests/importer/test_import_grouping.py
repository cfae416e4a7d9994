"""The importer's grouping: which nodes form one block instance, and what happens when
a module's calls interleave so that no grouping into blocks can be written."""

from __future__ import annotations

import re

import torch
from torch import nn

import linkc
from linkc.compiler import compile_graph
from linkc.importer import import_module
from tests.importer.test_import import compiled, contents, randomise

# resnet_s_18_recur.yaml's formula at a toy size: a state whose formula has a merge
# inside a merge (`relu(S + W) - T(...)`) expands into two nodes per step, body.X.3_1
# (the relu of the sum) and body.X.3 (the difference), and S, T exist only where a
# stage starts (step 3 here).
SMALL_RECURRENCE = """
linkc: 1
name: small-s-recur
input: [3, 8, 8]
nodes:
  stem: {from: input, ops: [{conv: [4, 3]}, bn, relu]}
  body:
    from: stem
    recurrence: "X[i] = relu(S[i](X[i-1]) + W[i](X[i-1])) - T[i](W[i-1](X[i-2]))"
    steps: 4
    maps:
      W:
        ops:
          - {conv: {out: "4 * 2**(i > 2)", k: 3, stride: "2 if i == 3 else 1"}}
          - bn
          - relu
          - {conv: ["4 * 2**(i > 2)", 3]}
          - bn
      S:
        ops: [{conv: {out: 8, k: 1, stride: 2}}, bn]
        if: i == 3
      T:
        ops: [{conv: {out: 8, k: 1, stride: 2}}, bn]
        if: i == 3
  head: {from: body, ops: [gap, {linear: 5}]}
output: head
"""


def outputs(module: nn.Module, shape) -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        return module.eval()(x)


def test_a_recurrence_with_two_nodes_per_step_imports_one_instance_per_step():
    g = linkc.build(SMALL_RECURRENCE)
    assert "body.X.3_1" in g.order and "body.X.3" in g.order  # the shape under test
    gm = randomise(compile_graph(g))
    result = import_module(gm, tuple(g.input_shape))
    again = linkc.build(result.spec)
    assert result.params == sum(p.numel() for p in gm.parameters())
    assert sum(p.numel() for p in compiled(result).parameters()) == result.params
    assert contents(again) == contents(g)
    assert torch.equal(outputs(gm, g.input_shape), outputs(compiled(result), g.input_shape))
    # step i's relu-of-sum is instance i of the X group (a block use of its own), not a
    # part of one instance spanning every step
    uses = re.findall(r"^  (body_X_\d+): \{from: .*block: x_block", result.spec, re.M)
    assert uses == [f"body_X_{i}" for i in range(1, 5)], result.spec


class _Body(nn.Module):
    """Numbered branches (`W.0`, `W.1`) and the module's own layers (named, not
    numbered) called in turn: the layers run between the branches' calls."""

    def __init__(self, c=4):
        super().__init__()
        self.W = nn.ModuleList(nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                                             nn.BatchNorm2d(c)) for _ in range(3))
        self.act = nn.ModuleDict({"first": nn.ReLU(), "second": nn.ReLU(), "third": nn.ReLU()})

    def forward(self, x):
        for branch, act in zip(self.W, self.act.values()):
            x = act(x + branch(x))
        return x


class _Interleaved(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.body = _Body()
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.body(self.stem(x)).mean((2, 3)))


def test_layers_called_between_numbered_children_become_top_level_nodes():
    net = randomise(_Interleaved())
    result = import_module(net, (3, 6, 6))
    assert result.params == sum(p.numel() for p in net.parameters())
    assert torch.equal(outputs(net, (3, 6, 6)), outputs(compiled(result), (3, 6, 6)))
    # the branches stay blocks; the adds and ReLUs between them are top-level nodes
    assert result.spec.count("block: w_block") == 3, result.spec
    assert len(re.findall(r"^  body_act_\w+: \{from: \[.*merge: add, ops: \[relu\]\}$",
                          result.spec, re.M)) == 3, result.spec
