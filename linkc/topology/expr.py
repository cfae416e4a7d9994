"""The safe expression language of specs: a whitelist walker over Python's `ast`.

`4*k`, `floor(theta*channels(d1))`, `16 * 2**i`, `a if i == 0 else b`,
`stages[s][1]`, `len(stages)`. Values are numbers and lists of them (list params,
stored as tuples); a list can be indexed with an integer, measured with `len`,
`min`, `max` and `sum`, and passed on whole, never computed with. Nothing is ever
passed to `eval`: the text is parsed with `ast.parse(mode="eval")`, every node
is checked against a short whitelist, and a small interpreter computes the value.
Powers and intermediate results are bounded so `10**10**10` fails at once.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .errors import Loc, SpecError, column_loc, unknown

MAX_EXPR_CHARS = 500
MAX_MAGNITUDE = 10**15  # far beyond any channel count or size a network uses

Number = int | float


class Env(Protocol):
    """What an expression can see: names, and shapes of nodes."""

    def lookup(self, name: str, loc: Loc | None) -> Number: ...

    def names(self) -> list[str]: ...

    def shape_of(self, ref: str, loc: Loc | None) -> tuple[int, ...]: ...


def _channels(env: Env, ref: str, loc: Loc | None) -> int:
    return env.shape_of(ref, loc)[0]


def _size(env: Env, ref: str, loc: Loc | None) -> int:
    shape = env.shape_of(ref, loc)
    if len(shape) < 2:
        raise SpecError(f"size({ref}): '{ref}' has no spatial size (shape {list(shape)})", loc)
    return shape[-1]


def _sized(fn: Callable[..., Number]) -> Callable[..., Number]:
    """min/max over numbers, or over the numbers of one list."""
    def call(*values):
        if len(values) == 1 and isinstance(values[0], tuple):
            values = values[0]
        _numbers(values, fn.__name__)
        return fn(values)
    return call


def _numbers(values, what: str) -> None:
    for v in values:
        if isinstance(v, tuple):
            raise TypeError(f"{what}() takes numbers or one list of numbers, not nested lists")


def _len(value):
    if not isinstance(value, tuple):
        raise TypeError(f"len() takes a list, not {_kind(value)}")
    return len(value)


def _sum(value):
    if not isinstance(value, tuple):
        raise TypeError(f"sum() takes a list, not {_kind(value)}")
    _numbers(value, "sum")
    return sum(value)


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, tuple) else f"the number {value!r}"


# Functions over numbers (and lists: len, sum, min/max of one list).
_NUMERIC: dict[str, Callable[..., Number]] = {
    "min": _sized(min),
    "max": _sized(max),
    "len": _len,
    "sum": _sum,
    "floor": lambda x: int(math.floor(x)),
    "ceil": lambda x: int(math.ceil(x)),
    "round": lambda x, nd=None: round(x) if nd is None else round(x, int(nd)),
    "int": int,
    "abs": abs,
}
# Functions over node references (their argument is a node name, not a value).
_SHAPE: dict[str, Callable[[Env, str, Loc | None], int]] = {"channels": _channels, "size": _size}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


@dataclass(frozen=True)
class Expr:
    """A parsed, whitelisted expression; evaluate it against an `Env`."""

    text: str
    tree: ast.expression
    loc: Loc | None

    def evaluate(self, env: Env) -> Number:
        return _Interpreter(env, self).run()

    def node_refs(self) -> list[str]:
        """Node names this expression reads shapes of (`channels(x)`, `size(x)`)."""
        return [_ref_text(n.args[0]) for n in ast.walk(self.tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in _SHAPE and n.args]


def _ref_text(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_ref_text(node.value)}.{node.attr}"
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return str(node.value)
    raise ValueError


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
        "min max floor ceil round int abs len sum, channels(x), size(x), and list[index]")


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
            if type(op) not in _BINARY:
                raise bad(f"the operator '{type(op).__name__}'")
            _check(l, text, loc), _check(r, text, loc)
        case ast.UnaryOp(op=op, operand=x):
            if type(op) not in _UNARY:
                raise bad(f"the operator '{type(op).__name__}'")
            _check(x, text, loc)
        case ast.BoolOp(values=vs):
            for v in vs:
                _check(v, text, loc)
        case ast.Compare(left=l, ops=ops, comparators=cs):
            if any(type(o) not in _COMPARE for o in ops):
                raise bad("that comparison")
            for v in [l, *cs]:
                _check(v, text, loc)
        case ast.IfExp(test=t, body=b, orelse=o):
            for v in (t, b, o):
                _check(v, text, loc)
        case ast.Call(func=ast.Name(id=fn), args=args, keywords=[]) if fn in _NUMERIC:
            if any(isinstance(a, ast.Starred) for a in args):
                raise bad("argument unpacking")
            for a in args:
                _check(a, text, loc)
        case ast.Call(func=ast.Name(id=fn), args=[arg], keywords=[]) if fn in _SHAPE:
            try:
                _ref_text(arg)
            except ValueError:
                raise bad(f"the argument of {fn}()") from None
        case ast.Call(func=ast.Name(id=fn)):
            raise bad(f"calling '{fn}'")
        case ast.Call():
            raise bad("this call")
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


def _source(text: str, node: ast.AST) -> str:
    return ast.unparse(node)


class _Interpreter:
    def __init__(self, env: Env, expr: Expr):
        self.env = env
        self.expr = expr

    def run(self) -> Number:
        return self.value_of(self.expr.tree.body)

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, column_loc(self.expr.loc, getattr(node, "col_offset", 0)), hint)

    def bounded(self, node: ast.AST, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
                raise self.fail(node, f"'{self.expr.text}' gives a number too large ({value:.3g})")
        return value

    def number(self, node: ast.AST) -> Number:
        """The value of `node`, which must be a number (lists are never computed with)."""
        value = self.value_of(node)
        if isinstance(value, tuple):
            what = _source(self.expr.text, node)
            raise self.fail(node, f"'{what}' is a list, but a number is needed here "
                                  f"('{self.expr.text}')",
                            f"index it ({what}[0]) or measure it (len, min, max, sum)")
        return value

    def item(self, node: ast.Subscript, value: Any, index: Number) -> Any:
        what = _source(self.expr.text, node.value)
        if not isinstance(value, tuple):
            raise self.fail(node, f"'{what}' is {_kind(value)}, not a list: it cannot be indexed "
                                  f"('{self.expr.text}')")
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise self.fail(node.slice, f"a list index must be an integer, got {index!r} "
                                        f"('{self.expr.text}')")
        if not -len(value) <= index < len(value):
            raise self.fail(node.slice, f"index {index} is out of range: '{what}' has "
                                        f"{len(value)} items ('{self.expr.text}')",
                            f"indices run from 0 to {len(value) - 1} (or -{len(value)} to -1)")
        return value[index]

    def value_of(self, node: ast.AST) -> Any:
        match node:
            case ast.Constant(value=v):
                return v
            case ast.Name(id=name):
                value = self.env.lookup(name, column_loc(self.expr.loc, node.col_offset))
                if isinstance(value, str):  # a word param: see scope.param_word
                    raise self.fail(node, f"'{name}' holds the word '{value}', not a number",
                                    "a word param names a merge or connect pattern "
                                    "(merge: NAME, connect: NAME); it has no value in expressions")
                return value
            case ast.BinOp(op=op, left=l, right=r):
                a, b = self.number(l), self.number(r)
                if isinstance(op, ast.Pow) and abs(a) > 1 and abs(b) > 64:
                    raise self.fail(node, f"'{self.expr.text}': power too large")
                try:
                    return self.bounded(node, _BINARY[type(op)](a, b))
                except ZeroDivisionError:
                    raise self.fail(node, f"division by zero in '{self.expr.text}'") from None
                except (OverflowError, TypeError, ValueError) as exc:
                    raise self.fail(node, f"cannot compute '{self.expr.text}': {exc}") from None
            case ast.UnaryOp(op=op, operand=x):
                return _UNARY[type(op)](self.number(x))
            case ast.BoolOp(op=ast.And(), values=vs):
                result = True
                for v in vs:
                    result = self.value_of(v)
                    if not result:
                        return result
                return result
            case ast.BoolOp(values=vs):
                result = False
                for v in vs:
                    result = self.value_of(v)
                    if result:
                        return result
                return result
            case ast.Compare(left=l, ops=ops, comparators=cs):
                left = self.number(l)
                for op, c in zip(ops, cs):
                    right = self.number(c)
                    if not _COMPARE[type(op)](left, right):
                        return False
                    left = right
                return True
            case ast.IfExp(test=t, body=b, orelse=o):
                return self.value_of(b) if self.number(t) else self.value_of(o)
            case ast.Subscript(value=v, slice=index):
                return self.item(node, self.value_of(v), self.number(index))
            case ast.Call(func=ast.Name(id=fn), args=[arg]) if fn in _SHAPE:
                loc = column_loc(self.expr.loc, arg.col_offset)
                return _SHAPE[fn](self.env, _ref_text(arg), loc)
            case ast.Call(func=ast.Name(id=fn), args=args):
                values = [self.value_of(a) for a in args]
                try:
                    return self.bounded(node, _NUMERIC[fn](*values))
                except (TypeError, ValueError, OverflowError) as exc:
                    raise self.fail(node, f"{fn}() in '{self.expr.text}': {exc}") from None
        raise self.fail(node, f"cannot evaluate '{self.expr.text}'")  # unreachable after _check


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
    return value
