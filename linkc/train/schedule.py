"""The optimizer, its learning-rate schedule, and the data order of each epoch.

Defaults follow the seed papers (config.py): SGD with Nesterov momentum, weight decay
on weight matrices and kernels only, a linear warmup then cosine decay to ``min_lr``.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from .config import TrainConfig

__all__ = ["epoch_order", "lr_factor", "make_optimizer", "make_scheduler", "param_groups"]


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1 over ``warmup`` steps, then cosine decay to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on BN parameters or biases."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(net: torch.nn.Module, config: TrainConfig) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(net, config.weight_decay), lr=config.lr,
                           momentum=config.momentum, nesterov=config.nesterov)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule over the run's ``epochs * steps_per_epoch`` steps, stepped per step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(
        lr_factor, warmup=round(config.warmup_epochs * steps_per_epoch),
        total=steps_per_epoch * config.epochs, min_ratio=config.min_lr / config.lr))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's sample order: depends on (seed, epoch) only, so resuming re-creates it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
