"""The torch modules the example plugin's entries lower to.

Each module's `extra_repr` is its constructor's keyword arguments: the generated
model.py writes `linkc_example.modules.<Class>(<extra_repr>)` to rebuild it.
"""

import torch
from torch import nn


class SeparableConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride,
                                   kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}")


class SoftClip(nn.Module):
    def __init__(self, limit: float = 3.0):
        super().__init__()
        self.limit = limit

    def forward(self, x):
        return self.limit * torch.tanh(x / self.limit)

    def extra_repr(self) -> str:
        return f"limit={self.limit!r}"


class FastFusion(nn.Module):
    """out = sum_i w_i x_i / (eps + sum_j w_j) with w = relu(v), v learnable (init 1)."""

    def __init__(self, inputs: int, eps: float = 1e-4):
        super().__init__()
        self.inputs, self.eps = inputs, eps
        self.weight = nn.Parameter(torch.ones(inputs))

    def forward(self, *xs):
        w = torch.relu(self.weight)
        w = w / (w.sum() + self.eps)
        out = xs[0] * w[0]
        for i in range(1, len(xs)):
            out = out + xs[i] * w[i]
        return out

    def extra_repr(self) -> str:
        return f"inputs={self.inputs}, eps={self.eps!r}"
