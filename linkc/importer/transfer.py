"""A module's weights onto a spec the user wrote, paired by the graph both compute.

    result = linkc.transfer_weights(torchvision_resnet50, "resnet-50-imagenet")
    save_file(result.weights, "resnet50.safetensors")   # loads into linkc.compile(spec)

The module is traced with torch.fx (a module holding weights of its own and no child
that holds any is one layer), the spec is lowered, and both graphs are run once on
one random input. Each is reduced to its *units*: the inputs, the layers (modules
with weights; a per-channel parameter multiplied in a forward, layer scale, counts
as the `scale` op) and the joins (an op over two or more of them: a sum, a product,
a concatenation); a stateless op of one tensor (an activation, a pool, a reshape)
only passes its input on. Walking the spec forward from its inputs, each unit's
partner is the module unit of the same kind, output shape and weight shapes that
reads the partners of its inputs (in order, or in any order for a sum or product).
Registration order plays no part: a module that registers `downsample` before
`conv1` pairs as it computes. Where no partner exists, the two graphs part there
(exit 2, naming the spec node and what the module computes instead). With every
unit paired, the weights are copied and both graphs run on a new input: outputs that
differ name the first paired unit whose values differ, the place after which the
two compute something else (an activation, a pool, the kind of a merge).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import fx, nn

from ..compiler import compile_graph
from ..frontend import build
from .transfer_units import (Graph, LayerTracer, TransferError, Unit, describe_module,
                             describe_spec, pair_units, record, spec_loc)

__all__ = ["TransferError", "TransferResult", "transfer_weights"]


@dataclass
class TransferResult:
    weights: dict[str, torch.Tensor]  # the spec's state_dict, holding the module's values
    model: fx.GraphModule             # the compiled spec with those weights, in eval mode
    pairs: list[tuple[str, str]]      # (spec module path, module path or parameter name)
    difference: float                 # max |spec - module| over the outputs, relative

    def __repr__(self) -> str:
        return f"TransferResult({len(self.pairs)} layers paired, difference {self.difference:.2g})"


def _copy(spec_unit: Unit, mod_unit: Unit, mod: Graph) -> None:
    target = spec_unit.module
    if mod_unit.param is not None:  # a scale parameter read in the forward
        (weight,) = list(target.parameters())
        weight.copy_(mod.gm.get_parameter(mod_unit.param).reshape(weight.shape))
        return
    src, dst = mod_unit.module.state_dict(), target.state_dict()
    if list(src) != list(dst) and len(src) == len(dst):
        src = dict(zip(dst, src.values()))  # the same state under other names
    if list(src) != list(dst) or any(src[k].numel() != dst[k].numel() for k in dst):
        raise TransferError(f"{mod.describe(mod_unit.node)} holds {sorted(src)}, where "
                            f"{describe_spec(spec_unit.node)} holds {sorted(dst)}",
                            spec_loc(spec_unit.node))
    # a Linear's [out, in] is a 1x1 conv's [out, in, 1, 1]
    target.load_state_dict({k: v.reshape(dst[k].shape) for k, v in src.items()})


def _difference(a: Any, b: Any) -> float:
    """max |a - b| relative to b's magnitude, b in a's layout (a module may run a stretch
    channels-last where the spec runs channels-first); inf where no layout fits."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or \
            a.shape[:1] != b.shape[:1]:
        return math.inf
    orders = [order for order in itertools.permutations(range(1, b.dim()))
              if [b.shape[d] for d in order] == list(a.shape[1:])]
    return min((_relative(a, b.permute(0, *order)) for order in orders), default=math.inf)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.abs().max()) if b.numel() else 0.0
    diff = float((a.float() - b.float()).abs().max()) if b.numel() else 0.0
    return diff / scale if scale > 0 else diff


def transfer_weights(module: nn.Module, spec: str | os.PathLike,
                     params: Mapping[str, Any] | None = None, limits=None,
                     include_path: Sequence[str | os.PathLike] = (),
                     rtol: float = 1e-5, seed: int = 0) -> TransferResult:
    """The module's weights under the spec's names, paired by the graph both compute;
    raises TransferError (exit 2) where the graphs part or the outputs differ by more
    than `rtol` of their largest magnitude. `params`, `limits` and `include_path` are
    `linkc.build`'s."""
    g = build(spec, params=params, limits=limits, include_path=include_path)
    model = compile_graph(g, passes=()).eval()
    was_training = module.training
    module.eval()
    try:
        try:
            traced = fx.GraphModule(module, LayerTracer().trace(module))
        except Exception as exc:  # noqa: BLE001 - the user's forward: any failure is theirs
            raise TransferError(f"cannot trace {type(module).__name__} with torch.fx: {exc}",
                                None, "its forward must run on a symbolic input: no branch "
                                "on a tensor's value") from None
        generator = torch.Generator().manual_seed(seed)
        xs = [torch.randn((2, *shape), generator=generator) for shape in g.inputs.values()]
        spec_graph = Graph(model, record(model, xs), describe_spec)
        mod_graph = Graph(traced, _run_module(traced, xs, g), describe_module)
        pair = pair_units(spec_graph, mod_graph)
        with torch.no_grad():
            for s, m in pair.items():
                if spec_graph.units[s].module is not None:
                    _copy(spec_graph.units[s], mod_graph.units[m], mod_graph)
        xs = [torch.randn((2, *shape), generator=generator) for shape in g.inputs.values()]
        s_values, m_values = record(model, xs), _run_module(traced, xs, g)
        difference = _check_values(spec_graph, mod_graph, pair, s_values, m_values, rtol)
    finally:
        module.train(was_training)
    pairs = [(str(spec_graph.units[s].node.target), mod_graph.units[m].param
              or str(mod_graph.units[m].node.target)) for s, m in pair.items()
             if spec_graph.units[s].module is not None]
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TransferResult(weights, model, pairs, difference)


def _run_module(traced: fx.GraphModule, xs, g) -> dict[str, Any]:
    try:
        return record(traced, xs)
    except Exception as exc:  # noqa: BLE001 - the user's forward on the spec's input
        shapes = ", ".join(str(list(s)) for s in g.inputs.values())
        raise TransferError(f"the module fails on the spec's input {shapes}: {exc}") from None


def _check_values(spec: Graph, mod: Graph, pair: dict[int, int], s_values, m_values,
                  rtol: float) -> float:
    """The outputs' difference; where it exceeds rtol, the first unit whose values part."""
    outputs = [(s_values[spec.units[s].node.name], m_values[mod.units[m].node.name])
               for s, m in zip(spec.outputs, mod.outputs)]
    difference = max((_difference(a, b) for a, b in outputs), default=0.0)
    if difference <= rtol:
        return difference
    for unit in spec.live():
        a = s_values[unit.node.name]
        b = m_values[mod.units[pair[unit.index]].node.name]
        if _difference(a, b) > rtol:
            inputs = ", ".join(spec.describe(spec.units[i].node) for i in unit.inputs)
            raise TransferError(
                f"the spec and the module compute different values from "
                f"{spec.describe(unit.node)} on (paired with "
                f"{mod.describe(mod.units[pair[unit.index]].node)}): its inputs "
                f"({inputs or 'none'}) agree and its output differs by "
                f"{_difference(a, b):.2g} of its magnitude", spec_loc(unit.node),
                "an op between them differs (an activation, a pool, a merge's kind or "
                "weights): compare the spec's ops there with the module's forward")
    raise TransferError(f"the outputs differ by {difference:.2g} of their magnitude after "
                        "every paired unit agrees: the ops after the last layer differ",
                        None, "compare the spec's last ops with the module's forward")
