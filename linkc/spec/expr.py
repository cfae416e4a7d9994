"""The safe expression language of specs: a whitelist walker over Python's `ast`.

`4*k`, `floor(theta*channels(d1))`, `16 * 2**i`, `a if i == 0 else b`,
`stages[s][1]`, `len(stages)`, `round(log(w / w0) / log(wm))`. Values are numbers
and lists of them (list params, stored as tuples); a list can be indexed with an
integer, measured with `len`, `min`, `max` and `sum`, and passed on whole, never
computed with. Nothing is ever
passed to `eval`: the text is parsed with `ast.parse(mode="eval")`, every node
is checked against a short whitelist (here), and a small interpreter computes the
value (`expr_eval`, with the operators and functions). Powers and intermediate
results are bounded so `10**10**10` fails at once, and every value is a finite real
number: `(-4)**0.5`, `1e400` or a param of `.nan` is a located error.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from ..errors import Loc, SpecError, column_loc, unknown
from .expr_eval import (BINARY, COMPARE, MAX_MAGNITUDE, NUMERIC, SHAPE, UNARY, Env, Expr,
                        Number, ref_text)

__all__ = ["Env", "Expr", "MAX_EXPR_CHARS", "MAX_MAGNITUDE", "MappingEnv", "Number", "evaluate",
           "parse_expr"]

MAX_EXPR_CHARS = 500


# `channels(d1.3.h)`: a dotted path with a number in it is not Python (`d1.3` reads as
# `d1` and `.3`), so the argument of channels()/size() is quoted before parsing.
_PATH_ARG = re.compile(r"\b(channels|size)\(\s*([A-Za-z_]\w*(?:\.\w+)+)\s*\)")


def _quote_paths(text: str) -> str:
    return _PATH_ARG.sub(lambda m: f"{m.group(1)}('{m.group(2)}')", text)


def parse_expr(text: str, loc: Loc | None = None) -> Expr:
    """Parse and whitelist-check `text`; raises SpecError pointing into it."""
    if len(text) > MAX_EXPR_CHARS:
        raise SpecError(f"expression longer than {MAX_EXPR_CHARS} characters", loc)
    try:
        tree = ast.parse(_quote_paths(text.strip()), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse expression '{text}': {exc.msg}",
                        column_loc(loc, (exc.offset or 1) - 1)) from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"expression '{text}' is nested too deeply", loc) from None
    _check(tree.body, text, loc)
    return Expr(text, tree, loc)


HINT = ("expressions use numbers, params, i, n, + - * / // % **, comparisons, 'a if c else b', "
        "min max floor ceil round int abs len sum log log2 exp, channels(x), size(x), "
        "and list[index]")


def _check(node: ast.AST, text: str, loc: Loc | None) -> None:
    """Reject anything outside the whitelist, naming the construct."""
    def bad(what: str) -> SpecError:
        return SpecError(f"{what} is not allowed in expressions ('{text}')",
                         column_loc(loc, getattr(node, "col_offset", 0)),
                         HINT)

    match node:
        case ast.Constant(value=v):
            if not isinstance(v, (int, float)):  # bool is an int
                raise bad(f"the constant {v!r}")
        case ast.Name():
            pass
        case ast.BinOp(op=op, left=l, right=r):
            if type(op) not in BINARY:
                raise bad(f"the operator '{type(op).__name__}'")
            _check(l, text, loc), _check(r, text, loc)
        case ast.UnaryOp(op=op, operand=x):
            if type(op) not in UNARY:
                raise bad(f"the operator '{type(op).__name__}'")
            _check(x, text, loc)
        case ast.BoolOp(values=vs):
            for v in vs:
                _check(v, text, loc)
        case ast.Compare(left=l, ops=ops, comparators=cs):
            if any(type(o) not in COMPARE for o in ops):
                raise bad("that comparison")
            for v in [l, *cs]:
                _check(v, text, loc)
        case ast.IfExp(test=t, body=b, orelse=o):
            for v in (t, b, o):
                _check(v, text, loc)
        case ast.Call():
            _check_call(node, text, loc, bad)
        case ast.Attribute():
            raise bad("attribute access")
        case ast.Subscript(value=v, slice=ast.Slice()):
            raise bad("a slice of a list")
        case ast.Subscript(value=ast.Name() | ast.Subscript() as v, slice=index):
            _check(v, text, loc), _check(index, text, loc)
        case ast.Subscript():
            raise bad("subscripting")
        case ast.Lambda():
            raise bad("lambda")
        case ast.ListComp() | ast.SetComp() | ast.DictComp() | ast.GeneratorExp():
            raise bad("a comprehension")
        case _:
            raise bad(f"'{type(node).__name__}'")


def _check_call(node: ast.Call, text: str, loc: Loc | None, bad) -> None:
    """A call of a function over numbers (its arguments checked in turn), or of
    channels()/size() on a node reference; nothing else may be called."""
    match node:
        case ast.Call(func=ast.Name(id=fn), args=args, keywords=[]) if fn in NUMERIC:
            if any(isinstance(a, ast.Starred) for a in args):
                raise bad("argument unpacking")
            for a in args:
                _check(a, text, loc)
        case ast.Call(func=ast.Name(id=fn), args=[arg], keywords=[]) if fn in SHAPE:
            try:
                ref_text(arg)
            except ValueError:
                raise bad(f"the argument of {fn}()") from None
        case ast.Call(func=ast.Name(id=fn)):
            raise bad(f"calling '{fn}'")
        case _:
            raise bad("this call")


class MappingEnv:
    """An `Env` over a plain dict of names (no node shapes); used for params."""

    def __init__(self, values: dict[str, Number]):
        self.values = values

    def lookup(self, name: str, loc: Loc | None) -> Number:
        if name not in self.values:
            raise unknown("name", name, self.values, loc)
        return self.values[name]

    def names(self) -> list[str]:
        return list(self.values)

    def shape_of(self, ref: str, loc: Loc | None) -> tuple[int, ...]:
        raise SpecError(f"channels()/size() of '{ref}' cannot be used here: no shapes are known yet",
                        loc, "repeat counts and params must not depend on shapes")


def evaluate(value: Any, env: Env, loc: Loc | None = None) -> Any:
    """Numbers pass through; strings are parsed and evaluated as expressions; a list
    (a list param or argument) becomes a tuple of its evaluated items."""
    if isinstance(value, str):
        return parse_expr(value, loc).evaluate(env)
    if isinstance(value, (list, tuple)):
        locs = getattr(value, "item_locs", None)
        return tuple(evaluate(v, env, locs[j] if locs else loc) for j, v in enumerate(value))
    if not isinstance(value, (int, float)):
        raise SpecError(f"a value is a number, an expression or a list of them, got "
                        f"{'a mapping' if isinstance(value, dict) else repr(value)}", loc)
    if isinstance(value, float) and not math.isfinite(value):  # YAML's .inf and .nan
        raise SpecError(f"a value is a finite number, got {value}", loc)
    return value
