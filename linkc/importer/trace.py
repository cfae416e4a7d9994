"""Trace a user's nn.Module with torch.fx, stopping at the layers the registry knows.

Containers and the user's own classes are traced through, so the fx graph holds one
`call_module` per layer some op is the inverse of (see inverse.py), plus the torch
functions and tensor methods the forward calls between them; linkc's merge functions
(and a generated model.py's copies) stay whole. Each proxy carries the value its
node computes on a sample input (the tracer runs the forward as it records it), so
shape reads are numbers under the fixed `--input`: `x.size()`, `x.shape[i]`,
`b, c, h, w = x.size()` give the sizes of the sample, except the batch size, which
stays a node of the graph (`Batch` to the importer), so a reshape that keeps the
batch is read as one. A forward may then branch on a shape (`if x.shape[1] != c`);
branching on tensor values is still refused. Each node records where the user's
code made it (file, line, source) and its example's shape, for later steps and
errors.
"""

from __future__ import annotations

import linecache
import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.fx.node import map_aggregate

from ..errors import UserError
from .inverse import Spellings, match_module
from .refusal import NotImportable

__all__ = ["NotImportable", "Traced", "trace_module", "where"]

SAMPLE_BATCH = 2  # the sample's batch: not 1, so a reshape that folds samples shows


@dataclass
class Traced:
    module: nn.Module
    gm: fx.GraphModule
    input_shapes: list[tuple[int, ...]]
    spellings: Spellings


_SKIP = tuple(os.path.dirname(p) + os.sep for p in (torch.__file__,
                                                     os.path.dirname(__file__)))


def _user_frame() -> tuple[str, int, str] | None:
    """(file, line, source) of the innermost frame of the user's code."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(_SKIP) and not path.startswith("<"):
            return path, frame.f_lineno, linecache.getline(path, frame.f_lineno).strip()
        frame = frame.f_back
    return None


def where(node: fx.Node) -> str:
    """`file:line: source` of the user's code that made `node`, or ''."""
    frame = node.meta.get("user_frame")
    return f"{frame[0]}:{frame[1]}: `{frame[2]}`" if frame else ""


class _ShapedProxy(fx.Proxy):
    """A proxy whose shape reads are the sample's sizes (the batch size stays a node)."""

    def _example(self):
        return self.tracer.example(self.node)

    def size(self, dim=None):
        example = self._example()
        if not isinstance(example, torch.Tensor):
            return self.tracer.create_proxy("call_method", "size", (self,) if dim is None
                                            else (self, dim), {})
        if dim is None:
            return (self._batch(), *example.shape[1:])
        if dim in (0, -example.dim()):
            return self._batch()
        return int(example.shape[dim])

    def _batch(self):
        return self.tracer.create_proxy("call_method", "size", (self, 0), {})

    @property
    def shape(self):
        return self.size()

    def dim(self):
        example = self._example()
        return example.dim() if isinstance(example, torch.Tensor) else \
            self.tracer.create_proxy("call_method", "dim", (self,), {})

    @property
    def ndim(self):
        return self.dim()

    def __len__(self):
        example = self._example()
        if isinstance(example, (tuple, list)):
            return len(example)
        raise TypeError("len() of a tensor is its batch size, which an imported spec "
                        "leaves open")

    def __iter__(self):
        example = self._example()
        if isinstance(example, (tuple, list)):
            return iter([self[i] for i in range(len(example))])
        return super().__iter__()


