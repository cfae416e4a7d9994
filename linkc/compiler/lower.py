"""Flat graph -> torch.fx GraphModule, built directly (no tracing).

One placeholder per model input (in order), one `call_module` per op whose qualified name is
the node's path plus the op's name (`d1.3.h.conv1`), one `call_function` per
merge (a `call_module` for merges with weights, such as `dwsum`); the
output is one tensor, or a tuple for several outputs. Each fx node
carries its spec location (the `Loc` SpecErrors carry, not a string) and inferred
shape in `node.meta["linkc"]`, so every later stage can quote the YAML line; an op's
node also its checked arguments (`args`), which the rules of its registry row read.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from torch import fx, nn

from ..ops import plugins
from ..expand.flat_graph import INPUT, FlatGraph, FlatNode
from ..gcpause import paused_gc
from ..ops.merges import MergeOptions
from . import functional
from .fxsource import track_source
from .fxutil import put_module
from .module_factory import ModuleFactory


def resolve_target(target: str) -> Callable[..., Any]:
    """'package.module:Name' from a registry entry -> the object it names.

    Only inside torch, linkc and the packages of registered plugins, matched as whole
    package names (`torchvision` or `torch_x` is not torch)."""
    found = _RESOLVED.get(target)
    if found is None:
        module_name, _, attr = target.partition(":")
        if module_name.split(".")[0] not in plugins.lowering_packages():
            raise ValueError(f"lowering target {target!r} is outside torch, linkc and the "
                             "installed plugins")
        found = _RESOLVED[target] = getattr(importlib.import_module(module_name), attr)
    return found


_RESOLVED: dict[str, Callable[..., Any]] = {}  # registries only grow while lowering


def _meta(fx_node: fx.Node, node: FlatNode, shape, loc, what: str) -> fx.Node:
    fx_node.meta["linkc"] = {"id": node.id, "what": what, "shape": tuple(shape), "loc": loc}
    return fx_node


def _lower_merge(graph: fx.Graph, root: nn.Module, node: FlatNode,
                 inputs: list[fx.Node]) -> fx.Node:
    merge = node.effective_merge()
    lowering = merge.lowering_for(node.input_shapes, node.pad)
    options = MergeOptions(pad=node.pad, weights=tuple(x.weight for x in node.inputs))
    kwargs = lowering.kwargs(node.input_shapes, options)
    target = resolve_target(lowering.target)
    if merge.params:
        path = f"{node.id}.merge"
        put_module(root, path, target(**kwargs))
        out = graph.call_module(path, tuple(inputs))
    else:  # named after the node it computes, so generated code reads like the spec
        out = graph.create_node("call_function", target, tuple(inputs), kwargs,
                                name=node.id.replace(".", "_"))
    return _meta(out, node, node.merged_shape, node.loc, f"merge:{merge.name}")


def lower(g: FlatGraph) -> fx.GraphModule:
    """Checked flat graph (shapes inferred) -> GraphModule whose state_dict reads like the spec."""
    with paused_gc():
        return _lower(g)


def _lower(g: FlatGraph) -> fx.GraphModule:
    # Modules go straight into the GraphModule: handing fx a separate root would make
    # it copy every submodule path again, which is a third of lowering time at 10k nodes.
    root = track_source(fx.GraphModule(nn.Module(), fx.Graph(), class_name=_class_name(g.name)))
    graph = fx.Graph()
    values: dict[str, fx.Node] = {}
    build_module = ModuleFactory()
    for name, shape in g.inputs.items():  # `forward(self, x)` for a spec with `input:`
        x = values[name] = graph.placeholder("x" if name == INPUT else name)
        x.meta["linkc"] = {"id": name, "what": "input", "shape": tuple(shape), "loc": None}
    for node_id in g.order:
        node = g.nodes[node_id]
        inputs = []
        for inp, shape in zip(node.inputs, node.input_shapes):
            value = values[inp.src]
            if inp.slice is not None:
                value = _meta(graph.call_function(functional.channel_slice, (value, *inp.slice)),
                              node, shape, inp.loc, "slice")
            inputs.append(value)
        value = _lower_merge(graph, root, node, inputs) if node.effective_merge() else inputs[0]
        for call in node.ops:
            lowering = call.op.lowering
            module = build_module(resolve_target(lowering.target),
                                  lowering.kwargs(call.in_shape, call.args))
            path = f"{node.id}.{call.name}"
            put_module(root, path, module)
            value = _meta(graph.call_module(path, (value,)), node, call.out_shape, call.loc,
                          f"op:{call.op.name}")
            value.meta["linkc"]["args"] = call.args  # the row's rules read them (passes)
        values[node_id] = value
    outputs = [values[o] for o in g.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    gm = root
    gm.graph = graph  # recompiles the forward once
    track_source(gm)  # fx would keep every compiled source for the life of the process
    gm.meta["linkc"] = {"name": g.name, "input_shape": tuple(g.input_shape),
                        "output_shape": tuple(g.nodes[g.output].shape),
                        "inputs": {k: tuple(v) for k, v in g.inputs.items()},
                        "outputs": {name: tuple(g.nodes[o].shape)
                                    for name, o in zip(g.output_names, g.outputs)}}
    return gm


def _class_name(name: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in name).split()
    cls = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    return cls if cls[0].isalpha() else f"Model{cls}"
