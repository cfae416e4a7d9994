"""Each new op against the torch module it should behave like, built here by hand.

The reference is constructed with explicit torch arguments (not linkc's lowering
kwargs), takes the compiled op's weights, and must give the same output in train
and eval mode; the compiled module's shape and parameter count must equal the
ones shape inference and the op's parameter rule predicted.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import linkc
from linkc.compiler.emit.codegen import model_source
from linkc.frontend import build


def compiled(ops: str, shape: list[int]):
    text = (f"linkc: 1\nname: t\ninput: {shape}\nnodes:\n  a: {{from: input, ops: [{ops}]}}\n"
            "output: a\n")
    return build(text), linkc.compile(text, passes=[])


def leaf(gm: nn.Module) -> nn.Module:
    (module,) = [m for name, m in gm.named_modules() if name.startswith("a.")]
    return module


class ChannelsLastLayerNorm(nn.Module):
    """The definition: nn.LayerNorm over C at each (h, w)."""

    def __init__(self, c):
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def shuffle(groups):
    def run(x):  # ShuffleNet: (g, C/g) -> (C/g, g)
        n, c, h, w = x.shape
        return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)
    return run


CASES = [  # (ops, input shape, reference)
    ("relu6", [4, 6, 6], nn.Hardtanh(0.0, 6.0)),
    ("hardswish", [4, 6, 6], lambda x: x * F.relu6(x + 3) / 6),
    ("hardsigmoid", [4, 6, 6], lambda x: F.relu6(x + 3) / 6),
    ("{leaky_relu: 0.2}", [4, 6, 6], lambda x: torch.where(x >= 0, x, 0.2 * x)),
    ("leaky_relu", [7], lambda x: torch.where(x >= 0, x, 0.01 * x)),
    ("{elu: 0.5}", [4, 6, 6], lambda x: torch.where(x > 0, x, 0.5 * (torch.exp(x) - 1))),
    ("{upsample: 2}", [4, 5, 5], lambda x: x.repeat_interleave(2, 2).repeat_interleave(2, 3)),
    ("{upsample: {scale: 2, mode: bilinear}}", [4, 5, 5],
     nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)),
    ("{upsample: {size: [7, 9], mode: bilinear, align_corners: true}}", [4, 5, 5],
     nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True)),
    ("{conv_transpose: [6, 3, 2]}", [4, 5, 5],
     nn.ConvTranspose2d(4, 6, 3, 2, padding=1, output_padding=1, bias=False)),
    ("{conv_transpose: {out: 6, k: 4, stride: 2, groups: 2, bias: true}}", [4, 5, 5],
     nn.ConvTranspose2d(4, 6, 4, 2, padding=1, groups=2, bias=True)),
    ("{conv_transpose: {out: 6, k: 3, stride: 2, padding: valid, dilation: 2}}", [4, 5, 5],
     nn.ConvTranspose2d(4, 6, 3, 2, padding=0, dilation=2, bias=False)),
    ("{adaptive_avgpool: {size: [3, 2]}}", [4, 7, 5], nn.AdaptiveAvgPool2d((3, 2))),
    ("{adaptive_maxpool: 3}", [4, 7, 5], nn.AdaptiveMaxPool2d(3)),
    ("{maxpool: {k: 3, stride: 2, padding: 1, ceil_mode: true}}", [4, 8, 8],
     nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    ("{avgpool: {k: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}}",
     [4, 8, 8], nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("{avgpool: {k: 3, stride: 1, padding: same}}", [4, 8, 8], nn.AvgPool2d(3, 1, 1)),
    ("{groupnorm: 2}", [4, 5, 5], nn.GroupNorm(2, 4)),
    ("layernorm", [4, 5, 5], ChannelsLastLayerNorm(4)),
    ("layernorm", [6], nn.LayerNorm(6)),
    ("{channel_shuffle: 3}", [6, 2, 2], shuffle(3)),
    ("{conv: {out: 5, k: 3, stride: 2, padding: same}}", [4, 7, 7],
     nn.Conv2d(4, 5, 3, 2, padding=1, bias=False)),
    ("{conv: {out: 5, k: 3, padding: valid}}", [4, 7, 7], nn.Conv2d(4, 5, 3, bias=False)),
]


def _load(reference, module):
    if isinstance(reference, ChannelsLastLayerNorm):
        reference.norm.load_state_dict(module.state_dict())
    elif isinstance(reference, nn.Module):
        reference.load_state_dict(module.state_dict())


@pytest.mark.parametrize("ops, shape, reference", CASES, ids=[f"{c[0]}-{len(c[1])}d" for c in CASES])
def test_op_matches_its_reference(ops, shape, reference):
    g, gm = compiled(ops, shape)
    module = leaf(gm)
    with torch.no_grad():  # non-trivial affine parameters, so a swapped weight shows
        for p in module.parameters():
            p.uniform_(-1, 1)
    _load(reference, module)
    assert sum(p.numel() for p in gm.parameters()) == \
        sum(c.op.params(c.in_shape, c.args) for c in g.nodes["a"].ops if c.op.params)
    x = torch.randn(3, *shape) * 4
    for train in (True, False):
        gm.train(train)
        if isinstance(reference, nn.Module):
            reference.train(train)
        y = gm(x)
        assert tuple(y.shape[1:]) == g.nodes["a"].shape
        torch.testing.assert_close(y, reference(x), rtol=1e-5, atol=1e-5)


def test_drop_path_is_the_identity_in_eval_and_drops_whole_samples_in_training():
    _, gm = compiled("{drop_path: 0.25}", [4, 3, 3])
    x = torch.randn(4000, 4, 3, 3)
    gm.eval()
    assert torch.equal(gm(x), x)
    gm.train()
    torch.manual_seed(7)
    y = gm(x)
    torch.manual_seed(7)  # the same draw, written out: one Bernoulli(0.75) per sample
    keep = torch.empty(4000, 1, 1, 1).bernoulli_(0.75)
    torch.testing.assert_close(y, x * keep / 0.75)
    dropped = (y == 0).flatten(1).all(1)
    kept = torch.isclose(y, x / 0.75).flatten(1).all(1)
    assert bool((dropped | kept).all())  # never a partial sample
    assert 0.70 < float(kept.float().mean()) < 0.80  # 4000 draws: 0.75 within ~7 sigma
    _, zero = compiled("{drop_path: 0}", [4, 3, 3])
    assert torch.equal(zero.train()(x), x)


def test_generated_model_rebuilds_settings_missing_from_torch_reprs(tmp_path):
    # AvgPool2d's repr omits ceil_mode and count_include_pad, Upsample's align_corners
    ops = ("{avgpool: {k: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}}, "
           "{upsample: {scale: 2, mode: bilinear, align_corners: true}}, layernorm, "
           "{drop_path: 0.1}, {conv_transpose: [4, 3]}, {channel_shuffle: 2}, hardswish")
    _, gm = compiled(ops, [4, 7, 7])
    source = model_source(gm)
    assert "ceil_mode=True, count_include_pad=False" in source and "align_corners=True" in source
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)  # the generated file, run as-is
    model = namespace["Model"]()
    model.load_state_dict(gm.state_dict())
    x = torch.randn(2, 4, 7, 7)
    torch.testing.assert_close(model.eval()(x), gm.eval()(x))
