"""Inference on the CPU in micro-batches whose activations fit the last-level cache.

A dense topology keeps every earlier feature of a block alive and reads all of them
again in each layer, so its inference is bound by memory traffic once a batch's
activations outgrow the cache. DenseNet-BC-100 holds 3.2 MB per image at its peak
(`linkc analyze`'s inference peak): a batch of 32 is about 100 MB against this
machine's 32 MiB L3. Run as four batches of 8, the same compiled module took 1.36x less
time for the 32 images; a residual net (0.25 MB per image) fits whole, and splitting
ResNet-110 only cost (0.79x at 8; benchmarks/RESULTS.md). So the batch is split into
the fewest equal chunks whose estimated working set fits the cache, which leaves the
residual nets whole.

Exact: in inference every op computes each sample from that sample alone (BN uses its
running statistics), so the chunks' outputs, concatenated, are the batch's. A plugin op
for which that is false carries the `mixes_samples` trait, and then the batch runs whole.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import fx, nn

from .fxutil import node_op

__all__ = ["MicroBatched", "chunk_count", "last_level_cache_bytes", "splittable"]

CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


@lru_cache(maxsize=1)
def last_level_cache_bytes() -> int | None:
    """The size of the highest-level cache of CPU 0 (the L3 its cores share), or None
    where the kernel does not say (then nothing is split)."""
    best: tuple[int, int] | None = None
    for index in sorted(CACHE_DIR.glob("index*")):
        try:
            level = int((index / "level").read_text())
            size = _size((index / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if best is None or level > best[0]:
            best = (level, size)
    return best[1] if best else None


def _size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def chunk_count(batch: int, bytes_per_sample: int, cache_bytes: int | None) -> int:
    """The fewest equal chunks of `batch` whose working sets each fit the cache."""
    if not cache_bytes or batch <= 1 or bytes_per_sample <= 0:
        return 1
    return min(batch, max(1, -(-batch * bytes_per_sample // cache_bytes)))


def splittable(gm: fx.GraphModule) -> bool:
    """Whether no op of `gm` mixes the samples of a batch in inference."""
    return not any("mixes_samples" in op.traits
                   for op in map(node_op, gm.graph.nodes) if op is not None)


class MicroBatched(nn.Module):
    """Calls `module` on a CPU batch in `chunk_count` equal chunks along dim 0 and
    concatenates what they return (a tensor, or a tuple of tensors); any other call
    (one chunk, a GPU tensor) goes to `module` unchanged."""

    def __init__(self, module: nn.Module, bytes_per_sample: int,
                 cache_bytes: int | None = None):
        super().__init__()
        self.module = module
        self.bytes_per_sample = bytes_per_sample
        self.cache_bytes = last_level_cache_bytes() if cache_bytes is None else cache_bytes

    def forward(self, *inputs: torch.Tensor):
        first = inputs[0]
        n = chunk_count(len(first), self.bytes_per_sample, self.cache_bytes) \
            if first.device.type == "cpu" else 1
        if n == 1:
            return self.module(*inputs)
        size = -(-len(first) // n)
        outs = [self.module(*part) for part in zip(*(x.split(size) for x in inputs))]
        if isinstance(outs[0], torch.Tensor):
            return torch.cat(outs)
        return type(outs[0])(torch.cat(parts) for parts in zip(*outs))
