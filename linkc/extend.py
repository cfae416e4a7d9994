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
- `imports=(Inverse("my_plugin.modules:SeparableConv", {"out": "out_channels"}),)`: the
  layers (or functions) `linkc import` reads as this op, and the attribute each
  argument comes from; the importer checks that the op computes what the layer does.
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

What is checked, and when (a plugin's fault is a `PluginError`: exit 2, naming the
plugin's distribution and entry point, and the way out, `--no-plugins`):
- at registration, without importing the target's module (so without torch): the
  target's form and package; that its module exists and defines the name (read from
  its source, `linkc.ops.plugin_targets`); a class for an op or a learnable merge, a
  function for any other merge; and, on a sample input (a (8, 8, 8) map, required
  arguments 4) where the rules accept one, that the shape rule returns a shape and the
  constructor (or function) takes what the kwargs rule gives.
- at first use, when a spec names the entry (`linkc.plugin_rules` guards the rules):
  every result of the shape rule is a tuple of positive ints (an exception other than
  ShapeError is the plugin's), and for each input shape and arguments the module is
  built on the meta device and its parameters counted (`linkc.compiler.plugin_check`:
  torch is imported then, and only for a spec that uses a plugin entry). An op's or
  learnable merge's parameter rule must give that count (`linkc check` would otherwise
  print a number the compiled module does not have); an op without a rule gets the
  count from its module.
- when `linkc compile -o` writes model.py: each plugin module is rebuilt from its
  constructor call there, compared and run beside the original, then the written model
  is run against the compiled one (`linkc.compiler.emit.rebuild`).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from .ops import plugins
from .ops.merges import MERGES, MergeDef, MergeInput, MergeOptions
from .ops import OPS
from .ops.plugin_targets import Target, read_target, shape_problem
from .ops.plugins import PluginError, RegistrationError
from .plugin_rules import guarded_merge, guarded_op, is_count
from .ops.registry import (BUILTIN, TRAITS, Args, Inverse, Lowering, NoArgs, OpDef, Origin,
                           Shape, ShapeError)

__all__ = ["Args", "Inverse", "Lowering", "MergeDef", "MergeInput", "MergeOptions", "NoArgs",
           "OpDef", "PluginError", "Shape", "ShapeError", "TRAITS", "register_merge",
           "register_op"]

SAMPLE_SHAPES: tuple[Shape, ...] = ((8, 8, 8), (8,))  # a feature map, then a vector
SAMPLE_ARG = 4  # each required argument of the sample call


def register_op(op: OpDef, aliases: tuple[str, ...] = ()) -> OpDef:
    """Add `op` to the op registry (its name and aliases become usable in specs)."""
    if not isinstance(op, OpDef):
        raise TypeError(f"register_op takes an OpDef, got {type(op).__name__}")
    origin = _origin(sys._getframe(1).f_globals.get("__name__", "__main__"))
    entry = f"op '{op.name}'"
    target = _check_target(entry, op.lowering, origin, "class")
    _probe_op(op, entry, origin, target)
    return OPS.add(guarded_op(op, entry, origin), tuple(aliases), origin)


def register_merge(merge: MergeDef, aliases: tuple[str, ...] = ()) -> MergeDef:
    """Add `merge` to the merge registry."""
    if not isinstance(merge, MergeDef):
        raise TypeError(f"register_merge takes a MergeDef, got {type(merge).__name__}")
    origin = _origin(sys._getframe(1).f_globals.get("__name__", "__main__"))
    entry = f"merge '{merge.name}'"
    kind = "class" if merge.params else "function"
    target = _check_target(entry, merge.lowering, origin, kind)
    for lowering in (merge.pad_lowering, merge.inplace_lowering, merge.pad_inplace_lowering):
        if lowering is not None:
            _check_target(entry, lowering, origin, kind)
    _probe_merge(merge, entry, origin, target)
    return MERGES.add(guarded_merge(merge, entry, origin), tuple(aliases), origin)


def _origin(caller: str) -> Origin:
    loading = plugins.current_origin()
    if loading is not None:
        return loading
    return Origin(f"module {caller}", (caller.split(".")[0],))


# ------------------------------------------------------------------ at registration
def _refuse(origin: Origin, entry: str, problem: str) -> RegistrationError:
    return plugins.blame(origin, entry, problem, RegistrationError)


