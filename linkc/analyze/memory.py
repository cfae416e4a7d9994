"""Activation memory for a batch, from the flat graph's inferred shapes.

Two figures, both for float32 by default:
- `stored`: every tensor the forward pass produces (each merge result and each
  op output; channel slices are views and cost nothing). This is what autograd
  keeps for the backward pass without checkpointing, an upper bound for training.
- `peak_inference`: the most bytes alive at once when nodes run in topological
  order and each value is freed after its last reader: live node outputs, plus
  the node being computed (its merge result and two consecutive op outputs).
"""

from __future__ import annotations

from math import prod

from ..expand.flat_graph import FlatGraph


def _numel(shape) -> int:
    return prod(shape) if shape else 0


def activation_memory(g: FlatGraph, batch: int = 1, bytes_per_value: int = 4) -> dict[str, int]:
    """Bytes of activations for `batch` samples (see the module docstring)."""
    frees: dict[int, list[str]] = {}
    last_use: dict[str, int] = dict.fromkeys(g.inputs, -1)
    for step, node_id in enumerate(g.order):
        last_use[node_id] = step  # a value nobody reads is freed at once
        for inp in g.nodes[node_id].inputs:
            last_use[inp.src] = step
    last_use.update(dict.fromkeys(g.outputs, len(g.order)))
    for src, step in last_use.items():
        frees.setdefault(step, []).append(src)

    stored = 0
    live = {name: _numel(shape) for name, shape in g.inputs.items()}
    total = peak = sum(live.values())
    for step, node_id in enumerate(g.order):
        node = g.nodes[node_id]
        sizes = [_numel(node.merged_shape)] if node.effective_merge() is not None else []
        sizes += [_numel(c.out_shape) for c in node.ops]
        stored += sum(sizes)
        working = max((a + b for a, b in zip(sizes, sizes[1:] + [0])), default=0)
        peak = max(peak, total + working)
        live[node_id] = _numel(node.shape) if sizes else 0  # no merge, no ops: a view
        total += live[node_id]
        for src in frees.get(step, []):
            total -= live.pop(src, 0)
    scale = batch * bytes_per_value
    return {"batch": batch, "bytes_per_value": bytes_per_value,
            "stored_bytes": stored * scale, "peak_inference_bytes": peak * scale}
