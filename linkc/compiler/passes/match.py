"""The one pattern the passes match: a module call on one input.

In the spirit of torch.fx's `matches_module_pattern` (torch/fx/experimental/
optimization.py), `module_call(node, modules, nn.Conv2d)` is the module a node calls
when the node is a `call_module` of exactly that class on one fx node, with no
keyword arguments. Classes are compared with `type(m) is cls`, never `isinstance`:
a subclass is another computation (a plugin's weight-standardised convolution
normalises its weights in `forward`, so a BN folded into its raw weights changes the
network), and a pass that knows how to rewrite nn.Conv2d knows nothing about it.
"""

from __future__ import annotations

from typing import Mapping

from torch import fx, nn


def module_call(node, modules: Mapping[str, nn.Module], cls: type[nn.Module] | None = None,
                one_user: bool = False) -> nn.Module | None:
    """The module `node` calls, when `node` is a call_module of exactly class `cls` (any
    class when None) with one fx node as its only argument and no keyword arguments,
    and (`one_user`) read by exactly one node; else None."""
    if not (isinstance(node, fx.Node) and node.op == "call_module" and len(node.args) == 1
            and not node.kwargs and isinstance(node.args[0], fx.Node)):
        return None
    if one_user and len(node.users) != 1:
        return None
    module = modules.get(node.target)
    if module is None or (cls is not None and type(module) is not cls):
        return None
    return module


def only_user(node: fx.Node) -> fx.Node | None:
    """The one node that reads `node`, or None when it has none or several."""
    return next(iter(node.users)) if len(node.users) == 1 else None
