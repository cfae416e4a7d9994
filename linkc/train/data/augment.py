"""Crop-and-flip augmentation of whole batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["augment_batch"]


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and random horizontal flip of a (N, C, H, W) batch.

    The standard CIFAR recipe, vectorised: every sample's crop offsets and flip
    are drawn at once (row offsets, column offsets, flips, in that order) on
    the generator's device, then one gather builds the batch on ``x``'s
    device. The same generator state therefore gives the same augmentation
    whether ``x`` lives on the CPU or a GPU. Padding with zeros pads with the
    mean pixel, since ``x`` is normalised.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(x.device)
    flip = (torch.rand(n, generator=generator, device=gdev) < 0.5).to(x.device)

    # One gather over the flattened padded planes: output pixel (i, j) of sample k
    # reads padded row dy[k] + i and column dx[k] + j (or w - 1 - j when flipped).
    padded = F.pad(x, (pad, pad, pad, pad)).reshape(n, c, -1)
    ar_w = torch.arange(w, device=x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = dx[:, None] + torch.where(flip[:, None], w - 1 - ar_w, ar_w)  # (N, W)
    index = rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]  # (N, H, W)
    out = padded.gather(2, index.reshape(n, 1, h * w).expand(n, c, h * w))
    return out.reshape(n, c, h, w)
