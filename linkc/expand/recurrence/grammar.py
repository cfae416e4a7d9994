"""Recursion formulas (seed 002): the grammar of `recurrence:`, read into a syntax tree.

    X[i] = relu(X[i-1] + W[i](X[i-1])) - W[i-1](X[i-2])

An equation is `STATE[i] = term`, parsed with Python's `ast` as an assignment and
walked over a whitelist; nothing is evaluated here. Terms:

    STATE[index]                 a state (X[i-1]); below the initial values it vanishes
    MAP[index](term)             a map of the recurrence applied to a term (W[i](X[i-1]))
    OP(term)                     an op without arguments (relu): an activation
    term + term, term - term     sums; `scalar * term`, `term * scalar`, `term / scalar`
    cat(m, ...), term ‖ term     concatenation (`|` and `||` too); mean(m, ...)
    STATE[a:b]                   inside cat/mean: the states a..b-1 (cat(X[0:i]))

Indices and scalars are expressions of the spec language (`i`, `n`, params), checked
by the same whitelist walker as every other expression (`expr.parse_expr`). A formula
typeset as in a paper (`X_{i-1}`, `X_i`, `W[i] X[i-1]`) is an error that shows it in
this spelling. This
module reads the text (spellings, brackets, the equation's left side); the tree is
in `recurrence_tree`, the walk over the right side in `recurrence_parser`.
"""

from __future__ import annotations

import ast
import re

from ...errors import Loc, SpecError, column_loc
from .parser import Parser
from .tree import (Equation, History, Join, MapCall, OpApply, Scaled, StateRef, Sum,
                              Term)

__all__ = ["Equation", "History", "Join", "MapCall", "OpApply", "Scaled", "StateRef", "Sum",
           "Term", "parse_equation", "parse_state_terms", "state_of"]

MAX_FORMULA_CHARS = 2000
_SPELLINGS = {"‖": "|", "·": "*"}  # one character each, so columns stay put
_CLOSE = {")": "(", "]": "["}


def _spell(text: str, loc: Loc | None) -> str:
    """`‖` and `·` to `|` and `*`, line breaks to spaces; any other non-ASCII character is
    an error (its UTF-8 bytes would also shift the columns `ast` reports)."""
    out = []
    for k, ch in enumerate(text):
        ch = " " if ch in "\n\r\t" else _SPELLINGS.get(ch, ch)  # one line: ast's columns
        if not ch.isascii():
            raise SpecError(f"character '{ch}' is not part of the recurrence language",
                            column_loc(loc, k), "write sums with + and -, concatenation "
                            "with cat(...), ‖ or |, products with *")
        out.append(ch)
    return "".join(out).replace("||", "| ")


def _check_brackets(text: str, loc: Loc | None) -> None:
    stack: list[tuple[str, int]] = []
    for k, ch in enumerate(text):
        if ch in "([":
            stack.append((ch, k))
        elif ch in ")]":
            if not stack or stack[-1][0] != _CLOSE[ch]:
                raise SpecError(f"unbalanced parentheses in the recurrence: '{ch}' closes "
                                "nothing", column_loc(loc, k), "remove it or open it")
            stack.pop()
    if stack:
        ch, k = stack[-1]
        raise SpecError(f"unbalanced parentheses in the recurrence: '{ch}' is never closed",
                        column_loc(loc, k), f"close it with '{')' if ch == '(' else ']'}'")


def _paper_forms(text: str, states: set[str], maps: set[str]) -> list[tuple[int, int, str, str]]:
    """(start, end, the spelling to use, what it is) of each place where `text` is written
    as a paper typesets it: `X_{i-1}`, `X_i`, `X_(i-1)`, `W[i] X[i-1]`."""
    # a state read before the full parse may be a subscripted name itself ('X_i')
    names = maps | states | {s.split("_", 1)[0] for s in states if "_" in s}
    known = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n)
    subscript = "is the paper's subscript"
    found = [(m.start(), m.end(), f"{m.group(1)}[{m.group(2).strip()}]", subscript)
             for m in re.finditer(r"\b([A-Za-z][A-Za-z0-9]*)_\{([^{}]*)\}", text)]
    if known:
        # X_i, X_0, X_(i-1); not a longer name (a param X_scale), nor a state named H_1
        # (that one is indexed: H_1[i-1])
        plain = rf"\b({known})_([A-Za-z]|[0-9]+|\([^()]*\))(?![\w{{\[])"
        found += [(m.start(), m.end(), f"{m.group(1)}[{m.group(2).strip('()')}]", subscript)
                  for m in re.finditer(plain, text)]
    map_names = "|".join(re.escape(n) for n in sorted(maps, key=len, reverse=True))
    if map_names:
        applied = rf"\b({map_names})\[([^\[\]]*)\]\s*([A-Za-z_]\w*(?:\[[^\[\]]*\])?)"
        found += [(m.start(), m.end(), f"{m.group(1)}[{m.group(2)}]({m.group(3)})",
                   "applies a map as the paper writes it, without parentheses")
                  for m in re.finditer(applied, text)]
    return sorted(found)


