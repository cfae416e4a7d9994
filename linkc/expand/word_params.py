"""Word params: a param whose value is the name of an op, a merge or a connect pattern.

`merge:`, `connect:` and the names in `ops:` take a word, not an expression; naming a
param there (`merge: join` with `params: {join: add}`, `ops: [bn, act]` with
`params: {act: hardswish}`) lets one spec describe a family over merge kinds, connect
patterns or activations, set with `--set act=relu`, per block instance with
`args: {act: relu}`, or swept. Such a param keeps its text (it has no value in
expressions), and the text is read, not evaluated: a word is not an expression, so
an op is chosen by a word and never computed (`if:` guards a node per choice instead).
A block argument may pass on a word the caller holds (`args: {act: act}`).
"""

from __future__ import annotations

from typing import Any

from ..errors import Loc, SpecError
from ..ops import OPS
from ..ops.merges import MERGES
from ..spec.expr_eval import VARY_AN_OP
from .scope import Lazy, Scope

CONNECT_PATTERNS = ("chain", "dense")


def is_word(raw: Any) -> bool:
    """A param written as the name of an op, a merge or a connect pattern holds that word."""
    return isinstance(raw, str) and (raw in CONNECT_PATTERNS or MERGES.lookup(raw) is not None
                                     or OPS.lookup(raw) is not None)


def param_word(scope: Scope, name: str | None) -> str | None:
    """The word a param holds, when `name` is a param written as a plain word; a block
    argument naming a param of its caller (`args: {act: act}`) holds the caller's word."""
    seen: set[tuple[int, str]] = set()
    while name is not None and (id(scope), name) not in seen:
        seen.add((id(scope), name))
        value = scope.binding_of(name)
        if value is None:
            return None
        raw = value.raw if isinstance(value, Lazy) else value
        if not (isinstance(raw, str) and raw.isidentifier()):
            return None
        if not (isinstance(value, Lazy) and value.env.binding_of(raw) is not None):
            return raw
        scope, name = value.env, raw
    return None


def op_word(scope: Scope, name: str, loc: Loc | None) -> str | None:
    """The op that `ops: [name]` names through a word param, or None where `name` is
    not such a param (it is then an op name itself, or unknown)."""
    if scope.binding_of(name) is None:
        return None
    word = param_word(scope, name)
    if word is not None and OPS.lookup(word) is not None:
        if OPS.lookup(name) is not None:  # neither reading may win silently
            raise SpecError(f"'{name}' is both an op and a param that holds the op '{word}'",
                            loc, f"rename the param, so '{name}' means one thing")
        return word
    if OPS.lookup(name) is not None:  # the op itself; the param holds something else
        return None
    raise SpecError(f"param '{name}' holds {_described(scope, name, word)}, not the name of "
                    f"an op, so ops: [{name}] names no op", loc, VARY_AN_OP)


def _described(scope: Scope, name: str, word: str | None) -> str:
    """What the param holds instead of an op's name, and where it was given."""
    value = scope.binding_of(name)
    raw = value.raw if isinstance(value, Lazy) else value
    where = f" (line {value.loc.line})" if isinstance(value, Lazy) and value.loc else ""
    if word is not None:
        return f"the word '{word}'{where}"
    if isinstance(raw, str):
        return f"the expression '{raw}'{where}"
    if isinstance(raw, (list, tuple)):
        return f"a list{where}"
    return f"the number {raw!r}{where}"
