"""The pieces of a generated `model.py`: helpers, module tree, forward, imports.

Each piece is derived from the GraphModule, so the file holds only what its
graph uses:

- helpers: the functions of `functional.py` the forward calls and the classes of
  `modules.py` it instantiates, with what they use in turn, copied by source;
- the module tree: one assignment per module, as a user would write it
  (`self.stem = nn.Module()`, `self.stem.conv1 = nn.Conv2d(...)`, a repeat as
  `nn.ModuleList`), so that `model.stage1[0].f.conv1` is what it looks like;
- the forward: fx's own code for the graph (whatever passes did), with module
  access written as attributes and indices and helpers called by name;
- imports: those the text above needs (torch, nn, math), nothing else.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import re
from typing import Any, Callable

from torch import fx, nn

from .. import functional
from .. import modules

HELPER_MODULES = (functional, modules)  # whose members are copied into model.py


# ------------------------------------------------------------------ helpers
def _defined_in(module) -> dict[str, Any]:
    return {name: obj for name, obj in vars(module).items()
            if (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__}


def helpers_source(used: list[Any]) -> str:
    """Source of `used` (functions and classes of HELPER_MODULES) and of every member
    of those modules they name, in each module's own order."""
    members = {obj: name for module in HELPER_MODULES for name, obj in _defined_in(module).items()}
    by_name = {name: obj for obj, name in members.items()}
    wanted, todo = set(), [obj for obj in used if obj in members]
    while todo:
        obj = todo.pop()
        if obj in wanted:
            continue
        wanted.add(obj)
        names = {n.id for n in ast.walk(ast.parse(inspect.getsource(obj)))
                 if isinstance(n, ast.Name)}
        todo.extend(by_name[n] for n in names if n in by_name)
    ordered = sorted(wanted, key=lambda o: (HELPER_MODULES.index(inspect.getmodule(o)),
                                            inspect.getsourcelines(o)[1]))
    return "\n\n\n".join(inspect.getsource(obj).rstrip() for obj in ordered)


# ------------------------------------------------------------------ module tree
def _is_index_list(module: nn.Module) -> bool:
    keys = list(module._modules)
    return bool(keys) and keys == [str(i) for i in range(len(keys))]


class ModuleTree:
    """How each module of the GraphModule is written and reached in model.py."""

    def __init__(self, gm: fx.GraphModule, ctor: Callable[[nn.Module], str],
                 unit: Callable[[nn.Module], bool] = lambda m: False):
        self.gm = gm
        self.ctor = ctor
        self.unit = unit  # built whole by `ctor`, children included (a plugin's module)
        self.modules = dict(gm.named_modules())
        self.lists = {path for path, m in self.modules.items()
                      if type(m) is nn.Module and _is_index_list(m)}

    def access(self, path: str) -> str:
        """The expression for the module at `path` ('' is the model itself)."""
        text, parent = "self", ""
        for part in path.split(".") if path else []:
            text = self._child(text, parent, part)
            parent = f"{parent}.{part}" if parent else part
        return text

    def _child(self, owner: str, owner_path: str, part: str) -> str:
        if owner_path in self.lists:
            return f"{owner}[{part}]"
        if part.isidentifier() and not keyword.iskeyword(part):
            return f"{owner}.{part}"
        return f"getattr({owner}, {part!r})"

    def _container(self, path: str, module: nn.Module) -> str:
        if path not in self.lists:
            return "nn.Module()"
        children = list(module._modules.values())
        if all(type(c) is nn.Module for c in children):
            return f"nn.ModuleList(nn.Module() for _ in range({len(children)}))"
        return "nn.ModuleList([" + ", ".join(
            "nn.Module()" if type(c) is nn.Module else self.ctor(c) for c in children) + "])"

    def init_lines(self) -> list[str]:
        """One statement per module, parents first (named_modules is pre-order)."""
        lines, inside = [], ()
        for path, module in self.modules.items():
            if not path or path.startswith(inside):
                continue
            owner_path, _, name = path.rpartition(".")
            if owner_path in self.lists:
                continue  # made by its list's constructor
            if self.unit(module):
                inside += (path + ".",)
            is_container = (bool(module._modules) or type(module) is nn.Module) and \
                not self.unit(module)
            if is_container and not module._modules and not _has_tensors(module):
                continue  # an empty placeholder: nothing to hold, nothing to call
            value = self._container(path, module) if is_container else self.ctor(module)
            owner = self.access(owner_path)
            if name.isidentifier() and not keyword.iskeyword(name):
                lines.append(f"{owner}.{name} = {value}")
            else:
                lines.append(f"{owner}.add_module({name!r}, {value})")
        return lines

    def buffer_line(self, key: str, shape: list[int], dtype) -> str:
        owner_path, _, name = key.rpartition(".")
        return (f"{self.access(owner_path)}.register_buffer({name!r}, "
                f"torch.empty({shape}, dtype={dtype}))")


def _has_tensors(module: nn.Module) -> bool:
    return bool(module._parameters) or bool(module._buffers)


# ------------------------------------------------------------------ forward
_GETATTR_DIGIT = re.compile(r'getattr\((self(?:\.[A-Za-z_]\w*|\[\d+\])*), "(\d+)"\)')
_ACCESS = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")


def readable_forward(src: str, tree: ModuleTree) -> str:
    """fx's `getattr(self.stage1, "0").f` -> `self.stage1[0].f` where stage1 is a list."""
    def index(match: re.Match) -> str:
        owner = match.group(1)
        path = ".".join(a or b for a, b in _ACCESS.findall(owner[len("self"):]))
        return f"{owner}[{match.group(2)}]" if path in tree.lists else match.group(0)

    while True:
        done = _GETATTR_DIGIT.sub(index, src)
        if done == src:
            return src
        src = done


def local_names(src: str) -> set[str]:
    """Every name the forward binds (arguments and assigned variables)."""
    tree = ast.parse(src)
    names = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
             for a in [*n.posonlyargs, *n.args, *n.kwonlyargs]}
    return names | {n.id for n in ast.walk(tree)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def rename_globals(src: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        src = re.sub(rf"\b{re.escape(old)}\b", new, src)
    return src


# ------------------------------------------------------------------ imports
_IMPORTS = (("math", "import math"), ("operator", "import operator"),
            ("torch", "import torch"), ("nn", "from torch import nn"))


def imports_for(text: str) -> str:
    """The import lines the generated text needs (it reads no other globals)."""
    names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
    stdlib = [line for name, line in _IMPORTS[:2] if name in names]
    constants = [c for c in ("inf", "nan") if c in names]
    if constants:
        stdlib.append(f"from math import {', '.join(constants)}")
    torch_lines = [line for name, line in _IMPORTS[2:] if name in names]
    return "\n\n".join("\n".join(group) for group in (stdlib, torch_lines) if group)