def _paper_spelling(text: str, loc: Loc | None, states: set[str], maps: set[str]) -> None:
    """A formula written as a paper typesets it is an error at the first such place,
    showing the spelling to use there and for the whole formula."""
    forms = _paper_forms(text, states, maps)
    if not forms:
        return
    start, end, spelling, what = forms[0]
    respelled = text
    for _ in range(8):  # subscripts first, then the maps they were arguments of
        taken, kept = -1, []
        for form in _paper_forms(respelled, states, maps):
            if form[0] >= taken:
                kept.append(form)
                taken = form[1]
        if not kept:
            break
        for s, e, new, _ in reversed(kept):
            respelled = respelled[:s] + new + respelled[e:]
    raise SpecError(f"'{text[start:end]}' {what}; in a recurrence write {spelling}",
                    column_loc(loc, start), f"the formula in linkc's spelling: {respelled.strip()}")


def parse_equation(text: str, loc: Loc | None, states: set[str], maps: set[str]) -> Equation:
    """One `STATE[i] = term` formula -> its syntax tree (raises located SpecErrors)."""
    if len(text) > MAX_FORMULA_CHARS:
        raise SpecError(f"recurrence longer than {MAX_FORMULA_CHARS} characters", loc)
    spelled = _spell(text, loc)
    _paper_spelling(spelled, loc, states, maps)
    _check_brackets(spelled, loc)
    try:
        module = ast.parse(spelled, mode="exec")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse the recurrence '{text}': {exc.msg}",
                        column_loc(loc, (exc.offset or 1) - 1)) from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError("the recurrence is nested too deeply", loc) from None
    body = module.body
    if len(body) != 1 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1:
        raise SpecError(f"a recurrence is one equation STATE[i] = ..., got '{text}'", loc,
                        "for example: X[i] = X[i-1] + W[i](X[i-1])")
    target = body[0].targets[0]
    match target:
        case ast.Subscript(value=ast.Name(id=state), slice=ast.Name(id="i")):
            pass
        case _:
            raise SpecError("the left side of a recurrence must be STATE[i], e.g. X[i]",
                            column_loc(loc, target.col_offset))
    if state in maps:
        raise SpecError(f"'{state}' names both a state and a map", column_loc(loc, 0))
    parser = Parser(spelled, loc, states, maps)
    rhs = parser.term(body[0].value)
    return Equation(state, rhs, text, loc, column_loc(loc, 0), parser.maps_used)


def state_of(text: str) -> str | None:
    """The state a formula defines ('X' for 'X[i] = ...'), read before the full parse so
    that every equation knows all states."""
    head = text.split("=", 1)[0].strip()
    name = head.split("[", 1)[0].strip()
    return name if name.isidentifier() else None


def parse_state_terms(text: str, loc: Loc | None, states: set[str]) -> list[Term | History]:
    """An `init:` or `out:` value: terms over the states (no maps), separated by commas
    (`X[0], X[1]`: plain YAML in block style, where `[X[0], X[1]]` would be a YAML list)."""
    spelled = _spell(text, loc)
    _paper_spelling(spelled, loc, states, set())
    _check_brackets(spelled, loc)
    lead = len(spelled) - len(spelled.lstrip())
    try:
        tree = ast.parse(spelled.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse '{text}': {exc.msg}",
                        column_loc(loc, lead + (exc.offset or 1) - 1)) from None
    parser = Parser(spelled.strip(), column_loc(loc, lead) if lead else loc, states, set())
    items = tree.body.elts if isinstance(tree.body, ast.Tuple) else [tree.body]
    return [parser.member(item) for item in items]