class _Tracer(fx.Tracer):
    def __init__(self, spellings: Spellings, autowrap: tuple, samples: list[torch.Tensor]):
        super().__init__(autowrap_functions=autowrap)
        self.spellings = spellings
        self.samples = list(samples)
        self.examples: dict[fx.Node, Any] = {}
        self.traced_through: set[int] = set()
        self.running = 0

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ShapedProxy(node, self)

    def example(self, node: fx.Node) -> Any:
        if node not in self.examples and node.op == "get_attr":
            self.examples[node] = _fetch(self.root, str(node.target))
        return self.examples.get(node)

    def _concrete(self, value: Any) -> Any:
        return map_aggregate(value, lambda v: self.example(v.node) if isinstance(v, fx.Proxy)
                             else v)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                     proxy_factory_fn)
        node = proxy.node
        frame = _user_frame()
        if frame:
            node.meta["user_frame"] = frame
        a, k = self._concrete(args), self._concrete(kwargs)
        self.running += 1  # the example runs eagerly: no module call or read is recorded
        try:
            self.examples[node] = value = self._run(kind, target, a, k)
        finally:
            self.running -= 1
        if isinstance(value, torch.Tensor):
            node.meta["example_shape"] = tuple(value.shape)
        return proxy

    def _run(self, kind, target, a, k) -> Any:
        if kind == "placeholder":
            return self.samples.pop(0) if self.samples else None
        if kind == "get_attr":
            return _fetch(self.root, str(target))
        if kind == "call_module":
            return self.root.get_submodule(target)(*a, **k)
        if kind == "call_function":
            return target(*a, **k)
        if kind == "call_method":
            return getattr(a[0], target)(*a[1:], **k)
        return None

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self.running:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m: nn.Module, forward, args, kwargs):
        if self.running:
            return forward(*args, **kwargs)
        found = self.spellings.for_module(m)
        overrides = any(cls is not type(m) and "forward" in vars(type(m)) for _, cls in found)
        if found and overrides and args and isinstance(args[0], fx.Proxy):
            # a subclass with a forward of its own (timm's LayerNorm2d): a layer only when
            # it still computes its base's op; otherwise its forward is traced
            example = self.example(args[0].node)
            if isinstance(example, torch.Tensor):
                self.running += 1
                try:
                    matched, _ = match_module(found, m, tuple(example.shape[1:]))
                finally:
                    self.running -= 1
                if matched is None:
                    self.traced_through.add(id(m))
        return super().call_module(m, forward, args, kwargs)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if id(m) in self.traced_through:
            return False
        if self.spellings.for_module(m):
            return True
        # any other torch.nn layer (not a container) has no op: keep it whole so the error
        # names it, instead of tracing into its internals
        return (type(m).__module__.startswith("torch.nn") and
                not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)))


def _fetch(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def trace_module(module: nn.Module, input_shapes: list[tuple[int, ...]]) -> Traced:
    """fx graph of `module` (eval mode), each node with its sample's shape; errors name
    the module, the user's line and why."""
    module = module.eval()
    spellings = Spellings()
    home = getattr(type(module).forward, "__globals__", {})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        samples = [torch.randn(SAMPLE_BATCH, *shape) for shape in input_shapes]
    tracer = _Tracer(spellings, spellings.merge_functions(home), samples)
    try:
        with torch.no_grad():
            graph = tracer.trace(module)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
        raise NotImportable(_trace_failure(module, exc, input_shapes)) from None
    gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
    return Traced(module, gm, [tuple(s) for s in input_shapes], spellings)


def _trace_failure(module: nn.Module, exc: Exception, input_shapes) -> str:
    """Which submodule could not be traced, found from the traceback, and why."""
    where_ = type(module).__name__
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    line = ""
    for frame, lineno in reversed(frames):
        path = frame.f_code.co_filename
        if not line and not path.startswith(_SKIP) and not path.startswith("<"):
            line = f" at {path}:{lineno}: `{linecache.getline(path, lineno).strip()}`"
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and frame.f_code.co_name == "forward":
            name = next((n for n, m in module.named_modules() if m is owner), None)
            if name is not None:
                where_ = f"'{name or '(the model)'}' ({type(owner).__name__}, " \
                         f"{path}:{lineno})"
                break
    text = str(exc)
    reason = text.splitlines()[0] if text else type(exc).__name__
    if "symbolically traced variables cannot be used as inputs to control flow" in text \
            or "Proxy" in text and "bool" in text:
        reason = ("its forward branches on a tensor value (a Python `if`/`while` on data), "
                  "which a static topology cannot express")
        return (f"cannot trace module {where_}: {reason}. linkc import needs a forward that "
                "torch.fx can trace (no data-dependent control flow; a branch on a shape "
                "is fine).")
    return (f"cannot trace module {where_}{line}: running it on a sample of shape "
            f"{[list(s) for s in input_shapes]} failed: {type(exc).__name__}: {reason}. "
            "Check --input, or that the forward runs on that shape.")
