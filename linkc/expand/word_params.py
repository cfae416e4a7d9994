"""Word params: a param whose value is the name of a merge or a connect pattern.

`merge:` and `connect:` take a word, not an expression; naming a param there
(`merge: join` with `params: {join: add}`) lets one spec describe a family over
merge kinds or connect patterns, set with `--set join=mean` or swept. Such a
param keeps its text (it has no value in expressions), and the text is read, not
evaluated: a word is not an expression.
"""

from __future__ import annotations

from typing import Any

from ..ops.merges import MERGES
from .scope import Lazy, Scope

CONNECT_PATTERNS = ("chain", "dense")


def is_word(raw: Any) -> bool:
    """A param written as the name of a merge or connect pattern holds that word."""
    return isinstance(raw, str) and (raw in CONNECT_PATTERNS or MERGES.lookup(raw) is not None)


def param_word(scope: Scope, name: str | None) -> str | None:
    """The word a param holds, when `name` is a param written as a plain word."""
    if name is None:
        return None
    value = scope.binding_of(name)
    raw = value.raw if isinstance(value, Lazy) else value
    return raw if isinstance(raw, str) and raw.isidentifier() else None
