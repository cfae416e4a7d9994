"""Recursion formulas (seed 002): the grammar of `recurrence:` and its syntax tree.

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
by the same whitelist walker as every other expression (`expr.parse_expr`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Union

from .errors import Loc, SpecError, unknown
from .expr import Expr, _column_loc, parse_expr
from .ops import OPS

MAX_FORMULA_CHARS = 2000
JOINS = {"cat": "concat", "mean": "mean"}
# Names the expression language calls as functions; they make a scalar, not a term.
SCALAR_FUNCTIONS = {"min", "max", "floor", "ceil", "round", "int", "abs", "channels", "size"}
_SPELLINGS = {"‖": "|", "·": "*"}  # one character each, so columns stay put
_CLOSE = {")": "(", "]": "["}


@dataclass
class StateRef:
    name: str
    index: Expr
    loc: Loc | None


@dataclass
class History:
    """`X[a:b]` inside cat/mean: the states a..b-1."""

    name: str
    lo: Expr
    hi: Expr
    loc: Loc | None


@dataclass
class MapCall:
    name: str
    index: Expr
    arg: "Term"
    loc: Loc | None


@dataclass
class OpApply:
    op: str
    arg: "Term"
    loc: Loc | None


@dataclass
class Scaled:
    """`coef * term`: factors multiply (power 1) or divide (power -1)."""

    factors: list[tuple[Expr, int]]
    term: "Term"
    loc: Loc | None


@dataclass
class Sum:
    terms: list[tuple[int, "Term"]]  # (sign, term)
    loc: Loc | None


@dataclass
class Join:
    merge: str  # "concat" | "mean"
    members: list[Union["Term", History]]
    loc: Loc | None


Term = Union[StateRef, MapCall, OpApply, Scaled, Sum, Join]


@dataclass
class Equation:
    state: str
    rhs: Term
    text: str
    loc: Loc | None  # the formula's position in the YAML
    lhs_loc: Loc | None = None
    maps_used: set[str] = field(default_factory=set)


def _spell(text: str, loc: Loc | None) -> str:
    """`‖` and `·` to `|` and `*`, line breaks to spaces; any other non-ASCII character is
    an error (its UTF-8 bytes would also shift the columns `ast` reports)."""
    out = []
    for k, ch in enumerate(text):
        ch = " " if ch in "\n\r\t" else _SPELLINGS.get(ch, ch)  # one line: ast's columns
        if not ch.isascii():
            raise SpecError(f"character '{ch}' is not part of the recurrence language",
                            _column_loc(loc, k), "write sums with + and -, concatenation "
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
                                "nothing", _column_loc(loc, k), "remove it or open it")
            stack.pop()
    if stack:
        ch, k = stack[-1]
        raise SpecError(f"unbalanced parentheses in the recurrence: '{ch}' is never closed",
                        _column_loc(loc, k), f"close it with '{')' if ch == '(' else ']'}'")


class _Parser:
    def __init__(self, text: str, loc: Loc | None, states: set[str], maps: set[str]):
        self.text = text
        self.loc = loc
        self.states = states
        self.maps = maps
        self.maps_used: set[str] = set()

    def at(self, node: ast.AST) -> Loc | None:
        return _column_loc(self.loc, getattr(node, "col_offset", 0))

    def expr(self, node: ast.AST) -> Expr:
        segment = self.text[node.col_offset:node.end_col_offset]
        return parse_expr(segment, self.at(node))

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, self.at(node), hint)

    def is_scalar(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Subscript):
                return False
            if isinstance(sub, ast.Call) and not (isinstance(sub.func, ast.Name)
                                                   and sub.func.id in SCALAR_FUNCTIONS):
                return False
            if isinstance(sub, ast.Name) and sub.id in self.states | self.maps:
                return False
        return True

    def term(self, node: ast.AST) -> Term:
        match node:
            case ast.BinOp(op=ast.Add() | ast.Sub()):
                return Sum(self.sum_items(node, 1), self.at(node))
            case ast.UnaryOp(op=ast.USub(), operand=x):
                return Sum([(-1, self.term(x))], self.at(node))
            case ast.UnaryOp(op=ast.UAdd(), operand=x):
                return self.term(x)
            case ast.BinOp(op=ast.Mult(), left=l, right=r):
                if self.is_scalar(l) == self.is_scalar(r):
                    raise self.fail(node, "a product in a recurrence needs exactly one scalar "
                                    "side (2 * X[i-1]); two terms do not multiply",
                                    "apply a map instead: W[i](X[i-1])")
                coef, t = (l, r) if self.is_scalar(l) else (r, l)
                return Scaled([(self.expr(coef), 1)], self.term(t), self.at(node))
            case ast.BinOp(op=ast.Div(), left=l, right=r):
                if not self.is_scalar(r) or self.is_scalar(l):
                    raise self.fail(node, "a division in a recurrence must be a term divided "
                                    "by a scalar (X[i-1] / 2)")
                return Scaled([(self.expr(r), -1)], self.term(l), self.at(node))
            case ast.BinOp(op=ast.BitOr()):
                return Join("concat", self.bitor_items(node), self.at(node))
            case ast.Subscript(value=ast.Name(id=name), slice=index):
                return self.state(node, name, index)
            case ast.Call(func=ast.Subscript(value=ast.Name(id=name), slice=index), args=args,
                          keywords=[]):
                return self.map_call(node, name, index, args)
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
                return self.call(node, name, args)
            case ast.Name(id=name) if name in self.states:
                raise self.fail(node, f"state '{name}' needs an index: {name}[i-1]")
            case ast.Constant() | ast.Name():
                raise self.fail(node, f"'{self._segment(node)}' is a number, not a term of the "
                                "recurrence", "terms are states X[i-k], maps W[j](...), their "
                                "sums, scalar multiples, cat(...) and mean(...)")
        raise self.fail(node, f"'{self._segment(node)}' is not allowed in a recurrence",
                        "terms are states X[i-k], maps W[j](...), their sums, scalar "
                        "multiples, cat(...) and mean(...)")

    def _segment(self, node: ast.AST) -> str:
        return self.text[node.col_offset:node.end_col_offset]

    def sum_items(self, node: ast.AST, sign: int) -> list[tuple[int, Term]]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            right = -sign if isinstance(node.op, ast.Sub) else sign
            return self.sum_items(node.left, sign) + self.sum_items(node.right, right)
        return [(sign, self.term(node))]

    def bitor_items(self, node: ast.AST) -> list[Term | History]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.bitor_items(node.left) + self.bitor_items(node.right)
        return [self.member(node)]

    def member(self, node: ast.AST) -> Term | History:
        match node:
            case ast.Subscript(value=ast.Name(id=name), slice=ast.Slice(lower=lo, upper=hi,
                                                                         step=None)):
                self.known_state(node, name)
                if lo is None or hi is None:
                    raise self.fail(node, f"a history range needs both ends: {name}[0:i]")
                return History(name, self.expr(lo), self.expr(hi), self.at(node))
        return self.term(node)

    def known_state(self, node: ast.AST, name: str) -> None:
        if name not in self.states:
            raise unknown("state", name, self.states, self.at(node))

    def state(self, node: ast.Subscript, name: str, index: ast.AST) -> StateRef:
        if name in self.maps:
            raise self.fail(node, f"map '{name}' must be applied to a term: {name}[...](X[i-1])")
        self.known_state(node, name)
        if isinstance(index, ast.Slice):
            raise self.fail(node, f"a history range {name}[a:b] can only be a member of "
                            "cat(...) or mean(...)")
        return StateRef(name, self.expr(index), self.at(node))

    def map_call(self, node: ast.Call, name: str, index: ast.AST, args: list) -> MapCall:
        if name not in self.maps:
            raise unknown("map", name, self.maps, self.at(node))
        if len(args) != 1 or isinstance(args[0], ast.Starred):
            raise self.fail(node, f"map '{name}' takes one term, got {len(args)}")
        if isinstance(index, ast.Slice):
            raise self.fail(node, f"a map index is one number: {name}[i]")
        self.maps_used.add(name)
        return MapCall(name, self.expr(index), self.term(args[0]), self.at(node))

    def call(self, node: ast.Call, name: str, args: list) -> Term:
        if any(isinstance(a, ast.Starred) for a in args):
            raise self.fail(node, "argument unpacking is not allowed in a recurrence")
        if name in JOINS:
            if not args:
                raise self.fail(node, f"{name}() needs at least one term")
            return Join(JOINS[name], [self.member(a) for a in args], self.at(node))
        if name in self.maps:
            raise self.fail(node, f"map '{name}' needs an index: {name}[i](...)")
        if name in SCALAR_FUNCTIONS:
            raise self.fail(node, f"{name}(...) is a number, not a term of the recurrence")
        if OPS.lookup(name) is None:
            raise unknown("map or op", name, [*self.maps, *OPS.names()], self.at(node))
        if len(args) != 1:
            raise self.fail(node, f"op '{name}' in a recurrence takes one term, got {len(args)}",
                            "ops with arguments belong in a map: maps: {W: {ops: [...]}}")
        return OpApply(name, self.term(args[0]), self.at(node))


def parse_equation(text: str, loc: Loc | None, states: set[str], maps: set[str]) -> Equation:
    """One `STATE[i] = term` formula -> its syntax tree (raises located SpecErrors)."""
    if len(text) > MAX_FORMULA_CHARS:
        raise SpecError(f"recurrence longer than {MAX_FORMULA_CHARS} characters", loc)
    spelled = _spell(text, loc)
    _check_brackets(spelled, loc)
    try:
        module = ast.parse(spelled, mode="exec")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse the recurrence '{text}': {exc.msg}",
                        _column_loc(loc, (exc.offset or 1) - 1)) from None
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
                            _column_loc(loc, target.col_offset))
    if state in maps:
        raise SpecError(f"'{state}' names both a state and a map", _column_loc(loc, 0))
    parser = _Parser(spelled, loc, states, maps)
    rhs = parser.term(body[0].value)
    return Equation(state, rhs, text, loc, _column_loc(loc, 0), parser.maps_used)


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
    _check_brackets(spelled, loc)
    lead = len(spelled) - len(spelled.lstrip())
    try:
        tree = ast.parse(spelled.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse '{text}': {exc.msg}",
                        _column_loc(loc, lead + (exc.offset or 1) - 1)) from None
    parser = _Parser(spelled.strip(), _column_loc(loc, lead) if lead else loc, states, set())
    items = tree.body.elts if isinstance(tree.body, ast.Tuple) else [tree.body]
    return [parser.member(item) for item in items]
