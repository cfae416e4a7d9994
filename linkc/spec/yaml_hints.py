"""What to do about a YAML syntax error, for the mistakes specs are written with.

PyYAML's messages say what the parser expected ("expected ',' or ']', but got '['"),
not what the writer meant. The mistakes behind them in specs are few: a channel slice
left unquoted inside `[...]` or `{...}`, a key indented unlike the keys beside it, a
tab, a `{` or `[` never closed, a value holding ': '. Each row below recognises one
from the parser's problem and the line it points at, and gives the README's advice.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

__all__ = ["syntax_hint"]

_NAME_BEFORE = re.compile(r"[A-Za-z_][\w.\-]*$")
_BRACKETS = re.compile(r"\[[^\[\]{},]*\]")
_CLOSERS = {"[": "]", "{": "}"}


def _line(text: str, mark) -> str:
    lines = text.splitlines()
    return lines[mark.line] if 0 <= mark.line < len(lines) else ""


def _unquoted_slice(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    """`from: [a, b[0:4]]`: in flow syntax `[` opens a list, so the slice must be quoted."""
    if not (exc.problem or "").endswith("but got '['"):
        return None
    line, col = _line(text, exc.problem_mark), exc.problem_mark.column
    name, brackets = _NAME_BEFORE.search(line[:col]), _BRACKETS.match(line, col)
    if name is None or brackets is None:
        return None
    return (f'in flow syntax ([...] or {{...}}) a channel slice must be quoted: write '
            f'"{name.group()}{brackets.group()}"')


def _unclosed(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    """A `{` or `[` whose closing bracket is missing or of the other kind."""
    problem, opened = exc.problem or "", exc.context_mark
    if not problem.startswith("expected ',' or") or opened is None:
        return None
    opener = _line(text, opened)[opened.column:opened.column + 1]
    if opener not in _CLOSERS:
        return None
    where = f"the '{opener}' at line {opened.line + 1}, column {opened.column + 1}"
    found = problem.rsplit("but got ", 1)[-1].strip("'")
    if found in _CLOSERS.values():
        return f"{where} is closed by '{found}': close it with '{_CLOSERS[opener]}'"
    return f"{where} is never closed: add its '{_CLOSERS[opener]}'"


def _tab(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    if "'\\t'" not in (exc.problem or ""):
        return None
    return "YAML indents with spaces only: replace the tab with spaces"


def _colon_in_value(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    if exc.problem != "mapping values are not allowed here":
        return None
    return ("a key indented deeper than the keys beside it, or a ': ' inside a plain value, "
            "starts a mapping where none can be: indent the keys of one mapping to the same "
            "column, and quote a value that holds ': '")


def _indentation(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    problem = exc.problem or ""
    if not (problem.startswith("expected <block end>") or "expected key" in problem
            or "could not find expected ':'" in problem):
        return None
    return ("YAML nests by indentation: the keys of one mapping start in the same column, "
            "and a key's value goes on its line or indented below it")


_RULES: tuple[Callable[[yaml.MarkedYAMLError, str], str | None], ...] = (
    _unquoted_slice, _unclosed, _tab, _colon_in_value, _indentation)


def syntax_hint(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    """The advice for the YAML syntax error `exc` in `text`, or None."""
    if exc.problem_mark is None:
        return None
    for rule in _RULES:
        hint = rule(exc, text)
        if hint is not None:
            return hint
    return None
