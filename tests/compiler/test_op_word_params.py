"""A word param names an op: a MobileNetV3-style net picks ReLU or hardswish per block
by param, against a torchvision-style hand-written MobileNetV3 (torch.equal)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import linkc
from linkc.frontend import build

SPEC = """
linkc: 1
name: mobilenet-v3-head
params: {early: relu, late: hardswish}
input: [3, 32, 32]
blocks:
  bneck:                     # MobileNetV3's inverted residual, its activation a word param
    params: [k, exp, out, se, sq, act, stride]
    in: x
    nodes:
      e: {if: "exp != channels(x)", from: x, ops: ["conv(exp, 1)", bn, act]}
      d: {from: {ref: e, else: x}, ops: ["conv(exp, k, stride=stride, groups=exp)", bn, act]}
      g: {if: "se == 1", from: d, ops: [{adaptive_avgpool: 1}, "conv(sq, 1, bias=true)", relu,
                                       "conv(exp, 1, bias=true)", hardsigmoid]}
      s: {from: [{ref: g, optional: true}, d], merge: mul}    # torchvision: scale * input
      p: {from: s, ops: ["conv(out, 1)", bn]}
      shortcut: {if: "stride == 1 and channels(x) == out", from: x}
      y: {from: [p, {ref: shortcut, optional: true}], merge: add}
    out: y
nodes:
  stem: {from: input, ops: ["conv(16, 3, stride=2)", bn, late]}
  b1: {from: stem, block: bneck, args: {k: 3, exp: 16, out: 16, se: 1, sq: 8, act: early,
                                       stride: 2}}
  b2: {from: b1, block: bneck, args: {k: 3, exp: 72, out: 24, se: 0, sq: 0, act: early, stride: 2}}
  b3: {from: b2, block: bneck, args: {k: 3, exp: 88, out: 24, se: 0, sq: 0, act: early, stride: 1}}
  b4: {from: b3, block: bneck, args: {k: 5, exp: 96, out: 40, se: 1, sq: 24, act: late, stride: 2}}
  b5: {from: b4, block: bneck, args: {k: 5, exp: 240, out: 40, se: 1, sq: 64, act: late, stride: 1}}
output: b5
"""
# torchvision's mobilenet_v3_small rows: (in, kernel, expanded, out, SE, activation, stride)
ROWS = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
        (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
        (40, 5, 240, 40, True, "HS", 1)]


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, input):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input))))) \
            * input


def conv_bn_act(cin, cout, k, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act()] if act else []))


class InvertedResidual(nn.Module):
    def __init__(self, cin, k, exp, out, se, act, stride):
        super().__init__()
        act = nn.Hardswish if act == "HS" else nn.ReLU
        layers = [conv_bn_act(cin, exp, 1, act=act)] if exp != cin else []
        layers.append(conv_bn_act(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcitation(exp, _make_divisible(exp // 4)))
        layers.append(conv_bn_act(exp, out, 1))
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == out

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result += input
        return result


def mobilenet_v3(rows):
    return nn.Sequential(conv_bn_act(3, 16, 3, 2, act=nn.Hardswish),
                         *(InvertedResidual(*row) for row in rows)).eval()


def _trained_looking(gm: nn.Module, reference: nn.Module) -> None:
    ours, theirs = gm.state_dict(), reference.state_dict()
    assert [v.shape for v in ours.values()] == [v.shape for v in theirs.values()]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for (name, mine), other in zip(ours.items(), theirs.values()):
            if mine.dtype.is_floating_point:
                mine.copy_(torch.rand(mine.shape, generator=generator) * 0.8 + 0.2
                           if name.endswith("running_var") else
                           torch.randn(mine.shape, generator=generator) * 0.3)
            other.copy_(mine)


@pytest.mark.parametrize("late, rows", [
    (None, ROWS), ("relu", [(*r[:5], "RE", r[6]) for r in ROWS])],
    ids=["as-written", "set-late-relu"])
def test_mobilenet_v3_picks_its_activation_per_block_by_word_param(late, rows):
    params = {"late": late} if late else None
    g = build(SPEC, params=params)
    assert [c.op.name for c in g.nodes["b1.d"].ops] == ["conv", "bn", "relu"]
    assert [c.op.name for c in g.nodes["b4.d"].ops] == ["conv", "bn", late or "hardswish"]
    gm = linkc.compile(SPEC, params=params, passes=[]).eval()
    reference = mobilenet_v3(rows)
    if late == "relu":  # the stem's activation is the `late` word too
        reference[0][2] = nn.ReLU()
    _trained_looking(gm, reference)
    assert g.param_count == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(gm(x), reference(x))


def test_a_word_param_op_takes_arguments_in_every_form():
    spec = """
linkc: 1
name: t
params: {act: leaky_relu}
input: [4, 3, 3]
nodes:
  a: {from: input, ops: [{act: 0.2}]}
  b: {from: a, ops: ["act(slope=0.3)"]}
  c: {from: b, ops: [act]}
output: c
"""
    gm = linkc.compile(spec, passes=[])
    x = torch.randn(2, 4, 3, 3) * 3
    expected = F.leaky_relu(F.leaky_relu(F.leaky_relu(x, 0.2), 0.3), 0.01)
    assert torch.equal(gm(x), expected)
