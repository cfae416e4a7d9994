"""No construct makes `linkc import` fail inside itself or write a spec that fails its
own check: each of these forwards (the constructs of real model files, good and bad)
either imports exactly or is refused with a located NotImportable."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import linkc
from linkc.importer import NotImportable, import_module

CONSTRUCTS = {
    "roll": lambda x: torch.roll(x, 1, 2), "sum over channels": lambda x: x.sum(1),
    "max over channels": lambda x: x.max(1)[0], "softmax": lambda x: x.softmax(1),
    "abs": lambda x: x.abs(), "square": lambda x: x ** 2, "float": lambda x: x.float(),
    "detach": lambda x: x.detach(), "normalize": lambda x: F.normalize(x, dim=1),
    "stack": lambda x: torch.stack([x, x], 1), "sum of all": lambda x: x.sum(),
    "plus a constant": lambda x: x + 1, "constant minus": lambda x: 1 - x,
    "negation": lambda x: -x, "square by product": lambda x: x * x,
    "ratio": lambda x: x / x, "cat on the batch": lambda x: torch.cat([x, x], 0),
    "cat on height": lambda x: torch.cat([x, x], 2), "height crop": lambda x: x[:, :, 1:3],
    "channel list": lambda x: x[:, [0, 2]], "new unit dim out": lambda x: x[..., None],
    "tokens": lambda x: x.view(x.size(0), x.size(1), -1).transpose(1, 2),
    "channels last out": lambda x: x.permute(0, 2, 3, 1),
    "bicubic": lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"),
    "bilinear size": lambda x: F.interpolate(x, size=(6, 6), mode="bilinear"),
    "mean of channels": lambda x: x.mean(1), "chunk in three": lambda x: torch.cat(x.chunk(3, 1), 1),
    "split height": lambda x: x.split(2, 2)[0], "narrow height": lambda x: x.narrow(2, 0, 2),
    "reflect pad": lambda x: F.pad(x, (0, 0, 0, 0, 1, 1), mode="reflect"),
    "pad with ones": lambda x: F.pad(x, (0, 0, 0, 0, 1, 1), value=1.0),
    "front pad then sum": lambda x: x[:, :3] + F.pad(x[:, 3:4], (0, 0, 0, 0, 1, 1)),
    "expand a slice": lambda x: x[:, :1].expand(-1, 4, -1, -1),
    "where": lambda x: torch.where(x > 0, x, 0 * x), "clamp": lambda x: x.clamp(0, 1),
    "times the batch": lambda x: x * x.size(0), "new zeros": lambda x: x.new_zeros(x.size()),
    "shape attribute": lambda x: x.view(x.shape[0], -1),
    "channels last memory": lambda x: x.contiguous(memory_format=torch.channels_last),
    "to float64": lambda x: x.to(torch.float64), "gelu tanh": lambda x: F.gelu(x, approximate="tanh"),
    "leaky": lambda x: F.leaky_relu(x, 0.2), "hardtanh": lambda x: F.hardtanh(x),
    "strided pool": lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    "dilated pool": lambda x: F.max_pool2d(x, 3, 1, 1, dilation=2),
    "avg without pad": lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
    "shuffle": lambda x: x.view(x.size(0), 2, 2, 4, 4).transpose(1, 2).reshape(x.size(0), 4, 4, 4),
}


class Host(nn.Module):
    def __init__(self, construct):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.construct = construct

    def forward(self, x):
        return self.construct(self.conv(x))


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_a_construct_imports_exactly_or_is_refused_with_a_location(name):
    module = Host(CONSTRUCTS[name]).eval()
    try:
        result = import_module(module, (4, 4, 4))
    except NotImportable as exc:
        assert "in module '(the model)'" in str(exc) or "cannot trace module" in str(exc)
        return
    again = linkc.compile(result.spec)  # a written spec always checks
    again.load_state_dict(result.weights)
    x = torch.randn(2, 4, 4, 4)
    with torch.no_grad():
        want, got = module(x), again.eval()(x)
    assert want.shape == got.shape and torch.allclose(want, got, rtol=0, atol=1e-6), name
