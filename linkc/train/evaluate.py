"""Accuracy and loss of a model on a data set, and of a weights file on a spec."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checkpoint import check_model_keys, read_weights
from .distributed import Dist, all_sum
from .placement import batch_to

__all__ = ["Evaluation", "evaluate", "evaluate_weights", "output_classes"]


def output_classes(g) -> int:
    """The number of classes a spec predicts: its output must be a vector of scores."""
    from .config import ConfigError

    shape = tuple(g.nodes[g.output].shape)
    if len(shape) != 1:
        raise ConfigError(
            f"spec '{g.name}': training and evaluation need an output that is a vector of "
            f"class scores, but output '{g.output}' has shape {list(shape)}. End the "
            "topology with gap and linear (or flatten and linear).")
    return int(shape[0])


@dataclass
class Evaluation:
    loss: float  # mean cross-entropy
    accuracy: float  # fraction in [0, 1]
    samples: int


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int,
             device: torch.device, dist: Dist | None = None,
             autocast=contextlib.nullcontext) -> Evaluation:
    """Mean loss and accuracy over ``x``/``y``; each process takes every world-th sample."""
    was_training = model.training
    model.eval()
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    index = torch.arange(rank, x.shape[0], world, device=x.device)
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    for start in range(0, index.numel(), batch_size):
        idx = index[start:start + batch_size]
        xb, yb = batch_to(x[idx], device), batch_to(y[idx], device)
        with autocast():
            logits = model(xb)
        if isinstance(logits, (tuple, list)):  # several outputs: the first is evaluated
            logits = logits[0]
        totals[0] += F.cross_entropy(logits.float(), yb, reduction="sum").double()
        totals[1] += (logits.argmax(1) == yb).sum().double()
        totals[2] += yb.numel()
    if dist is not None:
        all_sum(totals, dist)
    model.train(was_training)
    loss, correct, count = totals.tolist()
    count = max(count, 1.0)
    return Evaluation(loss / count, correct / count, int(count))


def evaluate_weights(spec, weights: str | os.PathLike, data: str = "digits", *,
                     device: str = "auto", batch_size: int = 512, seed: int = 0,
                     synthetic_size: int = 512, max_memory: str | None = None) -> Evaluation:
    """Load ``weights`` (plain or a checkpoint) into the spec's model and evaluate it on
    the test split of ``data`` (the split ``linkc train`` uses with the same seed)."""
    from ..compiler.lower import lower
    from ..frontend import build
    from .data import parse_data_arg
    from .data.load import load_datasets
    from .distributed import resolve_device
    from .heads import Trainable, data_shape

    g = spec if hasattr(spec, "input_shape") else build(spec)
    _check_memory(g, data, batch_size, synthetic_size, max_memory)
    state = read_weights(weights)
    net = lower(g)
    check_model_keys(state, net.state_dict(), f"weights '{weights}'", g.name)
    net.load_state_dict(state)
    model = Trainable(net, g)
    dev = resolve_device(device)
    model.to(dev)
    classes = output_classes(g)
    sets = load_datasets(parse_data_arg(data), data_shape(g, data), seed=seed,
                         synthetic_size=synthetic_size, num_classes_hint=classes)
    return evaluate(model, sets.test.x, sets.test.y, batch_size=batch_size, device=dev)


def _check_memory(g, data: str, batch_size: int, synthetic_size: int,
                  max_memory: str | None) -> None:
    """The weights, the test set in memory and one batch's activations, before any exist."""
    from ..analyze.budget import check_memory, estimate_memory
    from .data import dataset_bytes, parse_data_arg
    from .heads import data_shape

    estimate = estimate_memory(g, batch_size, training=False, data_bytes=dataset_bytes(
        parse_data_arg(data), data_shape(g, data), synthetic_size))
    check_memory(estimate, max_memory, f"evaluating {g.name} on {data}", "--batch-size")
