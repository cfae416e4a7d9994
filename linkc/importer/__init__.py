"""`linkc import`: an existing nn.Module becomes an editable spec, with its weights.

    result = linkc.import_module(model, (3, 32, 32))
    Path("net.yaml").write_text(result.spec)
    save_file(result.weights, "net.safetensors")   # loads into linkc.compile("net.yaml")

The steps, one module each: `trace` (torch.fx on a sample of the input's shape,
stopping at the layers the registry knows; shape reads are numbers, the batch stays
open), `inverse` (the registry's import inverses: which op a layer or call is, checked
by running the op's own lowering), `calls` (fx nodes -> values: ops, merges, constants
and symbolic kinds), `views` (indexing, reshaping and padding idioms), `sums` (a
linear combination -> add, mean, wsum, or a concat of channel ranges), `values`
(values -> `ops(merge(refs))` nodes), `structure` and `grouping` (blocks, repeats,
dense patterns from the module tree) and `write` (the YAML). The weights are then
carried over by compiling the written spec and giving each of its layers the state of
the layer (or parameter) it came from, so the spec's state_dict is the module's under
the spec's names. The user's code runs (to build and trace the module); the spec never
does.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .trace import NotImportable, trace_module

__all__ = ["NotImportable", "ImportResult", "import_module", "load_factory"]


@dataclass
class ImportResult:
    spec: str                 # the spec's text
    weights: dict             # state_dict under the spec's names (tensors)
    nodes: int                # nodes of the expanded graph
    params: int

    def __repr__(self) -> str:  # the weights are large: never print them
        return (f"ImportResult({self.nodes} nodes, {self.params:,} parameters, "
                f"{len(self.spec.splitlines())} spec lines)")


def load_factory(target: str, kwargs: dict[str, Any] | None = None):
    """`path/to/model.py:factory` or `package.module:factory` -> the module it returns
    (a class is a factory too). This runs the user's code, on purpose."""
    where, sep, name = target.rpartition(":")
    if not sep or not name.isidentifier():
        raise NotImportable(f"'{target}': expected FILE.py:FACTORY or package.module:FACTORY")
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise NotImportable(f"'{where}': no such file")
        mod_name = "_linkc_import_" + re.sub(r"\W", "_", path.stem)
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise NotImportable(f"running '{where}' failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise NotImportable(f"cannot import '{where}': {exc}") from None
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        raise NotImportable(f"'{where}' has no callable '{name}'")
    try:
        built = factory(**(kwargs or {}))
    except Exception as exc:
        raise NotImportable(f"{name}(**{json.dumps(kwargs or {})}) failed: "
                           f"{type(exc).__name__}: {exc}") from None
    import torch.nn as nn

    if not isinstance(built, nn.Module):
        raise NotImportable(f"{name}() returned a {type(built).__name__}, not an nn.Module")
    return built


def _name_of(module) -> str:
    name = getattr(module, "meta", {}).get("linkc", {}).get("name") if hasattr(module, "meta") \
        else None
    return name or re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", type(module).__name__).lower()


def import_module(module, input_shape: Sequence[int] | Sequence[Sequence[int]],
                  name: str | None = None, source: str | None = None) -> ImportResult:
    """Trace `module` and write it as a spec; `input_shape` is one sample's shape
    (a list of shapes for several inputs)."""
    from .calls import container_numbers
    from .structure import fold
    from .values import spec_nodes
    from .write import spec_text

    shapes = [tuple(input_shape)] if isinstance(input_shape[0], int) else \
        [tuple(s) for s in input_shape]
    traced = trace_module(module, shapes)
    inputs, outputs, nodes = spec_nodes(traced)
    input_names = ["input"] if len(inputs) == 1 else [v.name for v in inputs]
    renamed = container_numbers(module)  # ModuleDict keys as numbers, as homes have them
    classes = {renamed.get(path, path): type(m).__name__ for path, m in module.named_modules()}
    structures = {renamed.get(path, path): (type(m).__name__, tuple(
        (key, tuple(value.shape)) for key, value in m.state_dict().items()))
        for path, m in module.named_modules()}
    layout = fold(nodes, inputs, outputs, classes, input_names, structures)
    spec_name = name or _name_of(module)
    header = f"Imported from {source or type(module).__name__} by linkc import."
    text = spec_text(spec_name, header, layout.params, dict(zip(input_names, shapes)),
                     layout.blocks, layout.nodes, layout.outputs)
    weights, count, flat = _carry_weights(text, module, nodes, layout)
    return ImportResult(text, weights, flat, count)


def _carry_weights(text: str, module, nodes, layout):
    """Compile the spec and give each of its layers the state of the layer (or parameter)
    it came from, reshaped where only unit dimensions differ (a Linear as a 1x1 conv)."""
    from ..compiler.lower import lower
    from ..frontend import SpecError, build

    try:
        g = build(text)
    except SpecError as exc:  # a bug here, not the user's: say what was written
        raise NotImportable(f"linkc import wrote a spec that does not check (a bug in "
                            f"linkc import; please report it with the module):\n{exc}\n\n"
                            f"{text}") from None
    gm = lower(g)
    layers: dict[str, list[str]] = {}
    merges: dict[str, str] = {}
    for fx_node in gm.graph.nodes:
        meta = fx_node.meta.get("linkc") or {}
        if fx_node.op != "call_module":
            continue
        if str(meta.get("what", "")).startswith("op:"):
            layers.setdefault(meta["id"], []).append(str(fx_node.target))
        else:
            merges[meta["id"]] = str(fx_node.target)
    target = dict(gm.named_modules())
    weights = {}
    for n in nodes:
        fid = layout.flat_ids.get(id(n))
        if fid is None:  # folded away (a dense block's final concatenation): no layers
            continue
        pairs = list(zip(n.states, layers.get(fid, [])))
        if n.merge_state is not None:
            pairs.append((n.merge_state, merges[fid]))
        for state, new in pairs:
            if not state:
                continue
            theirs = target[new].state_dict()
            if set(state) != set(theirs):
                raise NotImportable(f"a layer with state {sorted(state)} became the spec's "
                                    f"'{new}' with {sorted(theirs)} (a bug in linkc import)")
            for key, value in state.items():
                weights[f"{new}.{key}"] = value.detach().reshape(theirs[key].shape).clone()
    missing = sorted(set(gm.state_dict()) - set(weights))
    if missing:
        raise NotImportable(f"no weights for {', '.join(missing[:5])} (a bug in linkc import)")
    count = sum(p.numel() for p in gm.parameters())
    return weights, count, len(g.order)