def _check_target(entry: str, lowering: Lowering, origin: Origin, kind: str) -> Target:
    """The target's form, package and existence; a class or a function as `kind` says."""
    module, colon, attr = lowering.target.partition(":")
    if not (colon and module and attr):
        raise _refuse(origin, entry, f"lowering target {lowering.target!r} is not "
                                     "'package.module:Name'")
    allowed = (*BUILTIN.packages, *origin.packages)
    if module.split(".")[0] not in allowed:
        raise _refuse(origin, entry, f"lowering target {lowering.target!r} is outside "
                                     f"{', '.join(allowed)} (the packages of {origin.name} "
                                     "and linkc)")
    try:
        target = read_target(lowering.target)
    except LookupError as exc:
        raise _refuse(origin, entry, f"lowering target {lowering.target!r} does not exist: "
                                     f"{exc}") from None
    if target.kind is not None and target.kind != kind:
        want = ("a subclass of torch.nn.Module" if entry.startswith("op") else
                "a module class (the merge is learnable, params=True)" if kind == "class" else
                "a function of the inputs (a merge without parameters)")
        raise _refuse(origin, entry, f"lowering target {lowering.target!r} is a "
                                     f"{target.kind if target.kind != 'other' else 'value'}, "
                                     f"and it must be {want}")
    return target


def _sample_args(op: OpDef) -> Args | None:
    required = {n: SAMPLE_ARG for n, f in op.args.model_fields.items() if f.is_required()}
    try:
        return op.args.model_validate(required)
    except Exception:  # noqa: BLE001 - no sample call for arguments that are not numbers
        return None


def _probe_op(op: OpDef, entry: str, origin: Origin, target: Target) -> None:
    """The rules on a sample input they accept: a shape comes out, a parameter rule counts,
    and the target's signature takes the kwargs. Where no sample fits, first use tells."""
    args = _sample_args(op)
    if args is None:
        return
    for shape in SAMPLE_SHAPES:
        try:
            out = op.infer(shape, args)
        except Exception:  # noqa: BLE001 - the sample may not suit the op: try the next
            continue
        problem = shape_problem(out)
        if problem:
            raise _refuse(origin, entry, f"its shape rule returned {out!r} for input shape "
                                         f"{list(shape)}: {problem}")
        if op.params is not None:
            count = _call_quietly(op.params, shape, args)
            if count is not None and not is_count(count):
                raise _refuse(origin, entry, f"its parameter rule returned {count!r} for "
                                             f"input shape {list(shape)}; it counts "
                                             "parameters (an int, 0 or more)")
        _probe_call(entry, origin, target, op.lowering, (shape, args), positional=0)
        return


def _probe_merge(merge: MergeDef, entry: str, origin: Origin, target: Target) -> None:
    shapes = [SAMPLE_SHAPES[0]] * 2
    inputs = [MergeInput(s, f"x{i}", "a sample input") for i, s in enumerate(shapes, 1)]
    options = MergeOptions(weights=(1.0, 1.0))
    try:
        out = merge.infer(inputs, options)
    except Exception:  # noqa: BLE001 - the sample may not suit the merge
        return
    problem = shape_problem(out)
    if problem:
        raise _refuse(origin, entry, f"its shape rule returned {out!r} for two inputs of shape "
                                     f"{list(shapes[0])}: {problem}")
    _probe_call(entry, origin, target, merge.lowering, (shapes, options),
                positional=0 if merge.params else len(shapes))


def _probe_call(entry: str, origin: Origin, target: Target, lowering: Lowering,
                rule_args: tuple, positional: int) -> None:
    """The target's signature binds what the kwargs rule gives (and `positional` inputs)."""
    if target.signature is None:
        return
    kwargs = _call_quietly(lowering.kwargs, *rule_args)
    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise _refuse(origin, entry, f"its kwargs rule returned {kwargs!r}; it returns a dict "
                                     "of keyword arguments")
    try:
        target.signature.bind(*([None] * positional), **kwargs)
    except TypeError as exc:
        raise _refuse(origin, entry, f"{lowering.target}{target.signature} cannot be called "
                                     f"with what its kwargs rule gives for a sample input "
                                     f"({', '.join(kwargs) or 'nothing'}): {exc}") from None


def _call_quietly(rule: Callable[..., Any], *args: Any) -> Any:
    """A rule's result on a sample, or None where the sample does not suit it."""
    try:
        return rule(*args)
    except Exception:  # noqa: BLE001 - first use reports failures on real inputs
        return None
