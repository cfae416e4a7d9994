"""Reading a traced fx graph into values: each fx node becomes the input, an op of one
value, a merge of references, a constant (a shape read under the fixed input), or one
of the symbolic kinds of nodes.py, kept until something reads it.

Which torch layer, function or method is which op or merge comes from the registry
(inverse.py); sums, differences and scalings are kept as a linear combination until
read (then `add`, `mean` or `wsum`, with option-A pads as exact concatenations); the
indexing, reshaping and padding idioms are views.py's. A linear combination is
materialised in the forward that computed it, so a residual add stays in its block.
Every refusal is located: the module path, the user's file, line and source, what
the construct is, why a static topology cannot hold it, and the spelling that works.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import torch
from torch import fx
from torch.fx.node import map_aggregate

from ..ops import MERGES, OPS
from ..ops.merges import MergeInput, MergeOptions
from ..ops.registry import ShapeError
from . import views
from .inverse import (
    Mismatch,
    Spelling,
    call_arguments,
    match_call,
    match_module,
    match_product,
)
from .nodes import (
    BATCH,
    Batch,
    Grouped,
    LinComb,
    Padded,
    Param,
    Permuted,
    Ref,
    Value,
    Viewed,
)
from .sums import combine
from .trace import SAMPLE_BATCH, NotImportable, Traced, where

SYMBOLIC = (Value, Ref, LinComb, Padded, Viewed, Permuted, Grouped, Param)


def sample_shape(node: fx.Node) -> tuple[int, ...]:
    full = node.meta.get("example_shape")
    return tuple(full[1:]) if full else ()


def container_numbers(module: torch.nn.Module) -> dict[str, str]:
    """Module path -> the path with the keys of a container numbered by position where
    they name instances: every key of a ModuleDict (torchvision's `_DenseBlock`), and
    the keys of a Sequential that differ only in a number at their end (RegNet's
    `block1`, `block2` and `block1-0`, `block1-1`). The layers they hold are then
    instances, as a ModuleList's are."""
    renamed: dict[str, str] = {"": ""}
    for path, m in module.named_modules():
        base = renamed.get(path, path)
        names = [name for name, _ in m.named_children()]
        stems = {re.sub(r"\d+$", "", name) for name in names}
        numbered = isinstance(m, torch.nn.ModuleDict) or (
            isinstance(m, torch.nn.Sequential) and len(names) > 1 and len(stems) == 1
            and all(re.search(r"\d$", name) for name in names))
        for k, name in enumerate(names):
            part = str(k) if numbered else name
            renamed[f"{path}.{name}" if path else name] = f"{base}.{part}" if base else part
    return renamed


class Builder:
    """Reads a traced graph node by node into values (`run`)."""

    def __init__(self, traced: Traced):
        self.gm = traced.gm
        self.spellings = traced.spellings
        self.modules = dict(traced.module.named_modules())
        self.env: dict[fx.Node, Any] = {}
        self.called: dict[str, int] = {}
        self.materialised: dict[int, Value] = {}
        self.renamed = container_numbers(traced.module)
        self.home_globals = getattr(type(traced.module).forward, "__globals__", {})

    # -------------------------------------------------------------- locations
    def home(self, node: fx.Node) -> tuple[str, ...]:
        if node.op == "call_module":
            path = str(node.target).rpartition(".")[0]
        else:
            stack = node.meta.get("nn_module_stack") or {}
            path = str(list(stack.values())[-1][0]) if stack else ""
        path = self.renamed.get(path, path)
        return tuple(p for p in path.split(".") if p)

    def fail(self, node: fx.Node, what: str, why: str, hint: str = "") -> NotImportable:
        stack = node.meta.get("nn_module_stack") or {}
        if node.op == "call_module":  # the module whose forward calls the layer
            path = str(node.target).rpartition(".")[0]
        else:
            path = str(list(stack.values())[-1][0]) if stack else ""
        loc = where(node)
        text = f"{what}, in module '{path or '(the model)'}'" + (f" at {loc}" if loc else "")
        text += f": {why}"
        if hint:
            text += f"\n  supported: {hint}"
        return NotImportable(text)

    # ---------------------------------------------------------- materialising
    def ref(self, node: fx.Node, x: Any, reader: str = "this call") -> Ref:
        if isinstance(x, Ref):
            return x
        if isinstance(x, Value):
            return Ref(x)
        if isinstance(x, LinComb):
            return Ref(self.materialise(node, x))
        if isinstance(x, Viewed):
            if x.shape == x.ref.shape:
                return x.ref
            raise self.fail(node, f"{reader} reading a tensor viewed as {list(x.shape)}",
                            f"the value is {list(x.ref.shape)} per sample; a view that adds "
                            "or drops unit dimensions is read only by a product (a gate) or "
                            "an elementwise function", "gate = sigmoid(fc(pool(x))); "
                            "x * gate.view(b, c, 1, 1)")
        if isinstance(x, Padded):
            raise self.fail(node, f"{reader} reading a channel zero-padding",
                            "only a sum can read F.pad's zeros (an option-A shortcut)",
                            "out + F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))")
        if isinstance(x, Permuted):
            raise self.fail(node, f"{reader} reading a permuted tensor {list(x.perm)}",
                            "a channels-last map is read only by layers that compute an op "
                            "over its channels (LayerNorm, Linear, activations, a per-channel "
                            "scale) and a permute back", "x.permute(0, 2, 3, 1) -> "
                            "norm/Linear -> x.permute(0, 3, 1, 2)")
        if isinstance(x, Grouped):
            raise self.fail(node, f"{reader} reading a channel-group view",
                            "a (groups, C/groups, H, W) view is read only by the channel "
                            "shuffle it is part of",
                            "x.view(b, g, c // g, h, w).transpose(1, 2).reshape(b, c, h, w)")
        if isinstance(x, Param):
            raise self.fail(node, f"{reader} reading the parameter '{x.path}'",
                            "a parameter read in a forward is expressible only as a "
                            "per-channel multiplier (layer scale); other uses need a layer",
                            "x * self.gamma.view(1, -1, 1, 1) (the scale op), or an nn layer")
        kind = "the batch size" if isinstance(x, Batch) else f"a {type(x).__name__}"
        raise self.fail(node, f"{reader} reading {kind}",
                        "a tensor is expected here")

    def value(self, node: fx.Node, x: Any, reader: str = "this call") -> Value:
        r = self.ref(node, x, reader)
        if r.slice is None and r.weight == 1.0:
            return r.value
        return Value("merge", r.shape, node.name, self.home(node), (r,), merge="add")

    def materialise(self, node: fx.Node, comb: LinComb) -> Value:
        """The merge a sum becomes, made once, in the forward that computed it."""
        done = self.materialised.get(id(comb))
        if done is None:
            done = self.materialised[id(comb)] = combine(self, node, comb)
        return done

    def lincomb(self, node: fx.Node, x: Any) -> LinComb:
        home = self.home(node)
        if isinstance(x, LinComb) and x.home == home:
            return x
        if isinstance(x, Padded):
            comb = LinComb({x.ref: 1.0}, home, node.name, sample_shape(node))
            comb.pads[x.ref] = (x.front, x.back)
            return comb
        r = self.ref(node, x, "a sum")  # a sum from another forward is its own node
        return LinComb({Ref(r.value, 1.0, r.slice): r.weight}, home, node.name,
                       sample_shape(node))

    # ------------------------------------------------------------------ nodes
    def run(self) -> tuple[list[Value], list[Value]]:
        inputs: list[Value] = []
        outputs: list[Value] = []
        for node in self.gm.graph.nodes:
            try:
                self.read(node, inputs, outputs)
            except NotImportable:
                raise
            except Exception as exc:  # noqa: BLE001 - a construct no reader foresaw: say where
                raise self.fail(node, f"the {node.op.replace('_', ' ')} {node.target}",
                                f"linkc import cannot read it ({type(exc).__name__}: {exc})",
                                "report it with this line; the constructs above are read") \
                    from None
        return inputs, outputs

    def read(self, node: fx.Node, inputs: list[Value], outputs: list[Value]) -> None:
        if node.op == "placeholder":
            v = Value("input", sample_shape(node), node.name, ())
            inputs.append(v)
            self.env[node] = v
        elif node.op == "output":
            outputs += [self.value(node, r, "the model's output")
                        for r in _flat(self.resolve(node.args[0]))]
        elif node.op == "get_attr":
            self.env[node] = Param(str(node.target), _fetch(self.gm, str(node.target)))
        elif node.op == "call_module":
            self.env[node] = self.call_module(node)
        else:
            self.env[node] = self.call(node)

    def resolve(self, a: Any) -> Any:
        return map_aggregate(a, lambda v: self.env[v] if isinstance(v, fx.Node) else v)

    def operand(self, node: fx.Node, x: Any, reader: str):
        """(ref, permutation or None, unit-dim view shape or None) of an op's input."""
        if isinstance(x, Permuted):
            return x.ref, x.perm, None
        if isinstance(x, Viewed):
            return x.ref, None, x.shape
        return self.ref(node, x, reader), None, None

    def call_module(self, node: fx.Node) -> Any:
        path = str(node.target)
        module = self.modules.get(path) or self.gm.get_submodule(path)
        name = f"the layer '{path}' ({type(module).__name__})"
        self.called[path] = self.called.get(path, 0) + 1
        if self.called[path] > 1 and any(True for _ in module.parameters()):
            raise self.fail(node, f"{name} called a second time",
                            "two calls of one layer share its weights, and a spec gives "
                            "every node its own layers", "a separate layer for each call")
        found = self.spellings.for_module(module)
        merge = next((s for s, _ in found if s.kind == "merge"), None)
        args = self.resolve(node.args)
        if merge is not None:
            refs = tuple(self.ref(node, a, name) for a in args)
            return Value("merge", sample_shape(node), node.name, self.home(node), refs,
                         merge=merge.name, module=path, state=module.state_dict())
        if len(args) != 1 or node.kwargs:
            raise self.fail(node, f"{name} called with {len(args)} inputs",
                            "an op reads one tensor")
        ref, perm, view = self.operand(node, args[0], name)
        if not found:
            cls = type(module)
            raise self.fail(node, name, f"no op is the inverse of {cls.__module__}."
                            f"{cls.__qualname__}",
                            "a plugin op that lowers to this class and names it in its "
                            "`imports` (see linkc.extend) is imported like a built-in one")
        match, reasons = match_module(found, module, ref.shape, _layout(perm))
        if match is None:
            raise self.fail(node, name, "its settings have no spelling in linkc's ops ("
                            + "; ".join(reasons) + ")")
        v = Value("op", match.shape, node.name, self.home(node), (ref,), op=match.op,
                  args=match.args, module=path, state=match.state)
        return self.wrap(v, perm, view)

    def wrap(self, v: Value, perm, view) -> Any:
        if perm:
            return Permuted(Ref(v), perm)
        if view and "elementwise" in OPS[v.op].traits:
            return Viewed(Ref(v), view)
        return v

    def call(self, node: fx.Node) -> Any:
        kind, t = node.op, node.target
        a, kw = self.resolve(node.args), self.resolve(node.kwargs)
        if kind == "call_method" and t == "size" and len(a) == 2 and a[1] in (0, -4):
            return BATCH
        if t is getattr and len(a) == 2 and a[1] == "shape" and isinstance(a[0], SYMBOLIC):
            return (BATCH, *sample_shape(node.args[0]))
        if views.is_item(node, a):  # an element of a tuple (chunk, split, a shape)
            return a[0][a[1]]
        flat = _flat((a, kw))
        if not any(isinstance(x, SYMBOLIC) for x in flat):
            return self.constant(node, kind, t, a, kw)
        if isinstance(a[0], Param) and not any(isinstance(x, SYMBOLIC) for x in flat[1:]):
            return self.param_view(node, kind, t, a, kw)
        spellings = self.spellings.for_call(kind, t, self.home_globals)
        if any(s.kind == "merge" or s.inverse.form != "call" for s in spellings):
            return self.merge_call(node, spellings, a, kw)
        idiom = views.idiom(kind, t)  # reshapes and indexing first: flatten(pool) is gap
        if idiom is not None:
            return idiom(self, node, a, kw)
        if spellings:
            return self.op_call(node, spellings, a, kw)
        params = [x for x in flat if isinstance(x, Param)]
        if params:
            raise self.fail(node, f"the call {_call_name(kind, t)} reading the parameter "
                            f"'{params[0].path}'", "a layer's weights belong to its module: a "
                            "topology holds layers, not functions of parameters",
                            "the layer class (nn.Conv2d rather than F.conv2d(x, self.weight))")
        raise self.fail(node, f"the call {_call_name(kind, t)}", "no op or merge is its "
                        "inverse, and a static topology has no other way to hold it",
                        "a plugin op whose `imports` names it (see linkc.extend)")

    def constant(self, node: fx.Node, kind: str, t: Any, a, kw) -> Any:
        """A call on numbers (shape arithmetic under the fixed input), computed."""
        if any(isinstance(x, Batch) for x in _flat((a, kw))):
            raise self.fail(node, f"{_call_name(kind, t)} on the batch size",
                            "the spec leaves the batch size open, so only a reshape that "
                            "keeps it may read it", "x.view(x.size(0), -1)")
        try:
            value = t(*a, **kw) if kind == "call_function" else getattr(a[0], t)(*a[1:], **kw)
        except Exception as exc:  # noqa: BLE001 - the call is the user's, on numbers
            raise self.fail(node, f"the call {_call_name(kind, t)}",
                            f"it failed on constants: {exc}") from None
        if isinstance(value, torch.Tensor):
            raise self.fail(node, f"a tensor made by {_call_name(kind, t)}",
                            "a tensor created in the forward is no layer of a topology")
        return value

    def param_view(self, node: fx.Node, kind: str, t: Any, a, kw) -> Param:
        """A parameter reshaped or indexed (`self.gamma.view(1, -1, 1, 1)`): the same
        parameter, seen as the forward sees it."""
        p = a[0]
        tensor = t(p.tensor, *a[1:], **kw) if kind == "call_function" else \
            getattr(p.tensor, t)(*a[1:], **kw)
        if not isinstance(tensor, torch.Tensor) or tensor.numel() != p.tensor.numel():
            raise self.fail(node, f"the parameter '{p.path}' read by {_call_name(kind, t)}",
                            "only a per-channel multiplier may read a parameter directly",
                            "x * self.gamma.view(1, -1, 1, 1)")
        return Param(p.path, tensor)

    # -------------------------------------------------------------- op calls
    def op_call(self, node: fx.Node, spellings: list[Spelling], a, kw) -> Any:
        x = a[0] if a else kw.get("input")
        rest = tuple(a[1:]) if a else ()
        kw = {k: v for k, v in kw.items() if k != "input"} if not a else kw
        name = _call_name(node.op, node.target)
        ref, perm, view = self.operand(node, x, name)
        if any(isinstance(v, SYMBOLIC) for v in rest + tuple(kw.values())):
            raise self.fail(node, f"the call {name}", "it reads a second tensor, and an op "
                            "reads one", "a layer of its own (nn.Module) for that input")
        match, reasons = match_call(spellings, node.op, node.target, (None, *rest), kw,
                                    ref.shape, _layout(perm))
        if match is None:
            raise self.fail(node, f"the call {name}", "its arguments have no spelling in "
                            "linkc's ops (" + "; ".join(reasons) + ")")
        v = Value("op", match.shape, node.name, self.home(node), (ref,), op=match.op,
                  args=match.args)
        return self.wrap(v, perm, view)

    def canonical(self, node: fx.Node, x: Any, function: Any, *args, what: str) -> Value:
        """An idiom as the torch call it equals (`x.view(b, -1)` is `torch.flatten(x, 1)`),
        read through the registry like any call."""
        ref, perm, _ = self.operand(node, x, what)
        spellings = self.spellings.for_call("call_function", function, {})
        match, reasons = match_call(spellings, "call_function", function, (None, *args), {},
                                    ref.shape, _layout(perm))
        if match is None:
            raise self.fail(node, what, f"it is {function.__name__}{args}, which no op is "
                            "the inverse of (" + "; ".join(reasons) + ")")
        v = Value("op", match.shape, node.name, self.home(node), (ref,), op=match.op,
                  args=match.args)
        return self.wrap(v, perm, None)

    def spellings_equal(self, v: Value, function: Any, *args) -> bool:
        """Whether op value `v` is what `function(x, *args)` imports as, on v's input."""
        spellings = self.spellings.for_call("call_function", function, {})
        match, _ = match_call(spellings, "call_function", function, (None, *args), {},
                              v.refs[0].shape)
        return match is not None and (match.op, match.args) == (v.op, v.args)

    # ---------------------------------------------------------------- merges
    def merge_call(self, node: fx.Node, spellings: list[Spelling], a, kw) -> Any:
        form = spellings[0].inverse.form
        name = _call_name(node.op, node.target)
        if form in ("sum", "difference"):
            return self.signed_sum(node, a, -1.0 if form == "difference" else 1.0)
        if form in ("product", "quotient"):
            return self.product(node, spellings, a, form == "quotient")
        merge = next(s for s in spellings if s.kind == "merge")
        named = call_arguments(node.op, node.target, tuple(a), dict(kw)) or dict(kw)
        for key, wanted in merge.inverse.fixed.items():
            if key in named and named[key] not in (wanted if isinstance(wanted, (set,
                                                                                  frozenset))
                                                   else {wanted}):
                raise self.fail(node, f"the call {name}", f"{key}={named[key]!r}: linkc's "
                                f"{merge.name} has {key} {wanted}",
                                "torch.cat([a, b], 1) on channels")
        operands = [x for x in _flat(a) if isinstance(x, SYMBOLIC)]
        if form == "first":
            return operands[0]
        refs = [leaf for k, x in enumerate(operands)
                for leaf in self.leaves(node, x, merge.name, first=k == 0)]
        weights = named.get(merge.inverse.args.get("weights", ""), None)
        if weights is not None:
            refs = [Ref(r.value, float(w), r.slice) for r, w in zip(refs, weights)]
        return self.merged(node, merge.name, refs, dict(merge.inverse.sets))

    def leaves(self, node: fx.Node, x: Any, merge: str, first: bool = False) -> list[Ref]:
        """The references a merge reads for operand x: for its first operand, the inputs
        of an associative merge of its own kind (merge(merge(a, b), c) is merge(a, b, c)
        exactly: a chain of concatenations is one), a gate viewed as (C, 1, 1) or
        expanded as its value (the merge's shape rule says if it may)."""
        if first and MERGES[merge].associative and isinstance(x, Value) and \
                x.kind == "merge" and x.merge == merge and x.module is None and not x.args:
            return list(x.refs)
        return [x.ref if isinstance(x, Viewed) else self.ref(node, x, f"a {merge}")]

    def merged(self, node: fx.Node, merge: str, refs: list[Ref], args: dict) -> Value:
        """The merge of refs, after its own shape rule accepted them (so the spec checks)."""
        inputs = [MergeInput(r.shape, r.value.name, "an input") for r in refs]
        try:
            MERGES[merge].infer(inputs, MergeOptions(pad=args.get("pad"),
                                                     weights=tuple(r.weight for r in refs)))
        except ShapeError as exc:
            raise self.fail(node, f"a {merge} of {[list(r.shape) for r in refs]}", exc.message,
                            exc.hint or "") from None
        return Value("merge", sample_shape(node), node.name, self.home(node), tuple(refs),
                     merge=merge, args=args)

    def signed_sum(self, node: fx.Node, a, sign: float) -> LinComb:
        left, right = a[0], a[1]
        for x in (left, right):
            if not isinstance(x, SYMBOLIC):
                raise self.fail(node, f"adding the constant {x!r}", "a sum of tensors is a "
                                "merge; a constant offset is no op", "a layer with a bias")
        lc, rc = self.lincomb(node, left), self.lincomb(node, right)
        out = LinComb(lc, self.home(node), node.name, sample_shape(node))
        out.pads = {**lc.pads}
        for k, w in rc.items():
            if k in rc.pads:
                if k in out.pads and out.pads[k] != rc.pads[k]:
                    raise self.fail(node, "a sum of differently padded copies of one value",
                                    "the pads cannot be combined into one term")
                out.pads[k] = rc.pads[k]
            out[k] = out.get(k, 0.0) + sign * w
        kept = LinComb({k: w for k, w in out.items() if w != 0.0}, out.home, out.name,
                       out.shape)
        kept.pads = {k: p for k, p in out.pads.items() if k in kept}
        return kept

    def product(self, node: fx.Node, spellings: list[Spelling], a, divide: bool) -> Any:
        left, right = a[0], a[1]
        scalar = next((x for x in (left, right) if isinstance(x, (int, float))
                       and not isinstance(x, bool)), None)
        if scalar is not None:
            tensor = left if right is scalar else right
            if divide and tensor is right:
                raise self.fail(node, "a constant divided by a tensor", "no op computes it")
            factor = 1.0 / scalar if divide else float(scalar)
            comb = self.lincomb(node, tensor)
            scaled = LinComb({k: w * factor for k, w in comb.items()}, comb.home, comb.name,
                             comb.shape)
            scaled.pads = dict(comb.pads)
            return scaled
        if divide:
            raise self.fail(node, "a division by a tensor", "no merge divides",
                            "a product with a gate")
        params = [x for x in (left, right) if isinstance(x, Param)]
        if params:
            return self.scaled_by_param(node, spellings, left if params[0] is right else right,
                                        params[0])
        merge = next(s.name for s in spellings if s.kind == "merge")
        refs = [*self.leaves(node, left, merge, first=True), *self.leaves(node, right, merge)]
        return self.merged(node, merge, refs, {})

    def scaled_by_param(self, node: fx.Node, spellings: list[Spelling], x: Any,
                        p: Param) -> Any:
        """`x * self.gamma...`: the op whose spelling is a product with a parameter."""
        ref, perm, view = self.operand(node, x, "a product with a parameter")
        key = f"param:{p.path}"
        self.called[key] = self.called.get(key, 0) + 1
        if self.called[key] > 1:
            raise self.fail(node, f"the parameter '{p.path}' read a second time",
                            "two readers share its values, and a spec gives every node its "
                            "own parameters")
        try:
            match = match_product(spellings, p.tensor, ref.shape, _layout(perm))
        except Mismatch as exc:
            raise self.fail(node, f"the product with the parameter '{p.path}' "
                            f"{list(p.tensor.shape)}", str(exc),
                            "a per-channel multiplier: x * self.gamma.view(1, -1, 1, 1)") \
                from None
        v = Value("op", match.shape, node.name, self.home(node), (ref,), op=match.op,
                  args=match.args, module=p.path.rpartition(".")[0] or None, state=match.state)
        return self.wrap(v, perm, view)


def _layout(perm) -> tuple | None:
    return tuple(perm) if perm else None


def _flat(a) -> list:
    """The leaves of nested tuples, lists, dicts and slices (a sum is a leaf)."""
    if isinstance(a, (tuple, list)):
        return [leaf for x in a for leaf in _flat(x)]
    if type(a) is dict:
        return [leaf for x in a.values() for leaf in _flat(x)]
    if isinstance(a, slice):
        return _flat((a.start, a.stop, a.step))
    return [a]


def _call_name(kind: str, t: Any) -> str:
    if kind == "call_method":
        return f"x.{t}()"
    name = getattr(t, "__name__", str(t))
    import torch.nn.functional as F

    for prefix, home in (("F", F), ("torch", torch), ("operator", operator)):
        if getattr(home, name, None) is t:
            return f"{prefix}.{name}()"
    return f"{name}()"


def _fetch(root, target: str) -> Any:
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


__all__ = ["SAMPLE_BATCH", "Builder", "container_numbers", "sample_shape"]
