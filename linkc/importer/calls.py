"""Reading a traced fx graph into values: each fx node becomes the input, an op of
one value, a merge of references, or a linear combination kept symbolic until
something reads it (see values.py for the whole picture)."""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .adopt import NotExpressible, adopt, merge_of
from .nodes import Ref, Value, LinComb, Padded
from .trace import NotImportable, Traced


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


class Builder:
    """Reads a traced graph node by node into values (`run`)."""

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
        if isinstance(x, LinComb):
            return Ref(self.combine(node, x))
        if isinstance(x, Padded):
            raise self.fail(node, "a channel zero-padding read by anything but a sum")
        raise self.fail(node, f"an input of type {type(x).__name__}")

    def value(self, node: fx.Node, x: Any) -> Value:
        r = self.ref(node, x)
        if r.slice is None and r.weight == 1.0:
            return r.value
        return Value("merge", _shape(node), node.name, _home(node, self.gm), (r,), merge="add")

    def combine(self, node: fx.Node, comb: LinComb) -> Value:
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

    def lincomb(self, node: fx.Node, x: Any) -> LinComb:
        if isinstance(x, LinComb):
            return x
        if isinstance(x, Padded):
            out = self.lincomb(node, x.ref)
            out.padded = True
            return out
        r = self.ref(node, x)
        key = r if r.slice is not None else r.value
        return LinComb({key if not isinstance(key, Ref) else Ref(r.value, 1.0, r.slice): 1.0})

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
        if t in _ADD or t in _SUB or t in _MUL or t in _DIV:
            return self.arithmetic(node, t, a)
        if t is torch.cat or name == "concat" and node.op == "call_function":
            return self.concat(node, t, a)
        if node.op == "call_function" and name in ("add", "mean", "wsum", "mul", "add_padded"):
            return self.linkc_merge(node, name, a)
        if t is F.pad and self.channel_pad(node, a):
            return Padded(self.ref(node, a[0]))
        if t is operator.getitem or name == "channel_slice":
            return self.slice(node, a)
        if t is torch.flatten or (node.op == "call_method" and t in ("flatten", "view",
                                                                     "reshape")):
            return self.flatten(node, args[0])
        pooled = self.global_pool(node, t, a)
        if pooled is not None:
            return pooled
        raise self.fail(node, f"the call {name or t}")

    def arithmetic(self, node: fx.Node, t: Any, a: list) -> Any:
        """`a + b`, `a - b` and scaling by a constant stay symbolic (a linear
        combination); a product of two tensors is the `mul` merge."""
        if t in _ADD or t in _SUB:
            left, right = self.lincomb(node, a[0]), self.lincomb(node, a[1])
            sign = -1.0 if t in _SUB else 1.0
            out = LinComb(left)
            for k, w in right.items():
                out[k] = out.get(k, 0.0) + sign * w
            result = LinComb({k: w for k, w in out.items() if w != 0.0})
            result.padded = left.padded or right.padded
            return result
        scalar = next((x for x in a if isinstance(x, (int, float))), None)
        if scalar is not None:
            tensor = a[0] if a[1] is scalar else a[1]
            factor = 1.0 / scalar if t in _DIV else float(scalar)
            comb = self.lincomb(node, tensor)
            scaled = LinComb({k: w * factor for k, w in comb.items()})
            scaled.padded = comb.padded
            return scaled
        if t in _MUL:
            refs = tuple(self.ref(node, x) for x in a)
            return Value("merge", _shape(node), node.name, _home(node, self.gm), refs,
                         merge="mul")
        raise self.fail(node, f"the call {getattr(t, '__name__', '') or t}")

    def concat(self, node: fx.Node, t: Any, a: list) -> Value:
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

    def global_pool(self, node: fx.Node, t: Any, a: list) -> Value | None:
        """`x.mean((2, 3))` is gap, `F.adaptive_avg_pool2d(x, 1)` adaptive_avgpool; else None."""
        if node.op == "call_method" and t == "mean" or t is torch.mean:
            dims = node.kwargs.get("dim", a[1] if len(a) > 1 else None)
            if tuple(dims or ()) in ((2, 3), (-2, -1)) and not node.kwargs.get("keepdim"):
                return self.op(node, "gap", node.args[0])
        if t is F.adaptive_avg_pool2d and a[1] in (1, (1, 1)):
            return self.op(node, "adaptive_avgpool", node.args[0], {"size": 1})
        return None

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
