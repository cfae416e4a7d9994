"""drop_identity: the identity modules are gone, outputs are unchanged, real pools stay."""

from __future__ import annotations

import torch
from torch import nn

import linkc
from linkc.compiler.passes import run_passes

from pass_helpers import batch, fused_pair, small_spec


def _modules(gm, kind):
    return [n for n, m in gm.named_modules() if isinstance(m, kind)]


def test_pattern_is_gone():
    plain, fused = fused_pair(small_spec("resnet_110"), ["drop_identity"])
    # 54 blocks: 2 shortcuts subsample (stride 2), 52 are stride-1 copies
    assert len(_modules(plain, nn.MaxPool2d)) == 54
    assert _modules(fused, nn.MaxPool2d) == ["stage2.0.shortcut.maxpool1",
                                            "stage3.0.shortcut.maxpool1"]


def test_outputs_and_gradients_match():
    plain, fused = fused_pair(small_spec("resnet_110"), ["drop_identity"])
    x = batch(plain, 3)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = plain(x1), fused(x2)
    torch.testing.assert_close(y2, y1, rtol=0, atol=0)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=0, atol=0)
    assert list(plain.state_dict()) == list(fused.state_dict())


def test_near_miss_left_alone():
    spec = """
linkc: 1
name: pools
input: [4, 8, 8]
nodes:
  a: {from: input, ops: [{maxpool: {k: 1, stride: 2}}, {avgpool: {k: 2, stride: 1}}, identity]}
output: a
"""
    gm = run_passes(linkc.compile(spec), ["drop_identity"])
    assert _modules(gm, nn.MaxPool2d) == ["a.maxpool1"]
    assert _modules(gm, nn.AvgPool2d) == ["a.avgpool1"]
    assert _modules(gm, nn.Identity) == []
