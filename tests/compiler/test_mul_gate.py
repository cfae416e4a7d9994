"""Squeeze-and-excitation with the `mul` merge, the gate first or second, (C,) or
(C, 1, 1), against hand-written SE modules (torchvision's and the Linear + view form)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import linkc
from linkc.errors import SpecError
from linkc.frontend import build

SPEC = """
linkc: 1
name: se
input: [8, 5, 5]
nodes:
  x: {{from: input, ops: ["conv(8, 3, bias=true)"]}}
  gate: {{from: x, ops: [{gate}, sigmoid]}}
  y: {{from: {order}, merge: mul}}
output: y
"""
MAP_GATE = '{adaptive_avgpool: 1}, "conv(2, 1, bias=true)", relu, "conv(8, 1, bias=true)"'
VECTOR_GATE = "gap, {linear: 2}, relu, {linear: 8}"


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: a (C, 1, 1) gate, written `scale * input`."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, input):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))
        return scale * input


class SELayer(nn.Module):
    """The Linear + view form of the SENet repositories: `x * y.view(b, c, 1, 1)`."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, squeeze), nn.ReLU(),
                                nn.Linear(squeeze, channels), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.fc(x.mean((2, 3))).view(b, c, 1, 1)
        return x * y


class Net(nn.Module):
    def __init__(self, se: nn.Module):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.se = se

    def forward(self, x):
        return self.se(self.conv(x))


@pytest.mark.parametrize("order", ["[gate, x]", "[x, gate]"])
@pytest.mark.parametrize("gate, reference", [(MAP_GATE, SqueezeExcitation), (VECTOR_GATE, SELayer)],
                         ids=["C11-gate", "C-gate"])
def test_squeeze_excitation_with_the_gate_in_either_position(gate, reference, order):
    spec = SPEC.format(gate=gate, order=order)
    assert build(spec).nodes["y"].shape == (8, 5, 5)
    gm = linkc.compile(spec, passes=[])
    net = Net(reference(8, 2))
    ours, theirs = list(gm.parameters()), list(net.parameters())
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    with torch.no_grad():
        for mine, p in zip(ours, theirs):
            mine.uniform_(-1, 1)
            p.copy_(mine)
    x = torch.randn(3, 8, 5, 5)
    assert torch.equal(gm(x), net(x))


def test_a_gate_of_other_channels_is_refused_in_any_position():
    spec = SPEC.format(gate='{adaptive_avgpool: 1}, "conv(4, 1)"', order="[gate, x]")
    with pytest.raises(SpecError) as info:
        build(spec)
    assert str(info.value).splitlines()[0] == (
        "<spec>:8:3: error: node 'y': mul cannot broadcast 'gate' [4, 1, 1] (node at line 7) "
        "against 'x' [8, 5, 5] (node at line 6)")
    assert "a per-channel gate of the same channels, (C,) or (C, 1, 1), in any position" in \
        str(info.value)
