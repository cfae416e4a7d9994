"""What training makes of a spec's inputs and outputs.

Outputs. The first output is the main one: accuracy, the test loss and
`linkc evaluate` use it alone. The others are auxiliary heads (deep supervision,
DenseNet's companion classifiers, GoogLeNet's side heads) trained through
`loss_weights`: the loss is `CE(main) + sum_k w_k CE(aux_k)`, each head
predicting the same labels, so a weighted head must give as many class scores
as the main one. A head without a weight is computed but not trained.

Inputs. The data sets hold one image per sample, so a spec with several inputs
trains only on `--data synthetic`: the values of all its inputs are drawn as one
flat random tensor per sample (normalised per value like a synthetic image) and
`Trainable` splits it into the inputs, in order. A real data set for such a spec
is refused with that explanation, rather than fed to one input and guessed for
the others.
"""

from __future__ import annotations

from math import prod

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, TrainConfig
from .data import parse_data_arg


def data_shape(g, data: str) -> tuple[int, ...]:
    """The sample shape the data set is loaded at: the input's, or for several inputs
    (synthetic data only) one `(values, 1, 1)` tensor that `Trainable` splits."""
    if len(g.inputs) == 1:
        return tuple(g.input_shape)
    if parse_data_arg(data).kind != "synthetic":
        names = ", ".join(f"{k} {list(v)}" for k, v in g.inputs.items())
        raise ConfigError(
            f"spec '{g.name}' takes {len(g.inputs)} inputs ({names}), but the data set "
            f"'{data}' gives one image per sample. Train it on random tensors for "
            "every input with --data synthetic, or give the spec one input.")
    return (sum(prod(s) for s in g.inputs.values()), 1, 1)


def output_weights(g, config: TrainConfig) -> tuple[float, ...]:
    """The loss weight of each output, in order: 1 for the main one, then the
    `loss_weights` of the others (0 where none is given)."""
    names = list(g.output_names)
    main, others = names[0], names[1:]
    for name in config.loss_weights:
        if name == main:
            raise ConfigError(f"loss_weights: '{main}' is the main output of spec '{g.name}'; "
                              "its loss always has weight 1 (weigh the other outputs).")
        if name not in others:
            listed = ", ".join(others) if others else "none: the spec has one output"
            raise ConfigError(f"loss_weights: spec '{g.name}' has no auxiliary output "
                              f"'{name}' (its auxiliary outputs: {listed}).")
    weights = (1.0, *(float(config.loss_weights.get(n, 0.0)) for n in others))
    main_shape = tuple(g.nodes[g.output].shape)
    for name, node_id, w in zip(names[1:], g.outputs[1:], weights[1:]):
        shape = tuple(g.nodes[node_id].shape)
        if w and shape != main_shape:
            raise ConfigError(f"loss_weights: output '{name}' has shape {list(shape)}, but "
                              f"an auxiliary head predicts the same classes as the main "
                              f"output '{main}' {list(main_shape)}.")
    return weights


def unweighted_heads(g, weights: tuple[float, ...]) -> list[str]:
    """Auxiliary outputs that the loss leaves out (weight 0), for a notice."""
    return [n for n, w in zip(g.output_names[1:], weights[1:]) if not w]


def _number(w: float) -> str:
    return f"{w:g}"


def loss_labels(g, weights: tuple[float, ...], label_smoothing: float) -> tuple[str, str]:
    """(what the training loss is, what the test loss is), as a plot's legend says them:
    the training loss sums the weighted heads, with label smoothing; the test loss is
    the main head's plain cross-entropy."""
    names = list(g.output_names)
    terms = [f"CE({names[0]})"] + [f"{_number(w)}·CE({n})" for n, w in zip(names[1:], weights[1:])
                                   if w]
    train = " + ".join(terms) + (f", label smoothing {_number(label_smoothing)}"
                                 if label_smoothing else "")
    return train, f"CE({names[0]})"


class Trainable(nn.Module):
    """The compiled net as training calls it: one batch tensor in (several inputs
    arrive packed, see the module doc), the tuple of outputs out."""

    def __init__(self, net: nn.Module, g):
        super().__init__()
        self.net = net
        self.shapes = [tuple(s) for s in g.inputs.values()]

    def forward(self, x: torch.Tensor) -> tuple:
        if len(self.shapes) == 1:
            xs = (x,)
        else:
            flat = x.flatten(1)
            sizes = [prod(s) for s in self.shapes]
            xs = tuple(part.reshape(-1, *shape) for part, shape in
                       zip(flat.split(sizes, dim=1), self.shapes))
        out = self.net(*xs)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def weighted_loss(outs: tuple, y: torch.Tensor, weights: tuple[float, ...],
                  label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed loss to optimise, summed cross-entropy of the main output)."""
    main = F.cross_entropy(outs[0].float(), y, reduction="sum", label_smoothing=label_smoothing)
    total = main
    for out, w in zip(outs[1:], weights[1:]):
        if w:
            total = total + w * F.cross_entropy(out.float(), y, reduction="sum",
                                                label_smoothing=label_smoothing)
    return total, main
