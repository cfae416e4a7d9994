"""The `scale` op (layer scale) against hand-written modules: a per-channel learnable
multiplier as ConvNeXt and CaiT write it, and a ConvNeXt block built around it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import linkc
from linkc.compiler.emit.codegen import model_source
from linkc.frontend import build


def spec(ops: str, shape: list[int]) -> str:
    return (f"linkc: 1\nname: t\ninput: {shape}\nnodes:\n  a: {{from: input, ops: [{ops}]}}\n"
            "output: a\n")


class LayerScale(nn.Module):
    """timm's LayerScale for NCHW maps: x * gamma.view(1, -1, 1, 1)."""

    def __init__(self, dim: int, init_values: float):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma.view(1, -1, 1, 1) if x.dim() == 4 else x * self.gamma


def test_scale_starts_at_init_and_multiplies_each_channel():
    gm = linkc.compile(spec("{scale: 1.0e-6}", [5, 4, 4]), passes=[])
    (weight,) = gm.parameters()
    assert torch.equal(weight.detach(), torch.full((5,), 1e-6))
    reference = LayerScale(5, 1e-6)
    with torch.no_grad():
        weight.uniform_(-2, 2)
        reference.gamma.copy_(weight)
    x = torch.randn(3, 5, 4, 4)
    assert torch.equal(gm(x), reference(x))
    y = gm(x)
    y.sum().backward()  # learnable: the gradient is each channel's sum of its inputs
    assert torch.allclose(weight.grad, x.sum((0, 2, 3)))


def test_scale_on_vectors_and_its_default():
    g = build(spec("gap, scale", [6, 3, 3]))
    assert g.nodes["a"].shape == (6,)
    assert g.param_count == 6
    gm = linkc.compile(spec("gap, scale", [6, 3, 3]), passes=[])
    (weight,) = gm.parameters()
    assert torch.equal(weight.detach(), torch.ones(6))
    with torch.no_grad():
        weight.uniform_(-2, 2)
    x = torch.randn(2, 6, 3, 3)
    assert torch.equal(gm(x), x.mean((2, 3)) * weight)


def test_written_model_rebuilds_the_scale(tmp_path):
    gm = linkc.compile(spec("{scale: 0.1}", [4, 3, 3]), passes=[])
    source = model_source(gm)
    assert "ChannelScale(channels=4, init=0.1)" in source
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)
    model = namespace["Model"]()
    assert torch.equal(next(model.parameters()).detach(), torch.full((4,), 0.1))
    with torch.no_grad():
        next(gm.parameters()).uniform_(-1, 1)
    model.load_state_dict(gm.state_dict())
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(model(x), gm(x))


CONVNEXT = """
linkc: 1
name: convnext-stage
params: {c: 16, depth: 2}
input: [16, 8, 8]
blocks:
  convnext:                    # dwconv7 - LN - 1x1 (4c) - GELU - 1x1 (c) - layer scale, + x
    in: x
    nodes:
      f: {from: x, ops: ["conv(c, 7, groups=c, bias=true)", {layernorm: {eps: 1.0e-6}},
                         "conv(4*c, 1, bias=true)", gelu, "conv(c, 1, bias=true)",
                         {scale: 1.0e-6}, {drop_path: 0.1}]}
      y: {from: [f, x], merge: add}  # timm's order: the layout of the sum follows it
    out: y
nodes:
  stage: {from: input, repeat: depth, block: convnext}
output: stage
"""


class LayerNorm2d(nn.LayerNorm):
    """timm's LayerNorm2d: permute to NHWC, layer_norm, permute back."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Block(nn.Module):
    """timm's ConvNeXt block with conv_mlp=True (1x1 convs), in eval (DropPath is the identity)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc1 = nn.Conv2d(dim, 4 * dim, 1)
        self.fc2 = nn.Conv2d(4 * dim, dim, 1)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x):
        shortcut = x
        x = self.fc2(F.gelu(self.fc1(self.norm(self.conv_dw(x)))))
        x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        return x + shortcut


def test_convnext_block_with_layer_scale_equals_timm_style_module():
    gm = linkc.compile(CONVNEXT, passes=[]).eval()
    blocks = nn.Sequential(Block(16), Block(16)).eval()
    ours = [p for p in gm.parameters()]
    theirs = [p for b in blocks for p in (b.conv_dw.weight, b.conv_dw.bias, b.norm.weight,
                                            b.norm.bias, b.fc1.weight, b.fc1.bias, b.fc2.weight,
                                            b.fc2.bias, b.gamma)]
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]
    assert build(CONVNEXT).param_count == sum(p.numel() for p in theirs)
    with torch.no_grad():
        for mine, reference in zip(ours, theirs):
            mine.uniform_(-0.5, 0.5)
            reference.copy_(mine)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(gm(x), blocks(x))


def test_layer_scale_is_not_a_weighted_layer_in_path_lengths():
    from linkc.analyze.paths import layer_count

    g = build(CONVNEXT)  # dwconv, layernorm, 1x1, gelu, 1x1, scale, drop_path: 3 layers
    assert layer_count(g.nodes["stage.0.f"]) == 3
