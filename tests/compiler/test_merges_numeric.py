"""Each merge, compiled from a spec, against a hand-written torch module with the same weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import linkc

SPEC = """
linkc: 1
name: merge-{merge}
input: [4, 6, 6]
nodes:
  a: {{from: input, ops: [{{conv: [4, 3]}}]}}
  b: {{from: input, ops: [{{conv: [4, 1]}}]}}
  c: {{from: input, ops: [{{conv: [4, 3]}}, sigmoid]}}
  m: {{from: [a, b, c], merge: {merge}}}
output: m
"""


class ThreeBranches(nn.Module):
    """a = conv3x3(x), b = conv1x1(x), c = sigmoid(conv3x3(x)), merged by `merge`."""

    def __init__(self, merge):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.b = nn.Conv2d(4, 4, 1, bias=False)
        self.c = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.merge = merge

    def forward(self, x):
        return self.merge(self.a(x), self.b(x), torch.sigmoid(self.c(x)))


def _compare(merge_name, reference_merge, extra_state=None):
    gm = linkc.compile(SPEC.format(merge=merge_name))
    ref = ThreeBranches(reference_merge)
    ref.a.weight.data.copy_(gm.get_submodule("a.conv1").weight)
    ref.b.weight.data.copy_(gm.get_submodule("b.conv1").weight)
    ref.c.weight.data.copy_(gm.get_submodule("c.conv1").weight)
    if extra_state:
        extra_state(gm)
    x = torch.randn(3, 4, 6, 6)
    torch.testing.assert_close(gm(x), ref(x), rtol=1e-6, atol=1e-6)
    return gm


def test_add():
    _compare("add", lambda a, b, c: a + b + c)


def test_add_glyph_alias():
    _compare("+", lambda a, b, c: a + b + c)


def test_concat():
    gm = _compare("‖", lambda a, b, c: torch.cat([a, b, c], dim=1))
    assert gm(torch.randn(1, 4, 6, 6)).shape == (1, 12, 6, 6)


def test_mean():
    _compare("avg", lambda a, b, c: (a + b + c) / 3)


def test_mul():
    _compare("mul", lambda a, b, c: a * b * c)


def test_dwsum_is_delugenet_depthwise_combination():
    # out[c] = sum_j w[j, c] * x_j[c] + b[c] with learnable w (inputs x channels) and b.
    w = torch.randn(3, 4)
    bias = torch.randn(4)

    def set_weights(gm):
        gm.get_submodule("m.merge").weight.data.copy_(w)
        gm.get_submodule("m.merge").bias.data.copy_(bias)

    def reference(a, b, c):
        stacked = torch.stack([a, b, c])  # (3, N, C, H, W)
        return (stacked * w[:, None, :, None, None]).sum(0) + bias[None, :, None, None]

    gm = _compare("dwsum", reference, set_weights)
    assert gm.get_submodule("m.merge").weight.shape == (3, 4)
    assert sum(p.numel() for p in gm.get_submodule("m.merge").parameters()) == 3 * 4 + 4


def test_wsum_uses_reference_weights():
    spec = SPEC.format(merge="wsum").replace("from: [a, b, c]",
                                             "from: [a, {ref: b, weight: -1}, {ref: c, weight: 0.5}]")
    gm = linkc.compile(spec)
    x = torch.randn(2, 4, 6, 6)
    a = F.conv2d(x, gm.get_submodule("a.conv1").weight, padding=1)
    b = F.conv2d(x, gm.get_submodule("b.conv1").weight)
    c = torch.sigmoid(F.conv2d(x, gm.get_submodule("c.conv1").weight, padding=1))
    torch.testing.assert_close(gm(x), a - b + 0.5 * c, rtol=1e-6, atol=1e-6)


def test_add_zero_pad_matches_pyramidnet_shortcut():
    spec = """
linkc: 1
name: pad
input: [4, 6, 6]
nodes:
  wide: {from: input, ops: [{conv: [7, 3]}]}
  y: {from: [input, wide], merge: add, pad: zeros}
output: y
"""
    gm = linkc.compile(spec)
    x = torch.randn(2, 4, 6, 6)
    wide = F.conv2d(x, gm.get_submodule("wide.conv1").weight, padding=1)
    expected = wide + torch.cat([x, torch.zeros(2, 3, 6, 6)], 1)
    torch.testing.assert_close(gm(x), expected)


def test_mul_gate_broadcasts_per_channel():
    spec = """
linkc: 1
name: se
input: [8, 5, 5]
nodes:
  gate: {from: input, ops: [gap, {linear: 2}, relu, {linear: 8}, sigmoid]}
  y: {from: [input, gate], merge: mul}
output: y
"""
    gm = linkc.compile(spec)
    x = torch.randn(3, 8, 5, 5)
    l1, l2 = gm.get_submodule("gate.linear1"), gm.get_submodule("gate.linear2")
    g = torch.sigmoid(l2(torch.relu(l1(x.mean((2, 3))))))
    torch.testing.assert_close(gm(x), x * g[:, :, None, None])


def test_channel_slices():
    spec = """
linkc: 1
name: slices
params: {k: 3}
input: [8, 4, 4]
nodes:
  y: {from: ["input[0:k]", {ref: input, slice: [k, 2*k]}], merge: add}
output: y
"""
    gm = linkc.compile(spec)
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(gm(x), x[:, 0:3] + x[:, 3:6])
