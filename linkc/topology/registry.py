"""What every op and merge declares, and how op arguments are read and checked.

An entry is data: a name, a pydantic model of its arguments (field order is the
positional order), a shape rule, and a `Lowering` that names the torch module or
function that implements it. The lowering is a dotted name resolved by the
compiler, so `topology/` stays free of torch while each op is still declared in
exactly one place.

Entries come from linkc itself and from plugins (`linkc.extend` is the public way
to register one); each registry remembers where every entry came from (`Origin`).
Every fact a later stage needs about an op lives in its entry, as a field or one
of the `TRAITS`, never in a stage's own list of names or classes.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import Loc, SpecError, did_you_mean
from .expr import Env, evaluate

Shape = tuple[int, ...]


class ShapeError(Exception):
    """Raised by shape rules; the caller attaches the location."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class Args(BaseModel):
    """Base of op argument models: no unknown keys, values checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Args):
    pass


@dataclass(frozen=True)
class Lowering:
    """`target` is 'module.path:Name' of an nn.Module class (or a function for
    merges); `kwargs(in_shape(s), args)` gives its constructor arguments."""

    target: str
    kwargs: Callable[..., dict[str, Any]] = lambda *_: {}


# The traits an op may declare, and what each promises to the stages that read it.
TRAITS = {
    "params": "carries learnable parameters; its `params` rule counts them (analyze, limits)",
    "norm": "a normalisation layer: not a weighted layer in path lengths (analyze.paths)",
    "elementwise": "a deterministic, stateless function of each element alone: k copies on "
                   "k tensors equal one copy on their channel concatenation, bit for bit "
                   "(the group_parallel pass stacks it)",
}


@dataclass(frozen=True)
class OpDef:
    name: str
    args: type[Args]
    infer: Callable[[Shape, Any], Shape]
    lowering: Lowering
    doc: str
    traits: frozenset[str] = frozenset()
    # (in_shape, args) -> number of learnable parameters; required with the "params"
    # trait, so the parameter budget is checked before any weight is allocated.
    params: Callable[[Shape, Any], int] | None = None

    def __post_init__(self) -> None:
        unknown_traits = sorted(set(self.traits) - set(TRAITS))
        if unknown_traits:
            raise ValueError(f"op '{self.name}': unknown trait(s) {', '.join(unknown_traits)} "
                             f"(traits: {', '.join(TRAITS)})")
        if ("params" in self.traits) != (self.params is not None):
            raise ValueError(f"op '{self.name}': the 'params' trait and a params rule go "
                             "together (one is missing)")

    def signature(self) -> str:
        fields = self.args.model_fields
        parts = [n if f.is_required() else f"{n}={f.default!r}" for n, f in fields.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name


@dataclass
class RawArgs:
    """Op arguments as written, with the location of each value."""

    positional: list[tuple[Any, Loc | None]] = field(default_factory=list)
    keyword: dict[str, tuple[Any, Loc | None]] = field(default_factory=dict)
    keyword_locs: dict[str, Loc | None] = field(default_factory=dict)


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
    names = list(fields)
    values: dict[str, tuple[Any, Loc | None]] = {}
    if len(raw.positional) > len(names):
        raise _too_many_positionals(op, raw, loc)
    for name, item in zip(names, raw.positional):
        values[name] = item
    for name, item in raw.keyword.items():
        key_loc = raw.keyword_locs.get(name) or item[1] or loc
        if name not in fields:
            hint = did_you_mean(name, names) or f"signature: {op.signature()}"
            raise SpecError(f"{op.name} has no argument '{name}'", key_loc, hint)
        if name in values:
            raise SpecError(f"{op.name} argument '{name}' given twice (positionally and by name)",
                            key_loc)
        values[name] = item
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
        if memo is not None:
            memo[key] = args
        return args
    except ValidationError as exc:
        err = exc.errors()[0]
        name = err["loc"][0] if err["loc"] else None
        where = values.get(name, (None, loc))[1] or loc
        if err["type"] == "missing":
            raise SpecError(f"{op.name} needs argument '{name}'", loc,
                            f"signature: {op.signature()}") from None
        got = evaluated.get(name)
        got = list(got) if isinstance(got, tuple) else got  # shown as the spec wrote it
        message = err["msg"].lower()
        if isinstance(got, list) and name in fields and _takes_pair(fields[name].annotation):
            message = "a size is one number or a pair [h, w] of positive integers"
        raise SpecError(f"{op.name} argument '{name}': {message} (got {got!r})",
                        where, f"signature: {op.signature()}") from None


def _takes_pair(annotation: Any) -> bool:
    if typing.get_origin(annotation) is tuple:
        return True
    return any(_takes_pair(a) for a in typing.get_args(annotation))


def _spelling(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "_- ")


def misspelling_of(name: str, candidates) -> str | None:
    """The candidate `name` misspells: equal ignoring case, `_` and `-` (`ReLU`,
    `max_pool`), or with two adjacent letters swapped (`rleu`). Anything else,
    such as a letter more or less (`relu6`, `elu`), is not a misspelling."""
    key = _spelling(str(name))
    for candidate in sorted(candidates):
        known = _spelling(candidate)
        if known == key:
            return candidate
        diff = [i for i, (a, b) in enumerate(zip(key, known)) if a != b]
        if len(known) == len(key) and len(diff) == 2 and diff[1] == diff[0] + 1 and \
                key[diff[0]] == known[diff[1]] and key[diff[1]] == known[diff[0]]:
            return candidate
    return None


@dataclass(frozen=True)
class Origin:
    """Where an entry comes from: linkc itself or an installed plugin."""

    name: str  # "built-in", or the plugin's distribution name
    # top-level packages its lowering targets may live in (lower.resolve_target)
    packages: tuple[str, ...]


BUILTIN = Origin("built-in", ("torch", "linkc"))


class Registry(dict):
    """A name -> definition table that refuses duplicate names and aliases and
    remembers each entry's origin."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.aliases: dict[str, str] = {}
        self.origins: dict[str, Origin] = {}

    def add(self, definition, aliases: tuple[str, ...] = (), origin: Origin = BUILTIN):
        for name in (definition.name, *aliases):
            taken = self.aliases.get(name, name)
            if taken in self:
                raise ValueError(f"{self.kind} '{name}' is already registered (by "
                                 f"{self.origins[taken].name}); {origin.name} registers it again")
        self[definition.name] = definition
        self.origins[definition.name] = origin
        for alias in aliases:
            self.aliases[alias] = definition.name
        return definition

    def remove(self, name: str) -> None:
        """Drop an entry and its aliases (for tests that register temporary entries)."""
        del self[name], self.origins[name]
        for alias in self.aliases_of(name):
            del self.aliases[alias]

    def unknown(self, name: str, loc: Loc | None) -> SpecError:
        """The error for a spec naming an entry that does not exist. A suggestion is
        made only for a misspelling of an existing name (see `misspelling_of`):
        names one letter apart (relu/gelu/relu6) are usually different ops, and a
        suggestion would invite a silent change of meaning."""
        from .. import plugins

        source = ("plugins are turned off (--no-plugins or LINKC_NO_PLUGINS)"
                  if plugins.disabled() else "no installed plugin provides it")
        return SpecError(f"unknown {self.kind} '{name}': not built in, and {source}", loc,
                         self.hint_for(name))

    def hint_for(self, name: str, also: Iterable[str] = ()) -> str:
        """The hint for a name that is no entry (nor one of `also`, other names valid
        in the same place): the one it misspells, or where entries come from."""
        close = misspelling_of(name, [*also, *self.names()])
        if close:
            return f"did you mean '{close}'?"
        return ("`linkc ops` lists every op and merge; to add one, install a plugin "
                "that registers it (README: Plugins)")

    def origin(self, name: str) -> Origin:
        return self.origins[self.aliases.get(name, name)]

    def aliases_of(self, name: str) -> list[str]:
        return [a for a, target in self.aliases.items() if target == name]

    def lookup(self, name: str):
        return self.get(self.aliases.get(name, name))

    def names(self) -> list[str]:
        return [*self, *self.aliases]
