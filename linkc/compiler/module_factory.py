"""Building the many identical leaf modules of a large spec quickly.

A 10,000-node spec is mostly the same few modules over and over (`Conv2d(8, 8, 1)`,
`BatchNorm2d(8)`, `ReLU()`). torch's constructors spend most of their time in Python
argument checks, not in tensors: about 180 us for a Conv2d, of which its weight
initialisation is a third. `ModuleFactory` builds the first module of each kind with its
constructor and every later one as a copy of that prototype's attributes with fresh
parameter and buffer storage, then runs the module's own `reset_parameters()`.

The weights are therefore drawn by torch's own initialisation, in the same order and from
the same random stream as the constructors would draw them: a model lowered with the
factory is bit-identical to one lowered without it under the same seed.

Only leaf modules of torch.nn and linkc qualify, and only when `reset_parameters()`
initialises all of their state (or they have none): a plugin's module, a container, or a
module whose buffers its constructor fills some other way is always constructed.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

_TRUSTED_PACKAGES = ("torch.nn.", "linkc.")


def _key(target: Callable[..., Any], kwargs: dict[str, Any]):
    """A hashable key for (constructor, arguments), or None when an argument is not plain."""
    items = []
    for name, value in sorted(kwargs.items()):
        if isinstance(value, list):
            value = ("__list__", *value)
        try:
            hash(value)
        except TypeError:
            return None
        items.append((name, type(value), value))
    return target, tuple(items)


def _copyable(module: nn.Module) -> bool:
    """True when a copy with fresh storage and `reset_parameters()` equals a new one."""
    if not type(module).__module__.startswith(_TRUSTED_PACKAGES) or module._modules:
        return False
    has_state = bool(module._parameters) or bool(module._buffers)
    return not has_state or callable(getattr(module, "reset_parameters", None))


def _copy(prototype: nn.Module) -> nn.Module:
    module = type(prototype).__new__(type(prototype))
    state = {}
    for name, value in prototype.__dict__.items():
        # hook tables, the non-persistent buffer set, padding lists: a copy's own
        state[name] = value.copy() if isinstance(value, (dict, list, set)) else value
    state["_parameters"] = {
        name: None if p is None else nn.Parameter(torch.empty_like(p), p.requires_grad)
        for name, p in prototype._parameters.items()}
    state["_buffers"] = {name: None if b is None else torch.empty_like(b)
                         for name, b in prototype._buffers.items()}
    module.__dict__.update(state)
    if state["_parameters"] or state["_buffers"]:
        module.reset_parameters()
    return module


class ModuleFactory:
    """`factory(target, kwargs)` returns `target(**kwargs)`, built fast when it can be."""

    def __init__(self) -> None:
        self._prototypes: dict[Any, nn.Module | None] = {}

    def __call__(self, target: Callable[..., Any], kwargs: dict[str, Any]) -> nn.Module:
        key = _key(target, kwargs)
        if key is None:
            return target(**kwargs)
        prototype = self._prototypes.get(key)
        if prototype is not None:
            return _copy(prototype)
        module = target(**kwargs)
        # the prototype is the first module itself: later copies share none of its storage
        self._prototypes[key] = module if isinstance(module, nn.Module) and _copyable(module) \
            else None
        return module
