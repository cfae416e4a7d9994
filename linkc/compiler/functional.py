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
    return add(*_widen(xs))


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


def _widen(xs):
    """xs zero-padded at the end of the channel axis to the widest one's channels."""
    channels = max(x.shape[1] for x in xs)
    return [x if x.shape[1] == channels else torch.nn.functional.pad(
        x, [0, 0] * (x.dim() - 2) + [0, channels - x.shape[1]]) for x in xs]


def wsum_padded(*xs, weights):
    return wsum(*_widen(xs), weights=weights)


# In-place merges (written by the inplace_merge pass, inference only). Each runs the
# floating-point operations of the function above in the same order, but in the
# storage of xs[into], a temporary that the pass found nothing else reads. `into` is
# 0 or 1, an operand of the first addition: a + b == b + a bit for bit, so only that
# addition's operands may swap, and a - b == (-b) + a. Where the result could differ
# (inputs of another shape or dtype; a layout whose out-of-place sum would get other
# strides than xs[into] has, which can change what later kernels compute), where
# autograd is recording, and under torch.compile (inductor plans its own buffers),
# the function above runs instead.

def _writable(t, xs) -> bool:
    """Whether t (one of xs) may hold the merge of xs in place, bit for bit."""
    if torch.compiler.is_compiling():
        return False
    if torch.is_grad_enabled() and any(x.requires_grad for x in xs):
        return False
    if any(x.shape != t.shape or x.dtype != t.dtype or x.device != t.device for x in xs):
        return False
    # an elementwise op on inputs all contiguous (else all channels_last) allocates its
    # result with that format's standard strides: t must have exactly those
    for fmt in (torch.contiguous_format, torch.channels_last):
        if all(x.is_contiguous(memory_format=fmt) for x in xs):
            return t.stride() == _standard_strides(t.shape, fmt)
    return False


def _standard_strides(shape, fmt):
    """The strides of torch.empty(shape, memory_format=fmt) (torch counts an empty
    dimension as 1 in contiguous strides, as 0 in channels_last ones)."""
    last = fmt is torch.channels_last
    strides, step = [0] * len(shape), 1
    for d in (1, 3, 2, 0) if last else range(len(shape) - 1, -1, -1):
        strides[d] = step
        step *= shape[d] if last else max(shape[d], 1)
    return tuple(strides)


def _sum_into(xs, into):
    out = xs[into].add_(xs[1 - into])  # the first addition; its operands swap for into=1
    for x in xs[2:]:
        out.add_(x)
    return out


def add_into(*xs, into: int):
    """add(*xs), computed in xs[into]."""
    return _sum_into(xs, into) if _writable(xs[into], xs) else add(*xs)


def add_padded_into(*xs, into: int):
    """add_padded(*xs), computed in xs[into] (one with the result's channels)."""
    xs = _widen(xs)
    return _sum_into(xs, into) if _writable(xs[into], xs) else add(*xs)


def mean_into(*xs, into: int):
    """mean(*xs), computed in xs[into]."""
    return _sum_into(xs, into).mul_(1.0 / len(xs)) if _writable(xs[into], xs) else mean(*xs)


def mean_padded_into(*xs, into: int):
    """mean_padded(*xs), computed in xs[into] (one with the result's channels)."""
    return mean_into(*_widen(xs), into=into)


def _wadd_(out, x, w):
    """wsum's step out + w * x, in out."""
    return out.add_(x) if w == 1 else (out.sub_(x) if w == -1 else out.add_(x * w))


def wsum_into(*xs, weights, into: int):
    """wsum(*xs, weights=weights), computed in xs[into]."""
    if not _writable(xs[into], xs):
        return wsum(*xs, weights=weights)
    if into == 0:
        out = _wadd_(xs[0].mul_(weights[0]) if weights[0] != 1 else xs[0], xs[1], weights[1])
    else:  # the first step in b's storage: b + first, (-b) + first, b * w + first
        first = xs[0] * weights[0] if weights[0] != 1 else xs[0]
        b, w = xs[1], weights[1]
        out = (b if w == 1 else (b.neg_() if w == -1 else b.mul_(w))).add_(first)
    for x, w in zip(xs[2:], weights[2:]):
        out = _wadd_(out, x, w)
    return out


def wsum_padded_into(*xs, weights, into: int):
    """wsum_padded(*xs, weights=weights), computed in xs[into]."""
    return wsum_into(*_widen(xs), weights=weights, into=into)


def mul(*xs):
    """The product of xs, left to right; a per-channel gate, (N, C) or (N, C, 1, 1), may
    stand in any position and broadcasts over the spatial dims of the maps."""
    rank = max(x.dim() for x in xs)
    out = None
    for x in xs:
        while x.dim() < rank:  # (N, C) -> (N, C, 1, 1)
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
