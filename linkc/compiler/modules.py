"""nn.Modules that lowering instantiates beyond those torch.nn provides."""

import torch
from torch import nn


class DepthwiseSum(nn.Module):
    """DelugeNet's cross-layer depthwise merge: out[c] = sum_j w[j, c] * x_j[c] + b[c].

    Initialised to the mean of the inputs (w = 1/k, b = 0), so a freshly built
    network starts like an averaging merge.
    """

    def __init__(self, inputs: int, channels: int):
        super().__init__()
        self.inputs = inputs
        self.channels = channels
        self.weight = nn.Parameter(torch.full((inputs, channels), 1.0 / inputs))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, *xs):
        shape = (1, self.channels) + (1,) * (xs[0].dim() - 2)
        out = self.bias.view(shape)
        for j, x in enumerate(xs):
            out = out + x * self.weight[j].view(shape)
        return out

    def extra_repr(self) -> str:
        return f"inputs={self.inputs}, channels={self.channels}"


class GlobalAvgPool(nn.Module):
    """(N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.mean((2, 3))


def BatchNorm(num_features: int, eps: float, momentum: float, rank: int) -> nn.Module:
    """BatchNorm2d for feature maps, BatchNorm1d for vectors."""
    cls = nn.BatchNorm2d if rank == 3 else nn.BatchNorm1d
    return cls(num_features, eps=eps, momentum=momentum)
