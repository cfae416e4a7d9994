"""Names and number rules the importer's grouping and writing share: identifiers
for nodes and blocks, and the rule (constant, `a + b * i`) a repeat's numbers follow."""

from __future__ import annotations

import re
from typing import Any

from .write import format_value

RESERVED = {"i", "n", "input", "prev"}


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return ident(s)


def ident(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_") or "n"
    return s if s[0].isalpha() else f"n{s}"


def unique(base: str, taken: set[str]) -> str:
    name = base if base not in RESERVED else f"{base}_"
    k = 2
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def instance_number(part: str) -> str | None:
    """The instance a module name stands for, or None. `3` (an index of a Sequential,
    a ModuleList or a linkc repeat) and `3_1` (a further node of step 3 of a linkc
    recurrence, `body.X.3_1` beside `body.X.3`) are both instance 3. A name that starts
    with a digit is never an attribute, so only containers make such names."""
    m = re.fullmatch(r"(\d+)(?:_\w*)?", part)
    return m.group(1) if m else None


def numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def progression(values: list) -> str | int | float | None:
    """A constant, `a + b * i`, or None when the values follow no such rule."""
    if len(set(values)) == 1:
        return values[0]
    if len(set(values[1:])) == 1:  # the first instance differs (a stage's strided block)
        return f"{format_value(values[0])} if i == 0 else {format_value(values[1])}"
    if not all(isinstance(v, int) for v in values):
        return None
    step = values[1] - values[0]
    if any(b - a != step for a, b in zip(values, values[1:])):
        return None
    a = values[0]
    body = "i" if step == 1 else f"{step} * i"
    return body if a == 0 else f"{a} + {body}" if step > 0 else f"{a} - {-step} * i"
