"""An independent eager interpreter of the expanded flat graph, for differential tests.

It walks `FlatGraph.order` and computes every node with plain
`torch.nn.functional` calls from the op arguments that shape inference bound,
taking the weights from the compiled module by name (`<node id>.<op name>`,
`<node id>.merge`). It deliberately shares nothing with `linkc.compiler`: the
merge semantics, "same" padding and broadcasting are written out again here
from the spec language's description, so a lowering bug shows up as a mismatch.
Run the module in eval mode (BN uses running statistics, dropout is off).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from linkc.expand.flat_graph import INPUT, FlatGraph, FlatNode

_ACTIVATIONS = {
    "relu": F.relu, "sigmoid": torch.sigmoid, "gelu": F.gelu, "silu": F.silu,
    "tanh": torch.tanh, "identity": lambda x: x, "dropout": lambda x: x,
}


def _pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    extra = torch.zeros((x.shape[0], channels - x.shape[1], *x.shape[2:]), dtype=x.dtype)
    return torch.cat([x, extra], 1)


def _merge(node: FlatNode, xs: list[torch.Tensor], weights: dict) -> torch.Tensor:
    merge = node.effective_merge()
    if merge is None:
        return xs[0]
    name = merge.name
    if name == "concat":
        return torch.cat(xs, 1)
    if name == "mul":
        rank = max(x.dim() for x in xs)
        out = torch.ones(())
        for x in xs:
            out = out * x.reshape(*x.shape, *([1] * (rank - x.dim())))
        return out
    if name == "dwsum":
        w, b = weights[f"{node.id}.merge.weight"], weights[f"{node.id}.merge.bias"]
        view = (1, -1) + (1,) * (xs[0].dim() - 2)
        return sum(x * w[j].reshape(view) for j, x in enumerate(xs)) + b.reshape(view)
    channels = max(x.shape[1] for x in xs)
    if node.pad != "zeros":
        assert all(x.shape[1] == channels for x in xs), "unpadded merge of unequal widths"
    xs = [_pad_channels(x, channels) for x in xs]
    if name == "add":
        return sum(xs)
    if name == "mean":
        return sum(xs) / len(xs)
    if name == "wsum":
        return sum(x * inp.weight for x, inp in zip(xs, node.inputs))
    raise AssertionError(f"the interpreter does not know merge '{name}'")


def _op(call, x: torch.Tensor, weights: dict, prefix: str) -> torch.Tensor:
    name, a = call.op.name, call.args
    get = lambda key: weights.get(f"{prefix}.{key}")  # noqa: E731
    if name in _ACTIVATIONS:
        return _ACTIVATIONS[name](x)
    if name == "conv":
        pad = a.dilation * (a.k - 1) // 2 if a.padding is None else a.padding
        return F.conv2d(x, get("weight"), get("bias"), a.stride, pad, a.dilation, a.groups)
    if name == "bn":
        return F.batch_norm(x, get("running_mean"), get("running_var"), get("weight"),
                            get("bias"), training=False, eps=a.eps)
    if name in ("maxpool", "avgpool"):
        fn = F.max_pool2d if name == "maxpool" else F.avg_pool2d
        return fn(x, a.k, a.stride or a.k, a.padding)
    if name == "gap":
        return x.mean(dim=(2, 3))
    if name == "flatten":
        return x.reshape(x.shape[0], -1)
    if name == "linear":
        return F.linear(x, get("weight"), get("bias"))
    raise AssertionError(f"the interpreter does not know op '{name}'")


def interpret(g: FlatGraph, weights: dict[str, torch.Tensor], x):
    """The value of `g.output` for input batch `x` (a tensor, or a mapping from input
    name to batch), given a state_dict-like `weights`; a tuple for several outputs."""
    values = dict(x) if isinstance(x, dict) else {INPUT: x}
    for node_id in g.order:
        node = g.nodes[node_id]
        xs = []
        for inp in node.inputs:
            v = values[inp.src]
            if inp.slice is not None:
                v = v[:, inp.slice[0]:inp.slice[1]]
            xs.append(v)
        value = _merge(node, xs, weights)
        assert tuple(value.shape[1:]) == tuple(node.merged_shape), (node.id, value.shape)
        for call in node.ops:
            value = _op(call, value, weights, f"{node.id}.{call.name}")
            assert tuple(value.shape[1:]) == tuple(call.out_shape), (node.id, call.name)
        values[node_id] = value
    outs = tuple(values[o] for o in g.outputs)
    return outs[0] if len(outs) == 1 else outs
