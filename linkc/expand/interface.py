"""The model's interface: its inputs (`input:` or named `inputs:`) and outputs
(`output:` or a list `outputs:`), and the training loss weights of its outputs.

A spec with `input: [3, 32, 32]` has one input called `input`; with
`inputs: {image: [3, 32, 32], meta: [8]}` it has named inputs, referenced by
name at the top level (like `input`), that the model takes in that order. The
outputs are references resolved at the top level; the model returns them in
order (one tensor for one output, a tuple for several), and the first is the
main one that training evaluates. `train: {loss_weights: {aux1: 0.3}}` weighs
the other outputs' losses (deep supervision, companion classifiers).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..errors import Loc, SpecError, unknown
from .flat_graph import INPUT
from ..spec.load import Document, locate
from ..ops.registry import Shape
from ..spec.schema import Spec
from .scope import Scope, resolve

ONE_INPUT_HINT = "'input: [C, H, W]' for one input, or 'inputs: {image: [3, 32, 32], meta: [8]}'"


def _both(doc: Document, one: str, many: str, what: str) -> SpecError:
    return SpecError(f"the spec has both '{one}' and '{many}'", locate(doc.root, (many,), key=True),
                     f"write '{one}' for {what}, or list every one under '{many}'")


def model_inputs(spec: Spec, doc: Document, check_name: Callable[[str, Any, str], None]
                 ) -> tuple[dict[str, Shape], dict[str, Loc | None]]:
    """Input name -> shape (in order) and where each shape is written."""
    if spec.input is not None and spec.inputs is not None:
        raise _both(doc, "input", "inputs", "one input")
    if spec.input is not None:
        named = {INPUT: (spec.input, ("input",))}
    elif spec.inputs is not None:
        named = {name: (shape, ("inputs", name)) for name, shape in spec.inputs.items()}
    else:
        raise SpecError("missing required key 'input' in the spec", getattr(doc.root, "loc", None),
                        f"write {ONE_INPUT_HINT} for several named inputs")
    shapes, locs = {}, {}
    for name, (shape, path) in named.items():
        loc = locate(doc.root, path, key=name != INPUT)  # a named input: at its name
        if name != INPUT:
            check_name(name, loc, "model input")
            if name in spec.nodes:
                raise SpecError(f"node '{name}' has the same name as a model input",
                                locate(doc.root, ("nodes", name), key=True),
                                "rename the node or the input")
        if len(shape) == 2:
            what = "input" if name == INPUT else f"input '{name}'"
            raise SpecError(f"{what} must be [C, H, W] (images) or [F] (vectors)", loc)
        shapes[name], locs[name] = tuple(shape), loc
    return shapes, locs


def model_outputs(spec: Spec, doc: Document, top: Scope
                  ) -> tuple[list[str], list[str], list[Loc | None]]:
    """(flat ids, names as written, locations) of the outputs, in order."""
    if spec.output is not None and spec.outputs is not None:
        raise _both(doc, "output", "outputs", "one output")
    if spec.output is not None:
        written = [(spec.output, ("output",))]
    elif spec.outputs is not None:
        written = [(name, ("outputs", j)) for j, name in enumerate(spec.outputs)]
    else:
        raise SpecError("missing required key 'output' in the spec", getattr(doc.root, "loc", None),
                        "write 'output: NODE', or 'outputs: [head, aux1]' for several outputs")
    ids: list[str] = []
    names: list[str] = []
    locs: list[Loc | None] = []
    for name, path in written:
        loc = locate(doc.root, path)
        if name in names:
            raise SpecError(f"output '{name}' is listed twice", loc, "list each output once")
        node_id = resolve(top, name, loc)
        if node_id in top.inputs:
            if node_id == INPUT:
                raise SpecError("the output is the input itself", loc)
            raise SpecError(f"output '{name}' is the model input '{node_id}' itself", loc,
                            "an output is a node: list a node that reads the input")
        if node_id in ids:
            first = names[ids.index(node_id)]
            raise SpecError(f"outputs '{first}' and '{name}' are the same node '{node_id}'", loc,
                            "list each output once")
        ids.append(node_id)
        names.append(name)
        locs.append(loc)
    return ids, names, locs


def check_loss_weights(spec: Spec, doc: Document, output_names: list[str]) -> dict[str, float]:
    """`train: {loss_weights: {NAME: W}}` of the spec, checked against the outputs.

    Only outputs after the first may be named (the first, main output has weight 1);
    a weight is a finite number >= 0."""
    train = spec.train or {}
    if "loss_weights" not in train:
        return {}
    path = ("train", "loss_weights")
    weights = train["loss_weights"]
    if not isinstance(weights, dict):
        raise SpecError("train.loss_weights must map output names to weights, e.g. "
                        "{aux1: 0.3}", locate(doc.root, path))
    main, others = output_names[0], output_names[1:]
    out = {}
    for name, value in weights.items():
        kloc = locate(doc.root, (*path, name), key=True)
        if name == main:
            raise SpecError(f"'{main}' is the main output: its loss always has weight 1", kloc,
                            "loss_weights weigh the other outputs (auxiliary heads)")
        if name not in others:
            if not others:
                raise SpecError(f"loss_weights names '{name}', but the spec has one output",
                                kloc, "list the auxiliary heads in 'outputs: [main, aux1]'")
            err = unknown("output", str(name), others, kloc)
            raise SpecError(f"loss_weights: {err.message}", kloc, err.hint)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 0:
            raise SpecError(f"loss weight of '{name}' must be a number >= 0, got {value!r}",
                            locate(doc.root, (*path, name)))
        out[name] = float(value)
    return out
