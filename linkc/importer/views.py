"""The indexing, reshaping and padding idioms of a forward, read as what they are in a
topology.

- Channel slices in every spelling (`x[:, a:b]`, `x[:, a:b, :, :]`, `x[:, a:b, ...]`,
  `narrow`, `chunk`, `split`) are references to a channel range.
- `x[:, :, ::s, ::s]` is the call `F.max_pool2d(x, 1, s)` (the registry says which op).
- A reshape that only adds or drops unit dimensions (`view(b, c, 1, 1)`, `unsqueeze`,
  `None` indexing, `squeeze`, `expand_as`) is a view of the same value: a gate that a
  product reads. A reshape to a vector is `torch.flatten(x, 1)`; `view(b, g, c // g,
  h, w)`, `transpose(1, 2)`, `view(b, c, h, w)` is `torch.channel_shuffle(x, g)`.
- `permute` gives a channels-last view, which layers over channels read (calls.py).
- `F.pad` of channels only is a zero-padding a sum reads (sums.py); a pad of zeros is
  nothing.
- Memory layout (`contiguous`, `clone`, `to(memory_format=...)`) is no part of a
  topology.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .nodes import Grouped, Param, Permuted, Ref, Value, Viewed
from .trace import SAMPLE_BATCH, NotImportable

# the reader (calls.Builder) is passed in: it imports these modules, not the reverse
Builder = Any

__all__ = ["idiom", "is_item"]

_GATE = "x * gate.view(b, c, 1, 1), gate[:, :, None, None] or gate.unsqueeze(-1)"


def is_item(node: fx.Node, a) -> bool:
    """An element of a tuple (a chunk, a shape) rather than an index into a tensor."""
    return node.op == "call_function" and node.target is operator.getitem and \
        isinstance(a[0], (tuple, list))


def _base(b: Builder, node: fx.Node, x: Any, what: str) -> Ref:
    if isinstance(x, Viewed):
        return x.ref
    return b.ref(node, x, what)


def _sub(r: Ref, start: int, stop: int) -> Ref:
    if (start, stop) == (0, r.channels):
        return r
    offset = r.slice[0] if r.slice else 0
    return Ref(r.value, r.weight, (offset + start, offset + stop))


def _keeps_batch(b: Builder, node: fx.Node, what: str) -> None:
    full = node.meta.get("example_shape")
    if full is not None and full[0] != SAMPLE_BATCH:
        raise b.fail(node, what, f"it mixes the samples of a batch (the sample batch of "
                     f"{SAMPLE_BATCH} became {full[0]})", "x.view(x.size(0), -1)")


def _unit_view(base: Ref, out: tuple) -> Any:
    return base if out == base.shape else Viewed(base, out)


def _same_but_units(a: tuple, b: tuple) -> bool:
    return [d for d in a if d != 1] == [d for d in b if d != 1]


# --------------------------------------------------------------------- reshapes
def reshape(b: Builder, node: fx.Node, a, kw) -> Any:
    x = a[0]
    what = f"the reshape x.{node.target}()" if node.op == "call_method" else \
        f"the reshape {getattr(node.target, '__name__', node.target)}()"
    _keeps_batch(b, node, what)
    out = tuple(node.meta.get("example_shape", (0,))[1:])
    if isinstance(x, Grouped):
        if x.swapped and out == x.ref.shape:
            return b.canonical(node, x.ref, torch.channel_shuffle, x.groups,
                               what="a channel shuffle")
        raise b.fail(node, what, "only `view(b, c, h, w)` after `transpose(1, 2)` ends a "
                     "channel shuffle", "x.view(b, g, c // g, h, w).transpose(1, 2)"
                     ".reshape(b, c, h, w)")
    base = _base(b, node, x, what)
    src = base.shape
    if out == src:
        return base
    if len(out) == 1 and len(src) > 1 and math.prod(src) == out[0]:
        return flatten(b, node, base)
    if _same_but_units(out, src):
        return _unit_view(base, out)
    if len(src) == 3 and len(out) == 4 and out[0] * out[1] == src[0] and out[2:] == src[1:]:
        return Grouped(base, out[0])
    raise b.fail(node, f"{what} from {list(src)} to {list(out)}", "a topology's values are "
                 "(C, H, W) maps and (F,) vectors; only flattening, unit dimensions (a gate) "
                 "and a channel shuffle's view are reshapes it can hold",
                 f"x.view(x.size(0), -1); {_GATE}")


def flatten(b: Builder, node: fx.Node, base: Ref) -> Value:
    """`torch.flatten(x, 1)`; a flattened pool to 1x1 is the global average,
    `torch.mean(x, (2, 3))`, when the registry says both are ops."""
    v = base.value
    if base.slice is None and v.kind == "op" and len(v.refs) == 1:
        pooled = b.spellings_equal(v, F.adaptive_avg_pool2d, 1)
        if pooled:
            try:
                gap = b.canonical(node, v.refs[0], torch.mean, (2, 3), what="a pooled vector")
                return Value(gap.kind, gap.shape, v.name, v.home, gap.refs, op=gap.op,
                             args=gap.args, module=v.module)
            except NotImportable:  # no op is the global mean: flatten the pool as it is
                pass
    return b.canonical(node, base, torch.flatten, 1, what="a flatten")


def expand(b: Builder, node: fx.Node, a, kw) -> Any:
    base = _base(b, node, a[0], "an expand")
    out = tuple(node.meta.get("example_shape", (0,))[1:])
    _keeps_batch(b, node, "an expand")
    if len(out) == len(base.shape) and all(s in (1, o) for s, o in zip(base.shape, out)) \
            or len(base.shape) == 1 and out[:1] == base.shape:
        return Viewed(base, out)
    raise b.fail(node, f"an expand of {list(base.shape)} to {list(out)}",
                 "only a per-channel gate may be expanded, for a product", _GATE)


def permute(b: Builder, node: fx.Node, a, kw) -> Any:
    dims = a[1] if len(a) == 2 and isinstance(a[1], (tuple, list)) else a[1:]
    dims = tuple(kw.get("dims", dims))
    return _permuted(b, node, a[0], dims)


def _permuted(b: Builder, node: fx.Node, x: Any, dims: tuple) -> Any:
    rank = len(dims)
    dims = tuple(d % rank for d in dims)
    if isinstance(x, Permuted):
        composed = tuple(x.perm[d] for d in dims)
        if composed == tuple(range(rank)):
            return x.ref
        return Permuted(x.ref, composed)
    base = b.ref(node, x, "a permute")
    if dims[0] != 0:
        raise b.fail(node, f"the permute {list(dims)}", "it moves the batch dimension")
    return Permuted(base, dims) if dims != tuple(range(rank)) else base


def transpose(b: Builder, node: fx.Node, a, kw) -> Any:
    x, d0, d1 = a[0], a[1], a[2]
    if isinstance(x, Grouped) and {d0, d1} == {1, 2}:
        return Grouped(x.ref, x.groups, not x.swapped)
    rank = 1 + len(x.ref.shape if isinstance(x, (Permuted, Viewed)) else
                   b.ref(node, x, "a transpose").shape)
    dims = list(range(rank))
    dims[d0 % rank], dims[d1 % rank] = dims[d1 % rank], dims[d0 % rank]
    return _permuted(b, node, x, tuple(dims))


def same(b: Builder, node: fx.Node, a, kw) -> Any:
    return a[0]


def to_layout(b: Builder, node: fx.Node, a, kw) -> Any:
    if len(a) == 1 and set(kw) == {"memory_format"}:
        return a[0]  # a memory layout (channels_last) is not part of the topology
    raise b.fail(node, "the conversion x.to()", "only a change of memory layout is "
                 "independent of the topology", "x.to(memory_format=torch.channels_last)")


# ------------------------------------------------------------- channel ranges
def _channel_dim(b: Builder, node: fx.Node, dim: Any, what: str) -> None:
    if dim not in (1, -3):
        raise b.fail(node, f"{what} along dim {dim}", "a reference can cut only channels "
                     "(dim 1)", "x.chunk(2, dim=1), x[:, a:b]")


def narrow(b: Builder, node: fx.Node, a, kw) -> Ref:
    x, dim, start, length = (list(a) + [kw.get("dim"), kw.get("start"), kw.get("length")])[:4]
    _channel_dim(b, node, dim, "narrow")
    base = b.ref(node, x, "narrow")
    return _sub(base, start, start + length)


def chunk(b: Builder, node: fx.Node, a, kw) -> tuple:
    x, chunks = a[0], a[1] if len(a) > 1 else kw["chunks"]
    _channel_dim(b, node, a[2] if len(a) > 2 else kw.get("dim", 0), "chunk")
    base = b.ref(node, x, "chunk")
    size = -(-base.channels // chunks)
    return tuple(_sub(base, s, min(s + size, base.channels))
                 for s in range(0, base.channels, size))


def split(b: Builder, node: fx.Node, a, kw) -> tuple:
    x = a[0]
    sizes = a[1] if len(a) > 1 else kw.get("split_size_or_sections", kw.get("split_size"))
    _channel_dim(b, node, a[2] if len(a) > 2 else kw.get("dim", 0), "split")
    base = b.ref(node, x, "split")
    if isinstance(sizes, int):
        sizes = [min(sizes, base.channels - s) for s in range(0, base.channels, sizes)]
    out, start = [], 0
    for size in sizes:
        out.append(_sub(base, start, start + size))
        start += size
    return tuple(out)


def index(b: Builder, node: fx.Node, a, kw) -> Any:
    x, idx = a[0], a[1]
    idx = idx if isinstance(idx, tuple) else (idx,)
    shown = "x[" + ", ".join(_show(i) for i in idx) + "]"
    if isinstance(x, (Grouped, Permuted, Param)):
        raise b.fail(node, f"the indexing {shown}", "only a (C, H, W) map or a gate can be "
                     "indexed")
    base = _base(b, node, x, f"the indexing {shown}")
    shape = x.shape if isinstance(x, Viewed) else base.shape
    rank = 1 + len(shape)
    real = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if Ellipsis in idx:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (rank - real) + idx[k + 1:]
    dims = [i for i in idx if i is not None]
    dims += [slice(None)] * (rank - len(dims))
    every = slice(None)
    for i in dims:
        if not isinstance(i, slice):
            raise b.fail(node, f"the indexing {shown}", f"the index {_show(i)} drops a "
                         "dimension or picks elements, which no reference can say",
                         "x[:, a:b] (a channel range), x[:, :, ::2, ::2]")
    out = tuple(node.meta.get("example_shape", (0,))[1:])
    if all(i == every for i in dims):
        return _unit_view(base, out) if not isinstance(x, Viewed) else \
            _unit_view(x.ref, out)
    if isinstance(x, Viewed) or dims[0] != every or rank != 4 and rank != 2:
        raise b.fail(node, f"the indexing {shown}", "only a channel range and a stride on "
                     "both spatial axes of a (C, H, W) map are references",
                     "x[:, a:b], x[:, :, ::s, ::s]")
    start, stop, step = dims[1].indices(shape[0])
    if step != 1:
        raise b.fail(node, f"the indexing {shown}", "a reference is one contiguous channel "
                     "range", "x[:, a:b]")
    r = _sub(base, start, stop)
    spatial = dims[2:]
    if all(i == every for i in spatial):
        return _unit_view(r, out) if out != r.shape else r
    steps = {(i.start, i.stop, i.step) for i in spatial}
    if len(steps) == 1 and next(iter(steps))[:2] == (None, None) and (spatial[0].step or 1) > 1:
        pooled = b.canonical(node, r, F.max_pool2d, 1, spatial[0].step,
                             what=f"the indexing {shown}")
        return pooled
    raise b.fail(node, f"the indexing {shown}", "a spatial crop or unequal strides have no "
                 "op", "x[:, :, ::s, ::s] (every s-th pixel both ways)")


def _show(i: Any) -> str:
    if isinstance(i, slice):
        text = ("" if i.start is None else str(i.start)) + ":" + \
            ("" if i.stop is None else str(i.stop))
        return text + (f":{i.step}" if i.step is not None else "")
    if i is Ellipsis:
        return "..."
    return "None" if i is None else repr(i)


def channel_pad(b: Builder, node: fx.Node, a, kw) -> Any:
    from .nodes import Padded

    x = a[0]
    pad = tuple(a[1] if len(a) > 1 else kw["pad"])
    mode = a[2] if len(a) > 2 else kw.get("mode", "constant")
    value = a[3] if len(a) > 3 else kw.get("value", None)
    if not any(pad):
        return x
    if mode != "constant" or value not in (None, 0, 0.0):
        raise b.fail(node, f"F.pad(mode={mode!r}, value={value!r})", "linkc pads with zeros "
                     "only")
    pairs = [pad[k:k + 2] for k in range(0, len(pad), 2)]  # last dimension first
    rank = 1 + len(b.ref(node, x, "F.pad").shape)
    channel = rank - 2  # pairs index of dim 1
    if any(any(p) for k, p in enumerate(pairs) if k != channel) or len(pairs) <= channel:
        raise b.fail(node, f"F.pad{pad} of the spatial dimensions", "linkc has no padding "
                     "op: a spatial pad fixes sizes the fixed --input already makes equal, "
                     "or belongs to the next layer", "the conv's or pool's own padding")
    front, back = pairs[channel]
    if front < 0 or back < 0:
        raise b.fail(node, f"F.pad{pad}", "a negative pad crops channels", "x[:, a:b]")
    return Padded(b.ref(node, x, "F.pad"), front, back)


_METHODS: dict[str, Callable] = {
    "view": reshape, "reshape": reshape, "flatten": reshape, "unsqueeze": reshape,
    "squeeze": reshape, "unflatten": reshape, "expand": expand, "expand_as": expand,
    "permute": permute, "transpose": transpose, "contiguous": same, "clone": same,
    "detach": same, "float": same,  # the import is float32 and keeps no autograd history
    "to": to_layout, "narrow": narrow, "chunk": chunk, "split": split,
}
_FUNCTIONS: dict[Any, Callable] = {
    operator.getitem: index, torch.reshape: reshape, torch.flatten: reshape,
    torch.unsqueeze: reshape, torch.squeeze: reshape, torch.permute: permute,
    torch.transpose: transpose, torch.narrow: narrow, torch.chunk: chunk, torch.split: split,
    F.pad: channel_pad, torch.clone: same,
}


def idiom(kind: str, target: Any) -> Callable | None:
    return _METHODS.get(target) if kind == "call_method" else _FUNCTIONS.get(target)
