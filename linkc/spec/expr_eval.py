"""What each construct of the expression language computes: its operators, its
functions and the interpreter that walks a checked `Expr` (see `expr`).

Values are numbers and lists of them (tuples); results are bounded by
`MAX_MAGNITUDE`, so a huge power or product fails at once with a located error.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ..errors import Loc, SpecError, column_loc
from ..ops import OPS

MAX_MAGNITUDE = 10**15  # far beyond any channel count or size a network uses

# How to vary an op, for every place where an op name meets an expression.
VARY_AN_OP = ("an op is chosen by a word, never computed: name it in a word param "
              "(params: {act: hardswish}, then ops: [act]; per block instance "
              "args: {act: relu}), or write a node per choice, each with its if:")

Number = int | float


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


def _positive(fn: Callable[..., float], name: str) -> Callable[..., float]:
    """A logarithm: of a positive number (and, for `log`, to a positive base other than 1)."""
    def call(x, *base):
        for v in (x, *base):
            if isinstance(v, tuple):
                raise TypeError(f"takes numbers, not {_kind(v)}")
            if v <= 0:
                raise ValueError(f"takes positive numbers, got {v!r}")
        if base and base[0] == 1:
            raise ValueError("a logarithm to base 1 is undefined")
        return fn(x, *base)
    call.__name__ = name
    return call


def _exp(x):
    if isinstance(x, tuple):
        raise TypeError(f"exp() takes a number, not {_kind(x)}")
    if x > math.log(MAX_MAGNITUDE):
        raise ValueError(f"the result is over {MAX_MAGNITUDE:.0e}")
    return math.exp(x)


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, tuple) else f"the number {value!r}"


# Functions over numbers (and lists: len, sum, min/max of one list).
NUMERIC: dict[str, Callable[..., Number]] = {
    "min": _sized(min),
    "max": _sized(max),
    "len": _len,
    "sum": _sum,
    "floor": lambda x: int(math.floor(x)),
    "ceil": lambda x: int(math.ceil(x)),
    "round": lambda x, nd=None: round(x) if nd is None else round(x, int(nd)),
    "int": int,
    "abs": abs,
    "log": _positive(math.log, "log"),  # log(x) natural, log(x, base)
    "log2": _positive(math.log2, "log2"),
    "exp": _exp,
}
# Functions over node references (their argument is a node name, not a value).
SHAPE: dict[str, Callable[[Env, str, Loc | None], int]] = {"channels": _channels, "size": _size}

BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def ref_text(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{ref_text(node.value)}.{node.attr}"
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return str(node.value)
    raise ValueError


def _source(text: str, node: ast.AST) -> str:
    return ast.unparse(node)


class Interpreter:
    def __init__(self, env: Env, expr: Expr):
        self.env = env
        self.expr = expr

    def run(self) -> Number:
        return self.value_of(self.expr.tree.body)

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, column_loc(self.expr.loc, getattr(node, "col_offset", 0)), hint)

    def bounded(self, node: ast.AST, value: Any) -> Any:
        """`value`, if it is a finite real number within MAX_MAGNITUDE (or a list)."""
        if isinstance(value, complex):  # (-4)**0.5: a negative number to a fractional power
            raise self.fail(node, f"'{_source(self.expr.text, node)}' is a complex number, "
                                  f"not a real one ('{self.expr.text}')",
                            "a negative number has no real fractional power; take abs() first "
                            "or use a whole exponent")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
                raise self.fail(node, f"'{self.expr.text}' gives a number too large ({value:.3g})")
        return value

    def name(self, node: ast.Name, name: str) -> Any:
        """The value a name holds; where none does and it names an op, the error says how
        an op is varied instead."""
        try:
            return self.env.lookup(name, column_loc(self.expr.loc, node.col_offset))
        except SpecError:
            if OPS.lookup(name) is None or name in self.env.names():
                raise
        raise self.fail(node, f"'{name}' is an op, and an expression computes a number, not "
                              f"an op ('{self.expr.text}')", VARY_AN_OP)

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

    def binary(self, node: ast.BinOp, op: ast.operator, a: Number, b: Number) -> Number:
        if isinstance(op, ast.Pow) and abs(a) > 1 and abs(b) > 64:
            raise self.fail(node, f"'{self.expr.text}': power too large")
        try:
            return self.bounded(node, BINARY[type(op)](a, b))
        except ZeroDivisionError:
            raise self.fail(node, f"division by zero in '{self.expr.text}'") from None
        except (OverflowError, TypeError, ValueError) as exc:
            raise self.fail(node, f"cannot compute '{self.expr.text}': {exc}") from None

    def boolean(self, conjunction: bool, values: list[ast.AST]) -> Any:
        """`a and b ...` (conjunction) or `a or b ...` as Python has them: the first
        value that settles the result, else the last one."""
        result = conjunction
        for v in values:
            result = self.value_of(v)
            if bool(result) != conjunction:
                return result
        return result

    def compare(self, left_node: ast.AST, ops: list[ast.cmpop], rest: list[ast.AST]) -> bool:
        """A chain `a < b <= c`: every link holds, each operand evaluated at most once."""
        left = self.number(left_node)
        for op, c in zip(ops, rest):
            right = self.number(c)
            if not COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def value_of(self, node: ast.AST) -> Any:
        match node:
            case ast.Constant(value=v):
                if isinstance(v, float) and not math.isfinite(v):  # 1e400 reads as inf
                    raise self.fail(node, f"'{self.expr.text}' holds a number beyond floating "
                                          "point (it reads as infinity)")
                return v  # a large finite literal is left to the rule that reads it
            case ast.Name(id=name):
                value = self.name(node, name)
                if isinstance(value, str):  # a word param: see expand/word_params.py
                    raise self.fail(node, f"'{name}' holds the word '{value}', not a number",
                                    "a word param names an op, a merge or a connect pattern "
                                    "(ops: [NAME], merge: NAME, connect: NAME); it has no "
                                    "value in expressions")
                return value
            case ast.BinOp(op=op, left=l, right=r):
                return self.binary(node, op, self.number(l), self.number(r))
            case ast.UnaryOp(op=op, operand=x):
                return UNARY[type(op)](self.number(x))
            case ast.BoolOp(op=op, values=vs):
                return self.boolean(isinstance(op, ast.And), vs)
            case ast.Compare(left=l, ops=ops, comparators=cs):
                return self.compare(l, ops, cs)
            case ast.IfExp(test=t, body=b, orelse=o):
                return self.value_of(b) if self.number(t) else self.value_of(o)
            case ast.Subscript(value=v, slice=index):
                return self.item(node, self.value_of(v), self.number(index))
            case ast.Call(func=ast.Name(id=fn), args=[arg]) if fn in SHAPE:
                loc = column_loc(self.expr.loc, arg.col_offset)
                return SHAPE[fn](self.env, ref_text(arg), loc)
            case ast.Call(func=ast.Name(id=fn), args=args):
                values = [self.value_of(a) for a in args]
                try:
                    return self.bounded(node, NUMERIC[fn](*values))
                except (TypeError, ValueError, OverflowError) as exc:
                    raise self.fail(node, f"{fn}() in '{self.expr.text}': {exc}") from None
        raise self.fail(node, f"cannot evaluate '{self.expr.text}'")  # unreachable after expr's check


class Env(Protocol):
    """What an expression can see: names, and shapes of nodes."""

    def lookup(self, name: str, loc: Loc | None) -> Number: ...

    def names(self) -> list[str]: ...

    def shape_of(self, ref: str, loc: Loc | None) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class Expr:
    """A parsed, whitelisted expression; evaluate it against an `Env`."""

    text: str
    tree: ast.expression
    loc: Loc | None

    def evaluate(self, env: Env) -> Number:
        return Interpreter(env, self).run()

    def node_refs(self) -> list[str]:
        """Node names this expression reads shapes of (`channels(x)`, `size(x)`)."""
        return [ref_text(n.args[0]) for n in ast.walk(self.tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in SHAPE and n.args]
