"""What every op and merge declares, and the table that holds them.

An entry is data: a name, a pydantic model of its arguments (field order is the
positional order), a shape rule, and a `Lowering` that names the torch module or
function that implements it. The lowering is a dotted name resolved by the
compiler, so `ops/` stays free of torch while each op is still declared in
exactly one place.

Entries come from linkc itself and from plugins (`linkc.extend` is the public way
to register one); each registry remembers where every entry came from (`Origin`).
Every fact a later stage needs about an op lives in its entry, as a field or one
of the `TRAITS`, never in a stage's own list of names or classes. How a call's
arguments are read and checked against an entry's model is `shapes/bind_args.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


from ..errors import Loc, SpecError
from .args import Args, NoArgs

__all__ = ["Args", "BUILTIN", "Inverse", "Lowering", "NoArgs", "OpDef", "Origin", "Registry",
           "Shape", "ShapeError", "TRAITS", "misspelling_of"]

Shape = tuple[int, ...]


class ShapeError(Exception):
    """Raised by shape rules; the caller attaches the location."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Lowering:
    """`target` is 'module.path:Name' of an nn.Module class (or a function for
    merges); `kwargs(in_shape(s), args)` gives its constructor arguments."""

    target: str
    kwargs: Callable[..., dict[str, Any]] = lambda *_: {}


@dataclass(frozen=True)
class Inverse:
    """A torch layer, function or tensor method that computes an op (or a merge), and how
    its settings map onto the op's arguments: what `linkc import` reads, and all it reads.

    `target` is 'package.module:Name' (a class or a function; only looked up when its
    package is importable), 'torch:Tensor.name' (a tensor method), or a bare class
    name such as 'DropPath' (a class of that name from any module: the importer checks
    that it computes the op before it says so). A class matches its subclasses that fix
    constructor arguments. `args` maps each op argument to the attribute of the layer
    (or the parameter of the call) it is read from, `fixed` the attributes or
    parameters that must have a value (a set: any of its values), `sets` the op
    arguments this spelling implies. `form` says how a merge's spelling takes its
    inputs: `call` (every tensor argument, in order), `sum` (a + b), `difference`
    (a - b), `product` (a * b), `quotient` (a / b), `first` (its first argument alone)."""

    target: str
    args: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    sets: Mapping[str, Any] = field(default_factory=dict)
    form: str = "call"

    FORMS = ("call", "sum", "difference", "product", "quotient", "first")

    def __post_init__(self) -> None:
        if self.form not in self.FORMS:
            raise ValueError(f"inverse of '{self.target}': unknown form '{self.form}' "
                             f"(forms: {', '.join(self.FORMS)})")


# The traits an op may declare, and what each promises to the stages that read it.
TRAITS = {
    "params": "carries learnable parameters; its `params` rule counts them (analyze, limits)",
    "norm": "a normalisation layer: not a weighted layer in path lengths (analyze.paths)",
    "affine": "a per-channel scale of its input (layer scale): not a weighted layer in path "
              "lengths (analyze.paths)",
    "elementwise": "a deterministic, stateless function of each element alone: k copies on "
                   "k tensors equal one copy on their channel concatenation, bit for bit "
                   "(the group_parallel pass stacks it)",
    "fresh": "its module returns a tensor in storage of its own on every call (never its "
             "input, a view of it, or a tensor it keeps), so a later op may overwrite the "
             "result when nothing else reads it (the inplace_merge pass)",
    "batch": "in training its output depends on the other samples of the batch (batch "
             "statistics): the value check of passes gives it at least 8 values per channel, "
             "as two would make a float64 comparison meet rounding amplified without bound",
    "random": "draws random numbers in training (dropout, drop_path): a rewrite may draw them "
              "in another order or layout, so value checks of passes run it as in eval",
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
    # (in_shape, args) -> whether the op returns its input unchanged with these arguments
    # (`identity`; a 1x1 pool of stride 1): the drop_identity pass removes such calls
    returns_input: Callable[[Shape, Any], bool] | None = None
    # the torch layers and functions this op is the inverse of (`linkc import`)
    imports: tuple[Inverse, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted({a for inv in self.imports for a in (*inv.args, *inv.sets)}
                         - set(self.args.model_fields))
        if unknown:
            raise ValueError(f"op '{self.name}': its imports name no argument "
                             f"{', '.join(unknown)}")
        unknown_traits = sorted(set(self.traits) - set(TRAITS))
        if unknown_traits:
            raise ValueError(f"op '{self.name}': unknown trait(s) {', '.join(unknown_traits)} "
                             f"(traits: {', '.join(TRAITS)})")
        if "params" in self.traits and self.params is None:
            raise ValueError(f"op '{self.name}': the 'params' trait needs a params rule that "
                             "counts them")
        # (a rule without the trait is allowed: linkc.extend gives a plugin's op declared
        # without one a rule that counts its module, so no count is a silent zero)

    def signature(self) -> str:
        fields = self.args.model_fields
        parts = [n if f.is_required() else f"{n}={f.default!r}" for n, f in fields.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name


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
    remembers each entry's origin. Reading it resolves aliases (`"avg" in MERGES`,
    `MERGES["avg"]`, `MERGES.get("avg")` are `mean`'s); iterating it gives each entry
    once, under its own name."""

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, self.aliases.get(name, name))

    def __getitem__(self, name: str):
        return dict.__getitem__(self, self.aliases.get(name, name))

    def get(self, name: str, default=None):
        return dict.get(self, self.aliases.get(name, name), default)

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
        source = ("plugins are turned off (--no-plugins or LINKC_NO_PLUGINS)"
                  if plugins_disabled() else "no installed plugin provides it")
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
        """The entry a name or alias names, else None (the same as `get`)."""
        return self.get(name)

    def names(self) -> list[str]:
        return [*self, *self.aliases]


PLUGINS_OFF_ENV = "LINKC_NO_PLUGINS"


def plugins_disabled() -> bool:
    """Plugin loading is off (`--no-plugins` sets this variable for the process and the
    processes it starts)."""
    return os.environ.get(PLUGINS_OFF_ENV, "").strip().lower() not in ("", "0", "false", "no")


OPS = Registry("op")
