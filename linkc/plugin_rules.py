"""A plugin entry's rules, guarded at first use (what `linkc.extend` registers).

`linkc.extend` registers a plugin's op or merge with its rules wrapped: every result of
its shape rule must be a tuple of positive ints (any exception but ShapeError is the
plugin's), and the first time each input shape and arguments are seen, the module the
entry lowers to is built on the meta device (`linkc.compiler.plugin_check`) and its
parameters counted; the plugin's parameter rule must give that count, and an op that has
none is given the module's. Shape inference calls these rules for every use, so the
checks run at `linkc check` of a spec that uses the entry, and only then is torch
imported: a spec without plugin entries never reaches them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from .ops.merges import MergeDef, MergeInput, MergeOptions
from .ops import plugins
from .ops.plugin_targets import shape_problem
from .ops.plugins import PluginError
from .ops.registry import Args, OpDef, Origin, Shape, ShapeError


def _fault(origin: Origin, entry: str) -> Callable[[str], PluginError]:
    return lambda problem: plugins.blame(origin, entry, problem)


def _checked_shape(rule: Callable[..., Shape], fault: Callable[[str], PluginError],
                   where: Callable[..., str]) -> Callable[..., Shape]:
    """`rule` whose every result is a shape, and whose every exception but ShapeError
    (the spec's fault, located by shape inference) is the plugin's."""
    def checked(*rule_args):
        try:
            out = rule(*rule_args)
        except ShapeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the plugin's rule
            raise fault(f"its shape rule failed {where(*rule_args)}: {type(exc).__name__}: "
                        f"{exc}") from exc
        problem = shape_problem(out)
        if problem:
            raise fault(f"its shape rule returned {out!r} {where(*rule_args)}: {problem}")
        return out
    return checked


def _memo_key(*rule_args: Any):
    try:
        hash(rule_args)
    except TypeError:
        return None
    return rule_args


def guarded_op(op: OpDef, entry: str, origin: Origin) -> OpDef:
    """`op` with its rules checked on every use: shapes validated, parameter counts held
    to (or taken from) the lowered module, once per input shape and arguments."""
    fault = _fault(origin, entry)
    counted: dict[Any, int] = {}

    def params(shape: Shape, args: Args) -> int:
        key = _memo_key(shape, args)
        if key is not None and key in counted:
            return counted[key]
        from .compiler.plugin_check import module_params  # torch: only once a spec uses it

        built = module_params(op.lowering, (shape, args), fault)
        if op.params is not None:
            try:
                ruled = op.params(shape, args)
            except Exception as exc:  # noqa: BLE001 - the plugin's rule
                raise fault(f"its parameter rule failed for input shape {list(shape)}: "
                            f"{type(exc).__name__}: {exc}") from exc
            if not is_count(ruled) or ruled != built:
                raise fault(f"its parameter rule counts {_count_text(ruled)} for input shape "
                            f"{list(shape)} and {args!r}, but its module "
                            f"{op.lowering.target} has {built:,} (the compiled model "
                            "has what the module has: fix the rule)")
        if key is not None:
            counted[key] = built
        return built

    def where(shape: Shape, args: Args) -> str:
        return f"for input shape {list(shape)} and {args!r}"

    return replace(op, infer=_checked_shape(op.infer, fault, where), params=params)


def guarded_merge(merge: MergeDef, entry: str, origin: Origin) -> MergeDef:
    """`merge` with its shape rule checked, its targets resolved at first use, and a
    learnable merge's parameter rule held to its module."""
    fault = _fault(origin, entry)
    lowerings = [lw for lw in (merge.lowering, merge.pad_lowering, merge.inplace_lowering,
                               merge.pad_inplace_lowering) if lw is not None]
    resolved = merge.params  # a learnable merge's module is resolved by count_params

    def where(inputs: list[MergeInput], options: MergeOptions) -> str:
        return "for inputs " + ", ".join(str(list(x.shape)) for x in inputs)

    shape_rule = _checked_shape(merge.infer, fault, where)

    def infer(inputs: list[MergeInput], options: MergeOptions) -> Shape:
        nonlocal resolved
        if not resolved:
            from .compiler import plugin_check  # torch: only once a spec uses it

            for lowering in lowerings:
                plugin_check.function(lowering, fault)
            resolved = True
        return shape_rule(inputs, options)

    counted: dict[Any, int] = {}

    def count_params(shapes: list[Shape]) -> int:
        key = _memo_key(*shapes)
        if key is not None and key in counted:
            return counted[key]
        from .compiler.plugin_check import module_params

        options = MergeOptions(weights=(1.0,) * len(shapes))
        built = module_params(merge.lowering, (list(shapes), options), fault)
        try:
            ruled = merge.count_params(shapes)
        except Exception as exc:  # noqa: BLE001 - the plugin's rule
            raise fault(f"its count_params rule failed for inputs {shapes}: "
                        f"{type(exc).__name__}: {exc}") from exc
        if not is_count(ruled) or ruled != built:
            raise fault(f"its count_params rule counts {_count_text(ruled)} for inputs "
                        f"{', '.join(str(list(s)) for s in shapes)}, but its module "
                        f"{merge.lowering.target} has {built:,} (fix the rule)")
        if key is not None:
            counted[key] = built
        return built

    return replace(merge, infer=infer,
                   count_params=count_params if merge.count_params is not None else None)


def _count_text(value: Any) -> str:
    return f"{value:,}" if is_count(value) else repr(value)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
