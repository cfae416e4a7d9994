"""What registration can learn about a lowering target without importing its module.

A plugin's registration module imports no torch, and the modules its targets name
usually do: importing them for every command would make `linkc check` of a spec that
uses no plugin op pay for torch. So at registration a target is found the way `import`
would find it (its parent packages are located, not imported) and its source is read:
a module that does not exist, a name it does not define, a class where a function
belongs (or the reverse) and a call signature that refuses what the kwargs rule gives
are reported then. What only the object can tell (an `nn.Module` subclass, a module that
builds, its parameter count) is checked at first use, by `linkc.compiler.plugin_check`.

A target whose module is already imported (code registering from its own module,
torch's classes once torch is loaded) is read as the object itself.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """A lowering target as far as registration can tell."""

    kind: str | None  # "class", "function", "other" (neither), or None: the source does not say
    # how it is called (a class: its constructor, without `self`); None when unknown
    signature: inspect.Signature | None


UNKNOWN = Target(None, None)


def read_target(target: str) -> Target:
    """The target 'package.module:Name', read without importing its module. A module or
    name that does not exist is a LookupError saying which."""
    module_name, _, attr = target.partition(":")
    loaded = sys.modules.get(module_name)
    if loaded is not None and hasattr(loaded, attr):
        return _from_object(getattr(loaded, attr))
    if loaded is not None and not getattr(loaded.__spec__, "_initializing", False):
        raise LookupError(f"module '{module_name}' has no attribute '{attr}'")
    # not imported, or being imported (a registration module naming a class it defines
    # further down): its source tells
    spec = _find_spec(module_name)
    if spec is None:
        raise LookupError(f"there is no module named '{module_name}'")
    source = Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    if source is None or not source.is_file():
        return UNKNOWN  # an extension module, a namespace package: only importing tells
    try:
        tree = ast.parse(source.read_bytes(), str(source))
    except (SyntaxError, ValueError) as exc:
        raise LookupError(f"module '{module_name}' ({source}) cannot be parsed: {exc}") from None
    bound, open_ended = _top_level_names(tree)
    if attr in bound:
        return _from_source(bound[attr])
    if open_ended:
        return UNKNOWN  # `from x import *` or a module __getattr__ may provide it
    raise LookupError(f"module '{module_name}' ({source}) defines no '{attr}'")


def _find_spec(module_name: str):
    """The module's import spec, found without running any of its packages' code."""
    parts = module_name.split(".")
    spec = None
    for i in range(len(parts)):
        name = ".".join(parts[:i + 1])
        loaded = sys.modules.get(name)
        if loaded is not None and getattr(loaded, "__spec__", None) is not None:
            spec = loaded.__spec__
        elif i == 0:
            try:
                spec = importlib.util.find_spec(name)  # a top-level name: nothing is imported
            except (ImportError, ValueError):
                return None
        else:
            locations = spec.submodule_search_locations if spec is not None else None
            if not locations:
                return None  # the parent is a module, not a package
            spec = importlib.machinery.PathFinder.find_spec(name, list(locations))
        if spec is None:
            return None
    return spec


def _top_level_names(tree: ast.Module) -> tuple[dict[str, ast.AST | None], bool]:
    """Names the module binds at its top level (also inside top-level if/try/with), each
    with its class or function definition (None for any other binding), and whether
    names may come from elsewhere (a star import, a module `__getattr__`, `globals()`)."""
    bound: dict[str, ast.AST | None] = {}
    open_ended = any(isinstance(n, ast.Name) and n.id == "globals" for n in ast.walk(tree))
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            bound[node.name] = node
            open_ended |= node.name == "__getattr__"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                bound.update((n.id, None) for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    open_ended = True
                else:
                    bound[alias.asname or alias.name.split(".")[0]] = None
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            todo.extend([*node.body, *getattr(node, "orelse", ()),
                         *getattr(node, "finalbody", ()),
                         *(s for h in getattr(node, "handlers", ()) for s in h.body)])
    return bound, open_ended


def _from_source(node: ast.AST | None) -> Target:
    if isinstance(node, ast.ClassDef):
        init = next((s for s in node.body if isinstance(s, ast.FunctionDef)
                     and s.name == "__init__"), None)
        # a decorator (a dataclass) or an inherited constructor: the source does not say
        plain = init is not None and not node.decorator_list and not init.decorator_list
        return Target("class", _signature(init.args, drop_self=True) if plain else None)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return Target("function", None if node.decorator_list else _signature(node.args))
    return UNKNOWN


def _from_object(obj: Any) -> Target:
    kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "other"
    try:
        signature = inspect.signature(obj) if kind != "other" else None
    except (TypeError, ValueError):  # some builtins have no signature
        signature = None
    return Target(kind, signature)


class _Default:
    """A default as written in the source: binding needs only that there is one, and a
    message shows it as written."""

    def __init__(self, node: ast.expr):
        self.text = ast.unparse(node)

    def __repr__(self) -> str:
        return self.text


def _signature(args: ast.arguments, drop_self: bool = False) -> inspect.Signature:
    P = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [P(a.arg, P.POSITIONAL_ONLY if i < len(args.posonlyargs) else
                P.POSITIONAL_OR_KEYWORD,
                default=_Default(args.defaults[i - first_default]) if i >= first_default
                else P.empty)
              for i, a in enumerate(positional)]
    if drop_self:
        params = params[1:]
    if args.vararg:
        params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    params += [P(a.arg, P.KEYWORD_ONLY, default=P.empty if d is None else _Default(d))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def shape_problem(value: Any) -> str | None:
    """What is wrong with a shape rule's result, or None for a tuple of positive ints."""
    if not isinstance(value, tuple):
        return f"a shape rule returns a tuple of positive ints, not a {type(value).__name__}"
    if not value:
        return "a shape rule returns at least one dimension"
    bad = [d for d in value if isinstance(d, bool) or not isinstance(d, int) or d <= 0]
    if bad:
        return f"a shape rule returns positive ints, and {bad[0]!r} is not one"
    return None
