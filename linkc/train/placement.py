"""Where a run's tensors live: the check that they fit before any exist, then the data
set on the training device (or, on a GPU it would crowd, in pinned host memory)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .config import ConfigError, TrainConfig
from .data import parse_data_arg
from .distributed import Dist
from .heads import data_shape

__all__ = ["DeviceData", "batch_to", "check_fits", "place_data"]


class DeviceData(NamedTuple):
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def place_data(sets, device: torch.device) -> DeviceData:
    """The train and test tensors on ``device``; on CUDA only if they take under half its
    free memory, else pinned on the host, so batches copy without blocking."""
    tensors = (sets.train.x, sets.train.y, sets.test.x, sets.test.y)
    if device.type != "cuda":
        return DeviceData(*(t.to(device) for t in tensors))
    data_bytes = sum(t.numel() * t.element_size() for t in (sets.train.x, sets.test.x))
    if data_bytes < 0.5 * torch.cuda.mem_get_info(device)[0]:
        return DeviceData(*(t.to(device) for t in tensors))
    return DeviceData(*(t.pin_memory() for t in tensors))


def batch_to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch on `device`. A batch gathered from host data (index or slice of pinned
    memory) is pageable; copying that to a GPU makes the host wait for the GPU's queued
    work, so it is pinned first and the copy runs without blocking."""
    if t.device.type == "cpu" and device.type == "cuda" and not t.is_pinned():
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def check_fits(g, config: TrainConfig, dist: Dist) -> None:
    """Refuse, before any data or weights exist, a run whose batch does not give every
    process a sample or that does not fit in memory (analyze.budget)."""
    from ..analyze.budget import check_memory as check, estimate_memory
    from .data import dataset_bytes

    if config.batch_size < dist.world:
        raise ConfigError(f"batch_size {config.batch_size} is smaller than the number of "
                          f"processes ({dist.world}).")
    per_process = -(-config.batch_size // dist.world)
    data = dataset_bytes(parse_data_arg(config.data), data_shape(g, config.data),
                         config.synthetic_size)
    what = f"training {g.name} on {config.data}"
    flags = "--batch-size (or --eval-batch-size)"
    estimate = estimate_memory(g, per_process, training=True,
                               optimizer_buffers=1 if config.momentum else 0,
                               eval_batch=config.eval_batch_size, data_bytes=data)
    if dist.device.type != "cuda":
        check(estimate, config.max_memory, what, flags)
        return
    # On a GPU the model and its activations live in device memory, the data set on the host
    # (it moves to the device only when it fits beside them).
    estimate.parts.pop("data set in memory", None)
    free = (torch.cuda.mem_get_info(dist.device)[0], f"the free memory of {dist.device}")
    check(estimate, config.max_memory, what + f" on {dist.device}", flags, free)
