"""A graph reduced to its units, and the pairing of two such graphs (`transfer`).

A unit is an input, a layer (a module with weights; a per-channel parameter multiplied
in a forward, layer scale, counts as the `scale` op) or a join (an op over two or more
units: a sum, a product, a concatenation); a stateless op of one tensor (an activation,
a pool, a reshape) passes its input on. `Graph` reduces an fx graph, given every node's
value on one input, so the spec's lowered graph and a module's traced one read alike;
`pair_units` pairs them walking the spec forward from its inputs.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import fx, nn

from ..compiler.modules import ChannelScale
from ..errors import Loc, SpecError

__all__ = ["Graph", "LayerTracer", "TransferError", "Unit", "describe_module", "describe_spec",
           "pair_units", "record", "spec_loc"]

# The layer families the two sides must agree on; a class outside them is its own kind.
_FAMILIES: tuple[tuple[type, str], ...] = (
    (nn.Conv1d, "conv"), (nn.Conv2d, "conv"), (nn.Conv3d, "conv"),
    (nn.ConvTranspose1d, "conv_transpose"), (nn.ConvTranspose2d, "conv_transpose"),
    (nn.modules.batchnorm._BatchNorm, "bn"), (nn.Linear, "linear"),
    (nn.LayerNorm, "layernorm"), (nn.GroupNorm, "groupnorm"), (ChannelScale, "scale"))
_PRODUCTS = {"mul", "mul_", "__mul__", "__imul__", "__rmul__", "imul"}
_CONCATS = {"cat", "concat", "concatenate"}
_TORCH_DIR = os.path.dirname(torch.__file__)


class TransferError(SpecError):
    """The module and the spec compute different graphs, or different values."""


@dataclass
class Unit:
    index: int
    kind: str                          # "input", a layer family, "sum", "product", "cat"
    shape: tuple[int, ...]             # per sample
    inputs: list[int]
    node: fx.Node                      # the fx node whose value this unit is
    state: tuple[tuple[int, ...], ...] = ()
    module: nn.Module | None = None    # a layer's module
    param: str | None = None           # a scale parameter's name (read in a forward)
    pointwise: bool = False            # a 1x1 conv, stride 1, unpadded, ungrouped
    consumers: list[int] = field(default_factory=list)

    @property
    def ordered(self) -> bool:
        return self.kind not in ("sum", "product")

    @property
    def key(self) -> tuple:
        """What must agree between partners. Layout is not part of it: a module may run a
        stretch channels-last (permute, nn.LayerNorm, nn.Linear, permute back, as
        torchvision's ConvNeXt does) where a spec has layernorm and 1x1 convs, so the
        output's sizes are compared as a set, a pointwise conv is a linear layer, and
        weights are compared without their unit dimensions."""
        kind = "linear" if self.pointwise else self.kind
        state = tuple(tuple(d for d in s if d != 1) for s in self.state)
        return kind, tuple(sorted(self.shape)), state


class LayerTracer(fx.Tracer):
    """Stops at torch's layers and at every module that holds weights of its own and
    no child holding any (a LayerNorm2d written as permute, layer_norm, permute)."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        own = next(m.parameters(recurse=False), None) is not None or \
            next(m.buffers(recurse=False), None) is not None
        if own and all(next(c.parameters(), None) is None for c in m.children()):
            return True
        return super().is_leaf_module(m, qualname)


def _family(module: nn.Module) -> str:
    for cls, name in _FAMILIES:
        if isinstance(module, cls):
            return name
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _fn_name(node: fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _flat(args) -> Iterator[Any]:
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        elif isinstance(a, dict):
            yield from _flat(a.values())
        else:
            yield a


def record(gm: fx.GraphModule, xs: Sequence[torch.Tensor]) -> dict[str, Any]:
    """Every fx node's value on inputs xs (copies: a later in-place op, `out += x` or
    ReLU(inplace=True), must not change what was recorded)."""
    values: dict[str, Any] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            values[n.name] = result.clone() if isinstance(result, torch.Tensor) else result
            return result

    with torch.no_grad():
        Recorder(gm).run(*xs)
    return values


class Graph:
    """A graph's units, made from its fx nodes and their values."""

    def __init__(self, gm: fx.GraphModule, values: dict[str, Any], describe):
        self.gm, self.describe = gm, describe
        self.units: list[Unit] = []
        self.outputs: list[int | None] = []
        source: dict[fx.Node, int | None] = {}  # the unit a node's value passes on
        params: dict[fx.Node, str] = {}         # parameters read in the forward, and views
        for node in gm.graph.nodes:
            value = values.get(node.name)
            if node.op == "output":
                self.outputs = [source.get(a) for a in _flat(node.args)]
                continue
            if node.op == "placeholder":
                source[node] = self._add("input", value, [], node)
                continue
            if node.op == "get_attr":
                if _is_param(gm, node.target):
                    params[node] = node.target
                source[node] = None
                continue
            tensors = [a for a in _flat((node.args, node.kwargs)) if isinstance(a, fx.Node)
                       and isinstance(values.get(a.name), torch.Tensor)]
            read = [params[a] for a in tensors if a in params]
            feeds = [source[a] for a in tensors if a not in params and source.get(a) is not None]
            if node.op == "call_module" and _holds_state(gm.get_submodule(node.target)):
                module = gm.get_submodule(node.target)
                source[node] = self._add(_family(module), value, feeds, node, module=module,
                                         state=_state(module), pointwise=_pointwise(module))
            elif read and not feeds and len(read) == 1:
                params[node] = read[0]  # a view of the parameter (gamma.view(1, -1, 1, 1))
                source[node] = None
            elif read and _fn_name(node) in _PRODUCTS and len(read) == 1 and len(feeds) == 1:
                numel = gm.get_parameter(read[0]).numel()
                source[node] = self._add("scale", value, feeds, node, param=read[0],
                                         state=((numel,),))
            elif read:
                raise TransferError(f"{describe(node)} reads the parameter '{read[0]}' "
                                    f"directly in '{_fn_name(node)}'", None,
                                    "weights transfer pairs layers that are modules, and a "
                                    "per-channel parameter multiplied in (layer scale)")
            elif len(set(feeds)) >= 2:
                name = _fn_name(node)
                kind = "cat" if name in _CONCATS else "product" if name in _PRODUCTS else "sum"
                source[node] = self._add(kind, value, feeds, node)
            else:
                source[node] = feeds[0] if feeds else None
        self._flatten_joins()

    def _add(self, kind, value, inputs, node, **extra) -> int:
        shape = tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else ()
        unit = Unit(len(self.units), kind, shape, list(inputs), node, **extra)
        self.units.append(unit)
        for i in inputs:
            self.units[i].consumers.append(unit.index)
        return unit.index

    def _flatten_joins(self) -> None:
        """sum(sum(a, b), c) is sum(a, b, c), and cat(cat(a, b), c) is cat(a, b, c), where
        the inner one has no other reader: one graph may write `a + b + c`, the other a
        merge of three."""
        for unit in self.units:
            if unit.kind not in ("sum", "product", "cat"):
                continue
            flat: list[int] = []
            for i in unit.inputs:
                inner = self.units[i]
                if inner.kind == unit.kind and inner.consumers == [unit.index] and \
                        i not in self.outputs:
                    flat += inner.inputs
                    inner.kind = "merged"
                    for j in inner.inputs:
                        self.units[j].consumers = [unit.index if c == i else c
                                                   for c in self.units[j].consumers]
                else:
                    flat.append(i)
            unit.inputs = flat

    def live(self) -> list[Unit]:
        return [u for u in self.units if u.kind != "merged"]

    def signatures(self) -> dict[int, str]:
        """A digest of what each unit feeds, down to the outputs: two units of one graph
        with equal digests are interchangeable."""
        sig: dict[int, str] = {}
        for unit in reversed(self.live()):
            readers = sorted(f"{sig[c]}@{self.units[c].inputs.index(unit.index)}"
                             if self.units[c].ordered else sig[c] for c in unit.consumers)
            outputs = [k for k, o in enumerate(self.outputs) if o == unit.index]
            text = repr((unit.key, readers, outputs))
            sig[unit.index] = hashlib.sha1(text.encode()).hexdigest()
        return sig


def _is_param(gm: nn.Module, target: str) -> bool:
    try:
        gm.get_parameter(target)
        return True
    except AttributeError:
        return False


def _holds_state(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None or next(module.buffers(), None) is not None


def _state(module: nn.Module) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(p.shape) for p in module.parameters())


def _pointwise(module: nn.Module) -> bool:
    """A conv that is a linear map of each position's channels."""
    return isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and \
        all(k == 1 for k in module.kernel_size) and all(s == 1 for s in module.stride) and \
        module.padding in ("valid", (0,) * len(module.kernel_size)) and module.groups == 1


# ------------------------------------------------------------------------ pairing
def what(unit: Unit) -> str:
    weights = f", weights {', '.join(str(list(s)) for s in unit.state)}" if unit.state else ""
    return f"{unit.kind}, output {list(unit.shape)}{weights}"


def _same(a: Unit, b: Unit) -> bool:
    return a.key == b.key


def _reads(unit: Unit, other: Unit, partners: list[int]) -> bool:
    if unit.ordered:
        return other.inputs == partners
    return sorted(other.inputs) == sorted(partners)


def pair_units(spec: Graph, mod: Graph) -> dict[int, int]:
    """Spec unit -> module unit, walking the spec forward from its inputs."""
    s_inputs = [u for u in spec.live() if u.kind == "input"]
    m_inputs = [u for u in mod.live() if u.kind == "input"]
    if len(s_inputs) != len(m_inputs):
        raise TransferError(f"the spec takes {len(s_inputs)} inputs, the module "
                            f"{len(m_inputs)}")
    pair = {s.index: m.index for s, m in zip(s_inputs, m_inputs)}
    taken = set(pair.values())
    s_sig, m_sig = spec.signatures(), mod.signatures()
    for unit in spec.live():
        if unit.kind == "input":
            continue
        partners = [pair[i] for i in unit.inputs]
        readers = (mod.units[partners[0]].consumers if partners else
                   [u.index for u in mod.live() if not u.inputs])
        candidates = [mod.units[c] for c in readers if c not in taken and
                      _same(unit, mod.units[c]) and _reads(unit, mod.units[c], partners)]
        if not candidates:
            raise _parted(spec, mod, unit, partners, taken)
        # interchangeable units first (the same consumers down to the outputs), then
        # the module's order
        best = [c for c in candidates if m_sig[c.index] == s_sig[unit.index]] or candidates
        pair[unit.index] = best[0].index
        taken.add(best[0].index)
    left = [u for u in mod.live() if u.index not in taken]
    if left:
        raise TransferError(f"{mod.describe(left[0].node)} ({what(left[0])}) has no "
                            "counterpart in the spec, which has no unit left to pair it with",
                            None, "the spec lacks a layer or a merge the module has")
    for k, (s_out, m_out) in enumerate(zip(spec.outputs, mod.outputs)):
        if pair.get(s_out) != m_out:
            raise TransferError(f"output {k} of the spec is not the module's output {k}")
    if len(spec.outputs) != len(mod.outputs):
        raise TransferError(f"the spec has {len(spec.outputs)} outputs, the module "
                            f"{len(mod.outputs)}")
    return pair


def spec_loc(node: fx.Node) -> Loc | None:
    return node.meta.get("linkc", {}).get("loc")


def describe_spec(node: fx.Node) -> str:
    meta = node.meta.get("linkc", {})
    kind, _, name = str(meta.get("what", "")).partition(":")
    if node.op == "placeholder":
        return f"the spec's input '{node.name}'"
    if node.op == "call_module" and kind == "op":
        return f"spec op '{node.target}'"
    return f"spec node '{meta.get('id', node.name)}'" + (f" ({name} {kind})" if name else "")


def describe_module(node: fx.Node) -> str:
    frames = [(f, line) for f, line in re.findall(r'File "([^"]+)", line (\d+)',
                                                  node.stack_trace or "")
              if not f.startswith(_TORCH_DIR)]  # the user's line, not torch's own frames
    where = f", {os.path.basename(frames[-1][0])}:{frames[-1][1]}" if frames else ""
    if node.op == "call_module":
        return f"module '{node.target}'{where}"
    if node.op == "placeholder":
        return f"the module's input '{node.name}'"
    return f"'{_fn_name(node)}' in the module's forward{where}"


def _parted(spec: Graph, mod: Graph, unit: Unit, partners: list[int],
            taken: set[int]) -> TransferError:
    """Where the graphs part: the spec unit, its inputs' partners, and what the module
    computes from them instead."""
    inputs = ", ".join(f"{spec.describe(spec.units[i].node)} = {mod.describe(mod.units[p].node)}"
                       for i, p in zip(unit.inputs, partners)) or "no inputs"
    readers = sorted({c for p in partners for c in mod.units[p].consumers} - taken)
    instead = "; ".join(f"{mod.describe(mod.units[c].node)} ({what(mod.units[c])})"
                        for c in readers) or "nothing more"
    return TransferError(
        f"the spec and the module part at {spec.describe(unit.node)} ({what(unit)}): the "
        f"module computes no such unit from the same inputs ({inputs}); from them it "
        f"computes {instead}", spec_loc(unit.node),
        "make the spec compute what the module does here (ops, widths, strides, which "
        "inputs a merge reads), or transfer onto a spec of the module's network")
