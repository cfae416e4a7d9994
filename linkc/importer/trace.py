"""Trace a user's nn.Module with torch.fx, stopping at the modules linkc has ops for.

Containers (the user's own classes, Sequential, ModuleList) are traced through, so
the fx graph holds one `call_module` per layer linkc knows (Conv2d, BatchNorm2d,
...), plus the torch functions and tensor methods the forward calls between them.
The merge functions of a linkc-generated `model.py` (`concat`, `wsum`, ...) stay
whole: they are the merges. Every fx node then gets its output shape from one
forward pass on a zero tensor (`ShapeProp`), which the later steps read.
"""

from __future__ import annotations

from ..errors import UserError

import inspect
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from .adopt import is_adopted

__all__ = ["NotImportable", "Traced", "trace_module"]

# Names of the merge functions in linkc's lowering (and so in a generated model.py).
MERGE_FUNCTIONS = ("add", "add_padded", "concat", "mean", "mean_padded", "wsum", "wsum_padded",
                   "mul", "channel_slice")


class NotImportable(UserError):
    """A module linkc cannot express as a spec (or cannot load): exit 2, with where and why."""


@dataclass
class Traced:
    module: nn.Module
    gm: fx.GraphModule
    input_shapes: list[tuple[int, ...]]


class _Tracer(fx.Tracer):
    def __init__(self, autowrap):
        super().__init__(autowrap_functions=autowrap)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if is_adopted(m):
            return True
        # Any other torch.nn layer (not a container) has no op: keep it whole so the
        # error can name it, instead of tracing into its internals.
        return (type(m).__module__.startswith("torch.nn") and
                not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)))


def _merge_functions(module: nn.Module) -> tuple:
    """The merge helpers a generated model.py defines (or linkc's own), to keep whole."""
    from ..compiler import functional

    found = [getattr(functional, n) for n in MERGE_FUNCTIONS if hasattr(functional, n)]
    # the globals the forward runs in: the generated file may not be in sys.modules
    home = getattr(type(module).forward, "__globals__", {})
    for name in MERGE_FUNCTIONS:
        fn = home.get(name)
        if inspect.isfunction(fn) and fn not in found:
            found.append(fn)
    return tuple(found)


def trace_module(module: nn.Module, input_shapes: list[tuple[int, ...]]) -> Traced:
    """fx graph of `module` (eval mode) with shapes; errors name the module and why."""
    module = module.eval()
    tracer = _Tracer(_merge_functions(module))
    try:
        graph = tracer.trace(module)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError...
        raise NotImportable(_trace_failure(module, exc)) from None
    gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
    samples = [torch.zeros(1, *shape) for shape in input_shapes]
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*samples)
    except Exception as exc:
        raise NotImportable(f"running {type(module).__name__} on a zero input of shape "
                           f"{[list(s) for s in input_shapes]} failed: {type(exc).__name__}: "
                           f"{exc}. Check --input.") from None
    return Traced(module, gm, [tuple(s) for s in input_shapes])


def _trace_failure(module: nn.Module, exc: Exception) -> str:
    """Which submodule fx could not trace, found from the traceback, and why."""
    where = type(module).__name__
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and frame.f_code.co_name == "forward":
            path = next((n for n, m in module.named_modules() if m is owner), None)
            if path is not None:
                where = f"'{path or '(the model)'}' ({type(owner).__name__}, "  \
                        f"{frame.f_code.co_filename}:{frame.f_lineno})"
                break
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "symbolically traced variables cannot be used as inputs to control flow" in str(exc) \
            or "Proxy" in str(exc) and "bool" in str(exc):
        reason = ("its forward branches on a tensor value (a Python `if`/`while` on data), "
                  "which a static topology cannot express")
    return (f"cannot trace module {where}: {reason}. linkc import needs a forward that "
            "torch.fx can trace (no data-dependent control flow).")
