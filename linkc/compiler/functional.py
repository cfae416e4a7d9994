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
