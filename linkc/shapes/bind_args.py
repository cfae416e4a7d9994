"""Binding an op call's arguments as written -> the validated, frozen `Args` of its entry.

Positionals are matched to the fields of the entry's model in order, keywords by
name; a word a field accepts (`padding: same`) stays a word, other text in a
numeric field is an expression evaluated in the node's scope, and a list is a
tuple of numbers (`size: [7, 7]`). The model then validates the values, and its
first complaint becomes a SpecError at the value's position.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Protocol

from pydantic import ValidationError

from ..errors import Loc, SpecError, did_you_mean
from ..expand.flat_graph import RawArgs
from ..ops.args import Args
from ..spec.expr import Env, evaluate


class OpDef(Protocol):
    """What binding reads of a registry entry (`registry.OpDef`)."""

    name: str
    args: type["Args"]

    @property
    def signature(self) -> str: ...


def _is_numeric(annotation: Any) -> bool:
    """True when a field holds numbers, so a string there is an expression."""
    if annotation in (int, float, bool):
        return annotation is not bool
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_numeric(a) for a in typing.get_args(annotation))
    return False


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an argument value, for the memo key. Lists and
    mappings (a `k: []` the model will refuse) are tuples; the type names keep
    `1`, `1.0` and `True` apart, since they are equal as keys but not as arguments.
    Anything else unhashable raises TypeError, and the call is not memoised."""
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_frozen(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    hash(value)
    return (type(value).__name__, value)


def _words(annotation: Any) -> set[str]:
    """The string literals a field accepts as plain words (`padding: same`)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {a for a in typing.get_args(annotation) if isinstance(a, str)}
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return set().union(*(_words(a) for a in typing.get_args(annotation)))
    return set()


def _read_value(op: str, name: str, value: Any, annotation: Any, env: Env,
                loc: Loc | None) -> Any:
    """A word the field accepts stays a word; other text in a numeric field is an
    expression; a list (a pair such as `size: [7, 7]`) becomes a tuple of numbers."""
    if isinstance(value, list):
        return tuple(evaluate(v, env, loc) for v in value)
    words = _words(annotation)
    if isinstance(value, str) and value.strip() in words:
        return value.strip()
    if isinstance(value, str) and _is_numeric(annotation):
        try:
            return evaluate(value, env, loc)
        except SpecError as exc:
            if not (words and value.strip().isidentifier()):
                raise
            choices = " or ".join(f"'{w}'" for w in sorted(words))
            raise SpecError(f"{op} argument '{name}': '{value.strip()}' is not a param, nor "
                            f"one of its words ({choices})", exc.loc or loc,
                            f"write {choices}, a number or an expression") from None
    return value


def _too_many_positionals(op: OpDef, raw: RawArgs, loc: Loc | None) -> SpecError:
    fields = op.args.model_fields
    extra_loc = raw.positional[len(fields)][1] or loc
    if not fields:
        return SpecError(f"{op.name} takes no arguments", extra_loc, f"write it as a bare "
                         f"name: {op.name}")
    pairs = [n for n, f in fields.items() if _takes_pair(f.annotation)]
    hint = f"signature: {op.signature()}"
    if pairs:  # `{adaptive_avgpool: [7, 7]}` meant one pair, not two arguments
        hint += f"; a pair is one argument: {{{op.name}: {{{pairs[0]}: [h, w]}}}}"
    return SpecError(f"{op.name} takes at most {len(fields)} positional argument(s), "
                     f"got {len(raw.positional)}", extra_loc, hint)


def bind_args(op: OpDef, raw: RawArgs, env: Env, loc: Loc | None,
              memo: dict | None = None) -> Args:
    """Match positionals to fields, evaluate expressions, validate with the model.

    `memo` (one dict per shape-inference run) reuses the validated, frozen `Args`
    of an identical call: a repeated block validates each distinct op call once."""
    fields = op.args.model_fields
    values = _matched(op, raw, loc)
    evaluated: dict[str, Any] = {}
    for name, (value, vloc) in values.items():
        evaluated[name] = _read_value(op.name, name, value, fields[name].annotation, env,
                                      vloc or loc)
    try:
        key = (op.name, tuple((k, _frozen(v)) for k, v in evaluated.items()))
    except TypeError:
        memo = None
    if memo is not None and key in memo:
        return memo[key]
    try:
        args = op.args.model_validate(evaluated)
    except ValidationError as exc:
        raise _invalid(op, exc, values, evaluated, loc) from None
    if memo is not None:
        memo[key] = args
    return args


def _matched(op: OpDef, raw: RawArgs, loc: Loc | None) -> dict[str, tuple[Any, Loc | None]]:
    """Field name -> (value as written, its position): positionals in field order,
    then keywords, each named once."""
    fields = op.args.model_fields
    names = list(fields)
    if len(raw.positional) > len(names):
        raise _too_many_positionals(op, raw, loc)
    values = dict(zip(names, raw.positional))
    for name, item in raw.keyword.items():
        key_loc = raw.keyword_locs.get(name) or item[1] or loc
        if name not in fields:
            hint = did_you_mean(name, names) or f"signature: {op.signature()}"
            raise SpecError(f"{op.name} has no argument '{name}'", key_loc, hint)
        if name in values:
            raise SpecError(f"{op.name} argument '{name}' given twice (positionally and by name)",
                            key_loc)
        values[name] = item
    return values


def _invalid(op: OpDef, exc: ValidationError, values: dict, evaluated: dict,
             loc: Loc | None) -> SpecError:
    """The model's first complaint, at the position of the value it is about."""
    fields = op.args.model_fields
    err = exc.errors()[0]
    name = err["loc"][0] if err["loc"] else None
    where = values.get(name, (None, loc))[1] or loc
    if err["type"] == "missing":
        return SpecError(f"{op.name} needs argument '{name}'", loc, f"signature: {op.signature()}")
    got = evaluated.get(name)
    got = list(got) if isinstance(got, tuple) else got  # shown as the spec wrote it
    message = err["msg"].lower()
    if isinstance(got, list) and name in fields and _takes_pair(fields[name].annotation):
        message = "a size is one number or a pair [h, w] of positive integers"
    return SpecError(f"{op.name} argument '{name}': {message} (got {got!r})", where,
                     f"signature: {op.signature()}")


def _takes_pair(annotation: Any) -> bool:
    if typing.get_origin(annotation) is tuple:
        return True
    return any(_takes_pair(a) for a in typing.get_args(annotation))
