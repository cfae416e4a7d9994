"""The public API for adding ops and merges: what a plugin imports.

A plugin entry is the same declaration as a built-in one (linkc/ops/*.py
and merges.py are written with exactly these names) and nothing more:

    from pydantic import Field, PositiveInt
    from linkc.extend import Args, Lowering, OpDef, ShapeError, register_op

    class SepConvArgs(Args):                       # field order = positional order
        out: PositiveInt = Field(description="output channels")
        k: PositiveInt = Field(3, description="kernel size")

    def shape(s, a):                               # per-sample shape, channels first
        if len(s) != 3:
            raise ShapeError(f"sepconv needs a (C, H, W) map, got {list(s)}")
        return (a.out, s[1], s[2])

    register_op(OpDef(
        "sepconv", SepConvArgs, shape,
        Lowering("my_plugin.modules:SeparableConv",          # imported only when lowering
                 lambda s, a: dict(in_channels=s[0], out_channels=a.out, kernel_size=a.k)),
        "depthwise-separable convolution", frozenset({"params"}),
        params=lambda s, a: s[0] * a.k * a.k + s[0] * a.out))

- `Args`: the pydantic model of the op's arguments (unknown keys refused). A
  numeric field accepts spec expressions (`4*k`, `channels(x)//2`).
- the shape rule `(in_shape, args) -> out_shape` raises `ShapeError(message, hint)`;
  linkc adds the spec position.
- `Lowering("package.module:Name", kwargs)`: an nn.Module class (or, for a merge
  without parameters, a function of the inputs in order) and its constructor
  arguments from `(in_shape, args)`. The target must be in torch, linkc or the
  plugin's own packages. Generated `model.py` imports the plugin module it names
  and writes each module as its repr, so a module with constructor arguments
  returns them from `extra_repr` as `name=value` pairs (as torch.nn's do).
- traits (`TRAITS`): `params` (with a `params` rule counting the parameters before
  anything is allocated), `norm`, `elementwise` (the passes stack it like relu).
- `MergeDef(name, infer, lowering, glyph, doc, ...)`: `infer(inputs, options)` over
  `MergeInput`s; `associative=True` when merge(merge(a, b), c) == merge(a, b, c)
  and its function takes any number of inputs; `params=True` with `count_params`
  for a learnable merge (its lowering is then a module); `inplace_lowering` (and
  `pad_inplace_lowering`): the same function with a keyword `into` (0 or 1) that
  writes the result into that input, bit for bit equal, or falls back to the plain
  function where it cannot (the inplace_merge pass uses it).

Registering a name that exists (built in or from another plugin) is an error that
names both origins. A registration made while linkc loads a plugin records the
plugin's distribution as its origin (`linkc ops` shows it); one made from other
code records that code's module.
"""

from __future__ import annotations

import sys

from .ops import plugins
from .ops.merges import MERGES, MergeDef, MergeInput, MergeOptions
from .ops import OPS
from .ops.registry import (BUILTIN, TRAITS, Args, Lowering, NoArgs, OpDef, Origin, Shape,
                                ShapeError)

__all__ = ["Args", "Lowering", "MergeDef", "MergeInput", "MergeOptions", "NoArgs", "OpDef",
           "Shape", "ShapeError", "TRAITS", "register_merge", "register_op"]


def register_op(op: OpDef, aliases: tuple[str, ...] = ()) -> OpDef:
    """Add `op` to the op registry (its name and aliases become usable in specs)."""
    if not isinstance(op, OpDef):
        raise TypeError(f"register_op takes an OpDef, got {type(op).__name__}")
    origin = _origin(sys._getframe(1).f_globals.get("__name__", "__main__"))
    _check_target(op.name, op.lowering, origin)
    return OPS.add(op, tuple(aliases), origin)


def register_merge(merge: MergeDef, aliases: tuple[str, ...] = ()) -> MergeDef:
    """Add `merge` to the merge registry."""
    if not isinstance(merge, MergeDef):
        raise TypeError(f"register_merge takes a MergeDef, got {type(merge).__name__}")
    origin = _origin(sys._getframe(1).f_globals.get("__name__", "__main__"))
    for lowering in (merge.lowering, merge.pad_lowering, merge.inplace_lowering,
                     merge.pad_inplace_lowering):
        if lowering is not None:
            _check_target(merge.name, lowering, origin)
    return MERGES.add(merge, tuple(aliases), origin)


def _origin(caller: str) -> Origin:
    loading = plugins.current_origin()
    if loading is not None:
        return loading
    return Origin(f"module {caller}", (caller.split(".")[0],))


def _check_target(name: str, lowering: Lowering, origin: Origin) -> None:
    module, colon, attr = lowering.target.partition(":")
    if not (colon and module and attr):
        raise ValueError(f"'{name}': lowering target {lowering.target!r} is not "
                         "'package.module:Name'")
    allowed = (*BUILTIN.packages, *origin.packages)
    if module.split(".")[0] not in allowed:
        raise ValueError(f"'{name}': lowering target {lowering.target!r} is outside "
                         f"{', '.join(allowed)} (the packages of {origin.name} and linkc)")
