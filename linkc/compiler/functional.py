"""The merge functions that lowered graphs call. Plain torch only: codegen copies
this module's source into a standalone `model.py`."""

import torch


def add(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def add_padded(*xs):
    """Sum of inputs whose channel counts differ: narrower ones count as zero-padded
    at the end of the channel axis (PyramidNet's zero-padded shortcut)."""
    channels = max(x.shape[1] for x in xs)
    out = None
    for x in xs:
        if x.shape[1] < channels:
            x = torch.nn.functional.pad(x, [0, 0] * (x.dim() - 2) + [0, channels - x.shape[1]])
        out = x if out is None else out + x
    return out


def concat(*xs):
    return torch.cat(xs, 1)


def mean(*xs):
    return add(*xs) * (1.0 / len(xs))


def mean_padded(*xs):
    return add_padded(*xs) * (1.0 / len(xs))


def wsum(*xs, weights):
    out = xs[0] * weights[0] if weights[0] != 1 else xs[0]
    for x, w in zip(xs[1:], weights[1:]):
        out = out + x if w == 1 else (out - x if w == -1 else out + x * w)
    return out


def wsum_padded(*xs, weights):
    channels = max(x.shape[1] for x in xs)
    padded = [x if x.shape[1] == channels else torch.nn.functional.pad(
        x, [0, 0] * (x.dim() - 2) + [0, channels - x.shape[1]]) for x in xs]
    return wsum(*padded, weights=weights)


def mul(*xs):
    rank = max(x.dim() for x in xs)
    out = None
    for x in xs:
        while x.dim() < rank:  # a per-channel gate (N, C) broadcasts over H, W
            x = x.unsqueeze(-1)
        out = x if out is None else out * x
    return out


def channel_slice(x, start: int, stop: int):
    return x[:, start:stop]


# Dense-block buffers (written by the merge_nary pass). A dense block's growing
# concatenations become prefix views of one buffer per block: each layer's output
# is copied in once, instead of every concatenation copying all earlier features
# again. The views alias one storage but are separate tensors with their own
# version counters, so autograd sees no in-place change to anything it saved: the
# channels a view covers are never written again after the view is made.
# Under torch.compile the plain concatenation is traced instead (inductor plans
# its own buffers and cannot trace storage aliasing).

def _alias(t, channels):
    """A new tensor over t's storage with t's strides and `channels` channels."""
    size = (t.shape[0], channels, *t.shape[2:])
    return torch.empty(0, dtype=t.dtype, device=t.device).set_(
        t.untyped_storage(), t.storage_offset(), size, t.stride())


class _DenseStart(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, capacity):
        fmt = (torch.channels_last if x.dim() == 4 and not x.is_contiguous()
               and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)
        buffer = torch.empty((x.shape[0], capacity, *x.shape[2:]), dtype=x.dtype,
                             device=x.device, memory_format=fmt)
        buffer[:, :x.shape[1]].copy_(x)
        return _alias(buffer, x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class _DenseAppend(torch.autograd.Function):
    @staticmethod
    def forward(ctx, prefix, x):
        ctx.channels = prefix.shape[1]
        out = _alias(prefix, prefix.shape[1] + x.shape[1])
        out[:, prefix.shape[1]:].copy_(x)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[:, :ctx.channels], grad[:, ctx.channels:]


def dense_start(x, capacity: int):
    """x copied into the first channels of a new buffer of `capacity` channels; returns
    the view of those channels."""
    if torch.compiler.is_compiling():
        return x
    return _DenseStart.apply(x, capacity)


def dense_append(prefix, x):
    """Write x into the buffer right after the view `prefix`; returns the longer view
    (equal to torch.cat([prefix, x], 1))."""
    if torch.compiler.is_compiling():
        return torch.cat([prefix, x], 1)
    return _DenseAppend.apply(prefix, x)
