"""An fx graph of a traced module -> spec nodes: `ops(merge(refs))`, each with its home.

Every fx node becomes a *value*: the input, an op applied to one value (a layer or
a torch function linkc has an op for), a merge of several references, or a linear
combination (`a + b`, `x - f`, `(a + b) / 2`) that is kept symbolic until something
reads it, then becomes `add`, `mean` or `wsum` by its weights. Channel slices
(`x[:, a:b]`) and nested concatenations fold into the references of whatever
reads them. Chains of ops then fuse into one node after the merge that starts
them, within one module (so a block's last op never fuses into the next block).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .adopt import NotExpressible, adopt, merge_of
from .trace import NotImportable, Traced

__all__ = ["Ref", "SpecNode", "spec_nodes"]


@dataclass(frozen=True, eq=False)
class Value:
    kind: str                  # input | op | merge
    shape: tuple[int, ...]     # per sample
    name: str                  # fx name, for naming
    home: tuple[str, ...]      # module path whose forward produced it
    refs: tuple["Ref", ...] = ()
    op: str | None = None
    args: dict = field(default_factory=dict)
    merge: str | None = None
    module: str | None = None  # qualified name of the layer (ops and merge modules)


@dataclass(frozen=True)
class Ref:
    value: Value
    weight: float = 1.0
    slice: tuple[int, int] | None = None


@dataclass
class SpecNode:
    """One node of the written spec: `ops(merge(refs))`, with the layers it holds."""

    refs: list[Ref]
    merge: str | None
    weights: list[float]
    ops: list[tuple[str, dict]]
    modules: list[str | None]           # the layer behind each op (None: a function)
    merge_module: str | None
    shape: tuple[int, ...]
    home: tuple[str, ...]
    name: str
    value: Value                        # the value this node computes
    pad: str | None = None              # `pad: zeros` of an add over unequal widths
    id: str = ""                        # assigned by the structure step


class _LinComb(dict):
    """value -> weight: a sum not yet materialised as a merge. `padded`: some term was
    zero-padded on channels, so the merge is `pad: zeros`."""

    padded = False


@dataclass(frozen=True)
class _Padded:
    """A value zero-padded at the end of its channels (an option-A shortcut): only a sum
    can read it, as `pad: zeros`."""

    ref: Ref


_ELEMENTWISE_FUNCTIONS = {
    F.relu: "relu", torch.relu: "relu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
    F.relu6: "relu6", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
    F.gelu: "gelu", F.silu: "silu", torch.tanh: "tanh", F.tanh: "tanh",
}
_ELEMENTWISE_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ADD = {operator.add, operator.iadd, torch.add}
_SUB = {operator.sub, operator.isub, torch.sub}
_MUL = {operator.mul, operator.imul, torch.mul}
_DIV = {operator.truediv, operator.itruediv, torch.div}


def _shape(node: fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else ()


def _home(node: fx.Node, gm: fx.GraphModule) -> tuple[str, ...]:
    if node.op == "call_module":
        return tuple(str(node.target).split("."))[:-1]
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path = list(stack.values())[-1][0]
        return tuple(p for p in str(path).split(".") if p)
    return ()


class _Builder:
    def __init__(self, traced: Traced):
        self.gm = traced.gm
        self.modules = dict(traced.gm.named_modules())
        self.env: dict[fx.Node, Any] = {}
        self.called: dict[str, int] = {}

    def fail(self, node: fx.Node, what: str) -> NotImportable:
        where = node.meta.get("stack_trace", "").strip().splitlines()
        line = f" ({where[-2].strip()})" if len(where) >= 2 else ""
        return NotImportable(f"cannot express {what} at fx node '{node.name}'{line}")

    # ------------------------------------------------------------ materialising
    def ref(self, node: fx.Node, x: Any) -> Ref:
        if isinstance(x, Ref):
            return x
        if isinstance(x, Value):
            return Ref(x)
        if isinstance(x, _LinComb):
            return Ref(self.combine(node, x))
        if isinstance(x, _Padded):
            raise self.fail(node, "a channel zero-padding read by anything but a sum")
        raise self.fail(node, f"an input of type {type(x).__name__}")

    def value(self, node: fx.Node, x: Any) -> Value:
        r = self.ref(node, x)
        if r.slice is None and r.weight == 1.0:
            return r.value
        return Value("merge", _shape(node), node.name, _home(node, self.gm), (r,), merge="add")

    def combine(self, node: fx.Node, comb: _LinComb) -> Value:
        refs = [Ref(v.value, w, v.slice) if isinstance(v, Ref) else Ref(v, w)
                for v, w in comb.items()]
        weights = [r.weight for r in refs]
        n = len(refs)
        if n == 1 and weights[0] == 1.0:
            return refs[0].value
        if n == 1:
            raise self.fail(node, f"a tensor scaled by the constant {weights[0]}")
        if all(w == 1.0 for w in weights):
            kind, refs = "add", [Ref(r.value, 1.0, r.slice) for r in refs]
        elif all(abs(w - 1.0 / n) < 1e-12 for w in weights):
            kind, refs = "mean", [Ref(r.value, 1.0, r.slice) for r in refs]
        else:
            kind = "wsum"
        return Value("merge", _shape(node), node.name, _home(node, self.gm), tuple(refs),
                     merge=kind, args={"pad": "zeros"} if comb.padded else {})

    def channel_pad(self, node: fx.Node, a: list) -> bool:
        """F.pad(x, (0, 0, 0, 0, 0, extra)) of a feature map with zeros: channels only."""
        pad = a[1] if len(a) > 1 else node.kwargs.get("pad")
        value = node.kwargs.get("value", a[3] if len(a) > 3 else 0)
        mode = node.kwargs.get("mode", a[2] if len(a) > 2 else "constant")
        return (isinstance(pad, (tuple, list)) and len(pad) == 6 and not any(pad[:5])
                and mode == "constant" and not value)

    def lincomb(self, node: fx.Node, x: Any) -> _LinComb:
        if isinstance(x, _LinComb):
            return x
        if isinstance(x, _Padded):
            out = self.lincomb(node, x.ref)
            out.padded = True
            return out
        r = self.ref(node, x)
        key = r if r.slice is not None else r.value
        return _LinComb({key if not isinstance(key, Ref) else Ref(r.value, 1.0, r.slice): 1.0})

    # ------------------------------------------------------------------ nodes
    def run(self) -> tuple[list[Value], list[Value]]:
        inputs, outputs = [], []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                v = Value("input", _shape(node), node.name, ())
                inputs.append(v)
                self.env[node] = v
            elif node.op == "output":
                result = node.args[0]
                results = result if isinstance(result, (tuple, list)) else [result]
                outputs = [self.value(node, self.env[r]) for r in results]
            elif node.op == "call_module":
                self.env[node] = self.call_module(node)
            elif node.op in ("call_function", "call_method"):
                self.env[node] = self.call(node)
            elif node.op == "get_attr":
                raise self.fail(node, f"a parameter read directly ('{node.target}')")
        return inputs, outputs

    def arg(self, node: fx.Node, a: Any) -> Any:
        return self.env[a] if isinstance(a, fx.Node) else a

    def call_module(self, node: fx.Node) -> Any:
        path = str(node.target)
        module = self.modules[path]
        self.called[path] = self.called.get(path, 0) + 1
        if self.called[path] > 1 and any(True for _ in module.parameters()):
            raise self.fail(node, f"the layer '{path}' ({type(module).__name__}) called twice: "
                                  "shared weights")
        if merge_of(module):
            refs = tuple(self.ref(node, self.arg(node, a)) for a in node.args)
            return Value("merge", _shape(node), node.name, _home(node, self.gm), refs,
                         merge=merge_of(module), module=path)
        (src,) = node.args
        x = self.value(node, self.arg(node, src))
        try:
            op, args = adopt(module, x.shape)
        except KeyError:
            raise NotImportable(
                f"module '{path}' ({type(module).__module__}.{type(module).__name__}) has no "
                "linkc op. A plugin op that lowers to this class (see linkc.extend) would "
                "cover it.") from None
        except NotExpressible as exc:
            raise NotImportable(f"module '{path}' ({type(module).__name__}): {exc} has no "
                               "spelling in linkc's op arguments") from None
        return Value("op", _shape(node), node.name, _home(node, self.gm), (Ref(x),), op=op,
                     args=args, module=path)

    def op(self, node: fx.Node, name: str, src: Any, args: dict | None = None) -> Value:
        x = self.value(node, self.arg(node, src))
        return Value("op", _shape(node), node.name, _home(node, self.gm), (Ref(x),), op=name,
                     args=args or {})

    def call(self, node: fx.Node) -> Any:
        t, args = node.target, node.args
        name = t if isinstance(t, str) else getattr(t, "__name__", "")
        a = [self.arg(node, x) for x in args]
        if node.op == "call_function" and t in _ELEMENTWISE_FUNCTIONS:
            return self.op(node, _ELEMENTWISE_FUNCTIONS[t], args[0])
        if node.op == "call_method" and t in _ELEMENTWISE_METHODS:
            return self.op(node, _ELEMENTWISE_METHODS[t], args[0])
        if node.op == "call_method" and t in ("size", "dim"):
            return None  # only feeds view/reshape, which read the propagated shapes
        if node.op == "call_method" and (t == "contiguous" or t == "to" and len(args) == 1
                                         and set(node.kwargs) == {"memory_format"}):
            return a[0]  # a memory layout (channels_last) is not part of the topology
        if t in _ADD or t in _SUB:
            left, right = self.lincomb(node, a[0]), self.lincomb(node, a[1])
            sign = -1.0 if t in _SUB else 1.0
            out = _LinComb(left)
            for k, w in right.items():
                out[k] = out.get(k, 0.0) + sign * w
            result = _LinComb({k: w for k, w in out.items() if w != 0.0})
            result.padded = left.padded or right.padded
            return result
        if t in _MUL or t in _DIV:
            scalar = next((x for x in a if isinstance(x, (int, float))), None)
            if scalar is not None:
                tensor = a[0] if a[1] is scalar else a[1]
                factor = 1.0 / scalar if t in _DIV else float(scalar)
                comb = self.lincomb(node, tensor)
                scaled = _LinComb({k: w * factor for k, w in comb.items()})
                scaled.padded = comb.padded
                return scaled
            if t in _MUL:
                refs = tuple(self.ref(node, x) for x in a)
                return Value("merge", _shape(node), node.name, _home(node, self.gm), refs,
                             merge="mul")
        if t is torch.cat or name == "concat" and node.op == "call_function":
            items = a[0] if t is torch.cat else a
            dim = (node.kwargs.get("dim", a[1] if t is torch.cat and len(a) > 1 else 0)
                   if t is torch.cat else 1)
            if dim not in (1, -3):
                raise self.fail(node, f"a concatenation along dim {dim}")
            refs = []
            for item in items:
                refs.extend(self.cat_leaves(node, item))
            return Value("merge", _shape(node), node.name, _home(node, self.gm), tuple(refs),
                         merge="concat")
        if node.op == "call_function" and name in ("add", "mean", "wsum", "mul", "add_padded"):
            return self.linkc_merge(node, name, a)
        if t is F.pad and self.channel_pad(node, a):
            return _Padded(self.ref(node, a[0]))
        if t is operator.getitem or name == "channel_slice":
            return self.slice(node, a)
        if t is torch.flatten or (node.op == "call_method" and t in ("flatten", "view",
                                                                     "reshape")):
            return self.flatten(node, args[0])
        if node.op == "call_method" and t == "mean" or t is torch.mean:
            dims = node.kwargs.get("dim", a[1] if len(a) > 1 else None)
            if tuple(dims or ()) in ((2, 3), (-2, -1)) and not node.kwargs.get("keepdim"):
                return self.op(node, "gap", args[0])
        if t is F.adaptive_avg_pool2d and a[1] in (1, (1, 1)):
            return self.op(node, "adaptive_avgpool", args[0], {"size": 1})
        raise self.fail(node, f"the call {name or t}")

    def linkc_merge(self, node: fx.Node, name: str, a: list) -> Value:
        refs = [self.ref(node, x) for x in a]
        merge = {"add_padded": "add"}.get(name, name)
        if name == "wsum":
            refs = [Ref(r.value, float(w), r.slice) for r, w in zip(refs, node.kwargs["weights"])]
        v = Value("merge", _shape(node), node.name, _home(node, self.gm), tuple(refs),
                  merge=merge, args={"pad": "zeros"} if name == "add_padded" else {})
        return v

    def cat_leaves(self, node: fx.Node, item: Any) -> list[Ref]:
        x = self.arg(node, item) if isinstance(item, fx.Node) else item
        if isinstance(x, Value) and x.kind == "merge" and x.merge == "concat" and x.module is None:
            return list(x.refs)  # concatenation is associative: read the leaves
        return [self.ref(node, x)]

    def slice(self, node: fx.Node, a: list) -> Ref:
        if len(a) == 3:  # channel_slice(x, start, stop)
            start, stop = a[1], a[2]
        else:
            index = a[1]
            every = slice(None)
            if isinstance(index, tuple) and len(index) == 4 and index[:2] == (every, every) \
                    and index[2] == index[3] and index[2].start is None \
                    and index[2].stop is None and (index[2].step or 1) > 1:
                # x[:, :, ::s, ::s] keeps every s-th pixel: a 1x1 pool at stride s
                return self.op(node, "maxpool", node.args[0], {"k": 1, "stride": index[2].step})
            if not (isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None)
                    and isinstance(index[1], slice) and index[1].step in (None, 1)):
                raise self.fail(node, f"the indexing [{index}] (only x[:, a:b] on channels)")
            channels = self.ref(node, a[0]).value.shape[0]
            start, stop, _ = index[1].indices(channels)
        base = self.ref(node, a[0])
        offset = base.slice[0] if base.slice else 0
        return Ref(base.value, base.weight, (offset + start, offset + stop))

    def flatten(self, node: fx.Node, src: Any) -> Value:
        x = self.value(node, self.arg(node, src))
        if len(_shape(node)) != 1:
            raise self.fail(node, f"a reshape to {list(_shape(node))}")
        if x.kind == "op" and x.op == "adaptive_avgpool" and x.args.get("size") == 1:
            # AdaptiveAvgPool2d(1) then a flatten is global average pooling
            return Value("op", _shape(node), x.name, x.home, x.refs, op="gap", module=x.module)
        return Value("op", _shape(node), node.name, _home(node, self.gm), (Ref(x),),
                     op="flatten")


def _consumers(outputs: list[Value]) -> dict[int, int]:
    counts: dict[int, int] = {}
    seen: set[int] = set()
    stack = list(outputs)
    for v in outputs:
        counts[id(v)] = counts.get(id(v), 0) + 1  # the output reads it
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        for r in v.refs:
            counts[id(r.value)] = counts.get(id(r.value), 0) + 1
            stack.append(r.value)
    return counts


def spec_nodes(traced: Traced) -> tuple[list[Value], list[Value], list[SpecNode]]:
    """(inputs, outputs, spec nodes in topological order)."""
    builder = _Builder(traced)
    inputs, outputs = builder.run()
    consumers = _consumers(outputs)
    nodes: dict[int, SpecNode] = {}
    order: list[SpecNode] = []

    def fusable(v: Value, into: Value) -> bool:
        """`into` (an op) joins the node of `v` when nothing else reads v and both ran in
        the same module's forward; a merge that no module's forward owns (the flat
        forward of a GraphModule or model.py) joins the op that reads it."""
        if v.kind == "input" or consumers.get(id(v), 0) != 1:
            return False
        if v.kind == "merge" and v.module is None:
            # a merge computed in a forward just before calling a child module (the
            # concatenation a dense layer reads) belongs to that child
            return into.home[:len(v.home)] == v.home
        return v.home == into.home

    def visit(v: Value) -> None:
        if v.kind == "input" or id(v) in nodes:
            return
        for r in v.refs:
            visit(r.value)
        if v.kind == "op":
            src = v.refs[0].value
            if src.kind != "input" and fusable(src, v) and v.refs[0].slice is None:
                node = nodes.pop(id(src))
                order.remove(node)
                node.ops.append((v.op, v.args))
                node.modules.append(v.module)
                node.shape, node.value = v.shape, v
                if len(v.home) > len(node.home):
                    node.home = v.home
                nodes[id(v)] = node
                order.append(node)
                return
            node = SpecNode([v.refs[0]], None, [], [(v.op, v.args)], [v.module], None, v.shape,
                            v.home, _name_of(v), v)
        else:
            node = SpecNode(list(v.refs), v.merge, [r.weight for r in v.refs], [], [],
                            v.module, v.shape, v.home, _name_of(v), v, pad=v.args.get("pad"))
        nodes[id(v)] = node
        order.append(node)

    for v in outputs:
        visit(v)
    position = {n.name: k for k, n in enumerate(traced.gm.graph.nodes)}
    order.sort(key=lambda n: position.get(n.value.name, 0))  # the forward's own order
    by_value = {id(n.value): n for n in order}
    for node in order:  # references point at the node that computes each value
        node.refs = [Ref(by_value[id(r.value)].value if id(r.value) in by_value else r.value,
                         r.weight, r.slice) for r in node.refs]
    return inputs, outputs, order


def _name_of(v: Value) -> str:
    if v.module:
        return v.module.split(".")[-1]
    return v.name
