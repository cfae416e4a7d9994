"""A plugin entry's lowering, checked on the objects themselves at its first use.

Registration reads a target's source only (`linkc.ops.plugin_targets`: no plugin module
is imported, so no torch); the first time a spec uses a plugin's op or merge, shape
inference calls its rules through the guards of `linkc.extend`, and those call here:
the target is imported and must be an `nn.Module` subclass (an op, a learnable merge) or
a function (any other merge), the module must build from what the kwargs rule gives,
and its parameters are counted on the `meta` device (no storage). Each failure is the
plugin's, raised as the error `fault(problem)` makes; nothing here is reached for a spec
without plugin entries.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..ops.plugins import PluginError
from ..ops.registry import Lowering
from .lower import resolve_target

Fault = Callable[[str], PluginError]


def resolve(lowering: Lowering, fault: Fault) -> Any:
    """The object the target names; a target that cannot be imported is the plugin's."""
    try:
        return resolve_target(lowering.target)
    except Exception as exc:  # noqa: BLE001 - importing foreign code can raise anything
        raise fault(f"its lowering target {lowering.target!r} cannot be imported: "
                    f"{type(exc).__name__}: {exc}") from exc


def module_class(lowering: Lowering, fault: Fault) -> type[nn.Module]:
    target = resolve(lowering, fault)
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise fault(f"its lowering target {lowering.target!r} is {_what(target)}, not a "
                    "subclass of torch.nn.Module")
    return target


def function(lowering: Lowering, fault: Fault) -> Callable[..., Any]:
    """A merge without parameters lowers to a function of its inputs."""
    target = resolve(lowering, fault)
    if isinstance(target, type) or not callable(target):
        raise fault(f"its lowering target {lowering.target!r} is {_what(target)}; a merge "
                    "without parameters lowers to a function of its inputs (a learnable "
                    "merge, params=True, to a module)")
    return target


def build(lowering: Lowering, rule_args: tuple, fault: Fault) -> nn.Module:
    """The module for one use: `target(**kwargs(*rule_args))`, on the meta device where
    the constructor allows (no storage), else on the CPU."""
    cls = module_class(lowering, fault)
    where = f"for input shape {_shapes(rule_args[0])}"
    try:
        kwargs = lowering.kwargs(*rule_args)
    except Exception as exc:  # noqa: BLE001 - the plugin's rule
        raise fault(f"its kwargs rule failed {where}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise fault(f"its kwargs rule returned {kwargs!r} {where}; it returns a dict of "
                    "constructor keyword arguments")
    try:
        with torch.device("meta"):
            return cls(**kwargs)
    except Exception:  # noqa: BLE001 - a constructor may read its tensors' values: try storage
        pass
    try:
        return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the plugin's constructor
        raise fault(f"its module {cls.__name__}(**{kwargs!r}) {where} cannot be built: "
                    f"{type(exc).__name__}: {exc}") from exc


def module_params(lowering: Lowering, rule_args: tuple, fault: Fault) -> int:
    """Learnable parameters of the module one use builds: what training would optimise."""
    return sum(p.numel() for p in build(lowering, rule_args, fault).parameters())


def _what(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    if callable(obj):
        return f"the function {getattr(obj, '__qualname__', obj)!s}"
    return f"a {type(obj).__name__}"


def _shapes(shape_or_shapes) -> str:
    if shape_or_shapes and isinstance(shape_or_shapes[0], tuple):
        return ", ".join(str(list(s)) for s in shape_or_shapes)
    return str(list(shape_or_shapes))
