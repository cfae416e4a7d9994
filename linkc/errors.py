"""Errors that point into the spec: file, line, column, the line itself and a caret.

Every problem linkc finds in a spec is a `SpecError`. It carries a `Loc` from the
YAML loader all the way to lowering, so a shape mismatch found while inferring
shapes is still reported at the `from:` that caused it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Source:
    """The text of one spec file, kept so errors can quote the offending line."""

    name: str
    text: str

    def __repr__(self) -> str:
        # Never the text: every Loc holds its Source, and a traceback printer (pytest,
        # IPython, a debugger) that shows arguments would repeat the whole file once per
        # position in a graph -- gigabytes for a zoo spec.
        return f"Source({self.name!r}, {len(self.text)} chars)"

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1] if 1 <= lineno <= len(lines) else ""


_EXCERPT_WIDTH = 100


@dataclass(frozen=True)
class Loc:
    """A 1-based line and column in a source file."""

    source: Source
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    def __repr__(self) -> str:
        return f"Loc({self})"

    def excerpt(self) -> str:
        text = self.source.line(self.line).rstrip("\n")
        if not text:
            return ""
        col = self.col
        if len(text) > _EXCERPT_WIDTH:  # e.g. '[[[[...' on one line: show a window
            start = max(0, min(col - 1 - _EXCERPT_WIDTH // 2, len(text) - _EXCERPT_WIDTH))
            text = ("..." if start else "") + text[start:start + _EXCERPT_WIDTH] + (
                "..." if start + _EXCERPT_WIDTH < len(text) else "")
            col = col - start + (3 if start else 0)
        gutter = f"{self.line:>5} | "
        caret = " " * (len(gutter) - 2) + "| " + " " * max(col - 1, 0) + "^"
        return f"{gutter}{text}\n{caret}"


def column_loc(loc: Loc | None, offset: int) -> Loc | None:
    """A position `offset` characters into the scalar that starts at `loc` (an
    expression or formula), past its opening quote when it is quoted."""
    if loc is None:
        return None
    line = loc.source.line(loc.line)
    quoted = 0 < loc.col <= len(line) and line[loc.col - 1] in "\"'"
    return Loc(loc.source, loc.line, loc.col + offset + (1 if quoted else 0))


class UserError(Exception):
    """The base of every error that is the user's to fix (a spec, a data set, a
    checkpoint, a plugin, the command line): the CLI prints its message and exits 2.
    Anything else is a bug in linkc (exit 1)."""


class UsageError(UserError):
    """A command line that cannot be run as given."""


class SpecError(UserError):
    """A problem in a spec, reported with its position and what to do about it."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.loc}: error: {self.message}" if self.loc else f"error: {self.message}"
        parts = [head]
        if self.loc is not None:
            excerpt = self.loc.excerpt()
            if excerpt:
                parts.append(excerpt)
        if self.hint:
            parts.append(f"  {self.hint}")
        return "\n".join(parts)

    def to_json(self) -> dict:
        return {
            "error": self.message,
            "file": self.loc.source.name if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "column": self.loc.col if self.loc else None,
            "hint": self.hint,
        }


@dataclass
class SpecWarning:
    """A non-fatal finding (e.g. a node whose value never reaches the output)."""

    message: str
    loc: Loc | None = None

    def __str__(self) -> str:
        return f"{self.loc}: warning: {self.message}" if self.loc else f"warning: {self.message}"


@dataclass
class Diagnostics:
    warnings: list[SpecWarning] = field(default_factory=list)

    def warn(self, message: str, loc: Loc | None = None) -> None:
        self.warnings.append(SpecWarning(message, loc))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """'did you mean ...?' for the closest candidate, or None when nothing is close."""
    close = difflib.get_close_matches(str(name), sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def unknown(kind: str, name: str, candidates: Iterable[str], loc: Loc | None) -> SpecError:
    """The standard 'unknown X' error, with a suggestion or the list of what exists."""
    candidates = sorted(set(candidates))
    hint = did_you_mean(name, candidates)
    if hint is None and candidates:
        shown = ", ".join(candidates[:12]) + (", ..." if len(candidates) > 12 else "")
        hint = f"known {kind}s: {shown}"
    return SpecError(f"unknown {kind} '{name}'", loc, hint)


def limit_hint(name: str, owner: str) -> str:
    """How to raise one of the safety limits (see `linkc.limits`), for hints."""
    return (f"if you really mean it, raise the limit: linkc check --limit {name}=N "
            f"(in Python: build(spec, limits=Limits().with_({name}=N)), field {owner}.{name})")
