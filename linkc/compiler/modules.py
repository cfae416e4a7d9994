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


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels at each position: (N, C, H, W) or (N, C).

    nn.LayerNorm normalises trailing dimensions, so channels are moved last and
    back; parameters and state_dict keys are nn.LayerNorm's (`weight`, `bias`)."""

    def forward(self, x):
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


class DropPath(nn.Module):
    """Stochastic depth: in training, each sample's input is zeroed with probability
    p and the kept ones are scaled by 1/(1-p); in eval, the identity."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype,
                           device=x.device).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ChannelScale(nn.Module):
    """Layer scale: each channel multiplied by a learnable factor, initialised to `init`
    (ConvNeXt, CaiT): x * weight.view(1, C, 1, 1) for maps, x * weight for (N, C)."""

    def __init__(self, channels: int, init: float = 1.0):
        super().__init__()
        self.channels, self.init = channels, init
        self.weight = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x):
        return x * self.weight.view((self.channels,) + (1,) * (x.dim() - 2))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, init={self.init!r}"


def BatchNorm(num_features: int, eps: float, momentum: float, rank: int) -> nn.Module:
    """BatchNorm2d for feature maps, BatchNorm1d for vectors."""
    cls = nn.BatchNorm2d if rank == 3 else nn.BatchNorm1d
    return cls(num_features, eps=eps, momentum=momentum)


class DenseBottleneck(nn.Module):
    """concat -> BN -> ReLU -> conv of a dense layer, recomputed in the backward pass.

    Written by the checkpoint_dense pass. In training with autograd on, the block
    runs under torch.utils.checkpoint (use_reentrant=False): none of the concatenation,
    normalised or activated features is kept for the backward pass (only the
    inputs, which the dense block keeps anyway), so training memory grows linearly
    with depth. The recomputation does not update the running statistics a second
    time. Under torch.compile the checkpoint is left to the compiler (inductor
    decides what to recompute), so the traced function is the plain computation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, padding: int = 0, bias: bool = False, eps: float = 1e-5,
                 momentum: float | None = 0.1):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.eps, self.momentum = eps, momentum
        self.bn_weight = nn.Parameter(torch.ones(in_channels))
        self.bn_bias = nn.Parameter(torch.zeros(in_channels))
        self.register_buffer("running_mean", torch.zeros(in_channels))
        self.register_buffer("running_var", torch.ones(in_channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.conv_weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size,
                                                    kernel_size))
        self.conv_bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, *xs):
        if not (self.training and torch.is_grad_enabled()) or torch.compiler.is_compiling():
            return self._run(xs, True)
        from torch.utils.checkpoint import checkpoint
        calls = []

        def run(*xs):  # the second call is the recomputation in backward
            calls.append(1)
            return self._run(xs, len(calls) == 1)
        return checkpoint(run, *xs, use_reentrant=False)

    def _run(self, xs, update_stats: bool):
        x = torch.cat(xs, 1) if len(xs) > 1 else xs[0]
        if self.training:
            factor = self.momentum
            if update_stats:
                self.num_batches_tracked.add_(1)
                if factor is None:  # cumulative average, as nn.BatchNorm2d does
                    factor = 1.0 / float(self.num_batches_tracked)
            # the recomputation updates throw-away copies (the same tensors must be saved)
            mean, var = ((self.running_mean, self.running_var) if update_stats else
                         (self.running_mean.clone(), self.running_var.clone()))
            x = torch.nn.functional.batch_norm(x, mean, var, self.bn_weight, self.bn_bias,
                                               True, factor or 0.0, self.eps)
        else:
            x = torch.nn.functional.batch_norm(x, self.running_mean, self.running_var,
                                               self.bn_weight, self.bn_bias, False, 0.0,
                                               self.eps)
        return torch.nn.functional.conv2d(torch.relu(x), self.conv_weight, self.conv_bias,
                                          self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.conv_bias is not None}, eps={self.eps}, "
                f"momentum={self.momentum}")
