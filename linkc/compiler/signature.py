"""What a lowered GraphModule takes and returns, read from its graph.

`lower` makes one placeholder per model input (in order) whose `meta["linkc"]`
holds the input's name and one sample's shape, and returns one tensor or a tuple
for several outputs. Checks, exports and benchmarks build their example batches
here, so none of them assumes a single input.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import fx


def input_shapes(gm: fx.GraphModule) -> dict[str, tuple[int, ...]]:
    """Model input name -> one sample's shape, in the order `forward` takes them."""
    return {n.meta["linkc"]["id"]: tuple(n.meta["linkc"]["shape"])
            for n in gm.graph.nodes if n.op == "placeholder"}


def output_names(gm: fx.GraphModule) -> list[str]:
    """The outputs as the spec names them (`output` for a spec with one output)."""
    outputs = gm.meta.get("linkc", {}).get("outputs", {})
    return list(outputs) if len(outputs) > 1 else ["output"]


def example_inputs(gm: fx.GraphModule, batch: int,
                   make: Callable[..., torch.Tensor] = torch.randn, **kwargs) -> tuple:
    """One batch for every input: `make((batch, *shape), **kwargs)` each."""
    return tuple(make((batch, *shape), **kwargs) for shape in input_shapes(gm).values())


def as_tuple(out) -> tuple:
    """A module's result as a tuple of outputs (one output is a bare tensor)."""
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)
