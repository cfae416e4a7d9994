"""A recurrence formula's `ast` -> its syntax tree, over a whitelist of forms.

`Parser.term` matches each `ast` node against the forms of the grammar (see
`recurrence`) and builds the `recurrence_tree` node, or raises a SpecError at
the node's column naming what is allowed instead. Index and scalar
subexpressions are parsed by the expression language (`expr.parse_expr`).
"""

from __future__ import annotations

import ast

from ...errors import Loc, SpecError, column_loc, unknown
from ...spec.expr import Expr, parse_expr
from ...ops import OPS
from .tree import History, Join, MapCall, OpApply, Scaled, StateRef, Sum, Term

JOINS = {"cat": "concat", "mean": "mean"}
# Names the expression language calls as functions; they make a scalar, not a term.
SCALAR_FUNCTIONS = {"min", "max", "floor", "ceil", "round", "int", "abs", "channels", "size"}
_TERMS = ("terms are states X[i-k], maps W[j](...), their sums, scalar multiples, cat(...) "
          "and mean(...)")


class Parser:
    def __init__(self, text: str, loc: Loc | None, states: set[str], maps: set[str]):
        self.text = text
        self.loc = loc
        self.states = states
        self.maps = maps
        self.maps_used: set[str] = set()

    def at(self, node: ast.AST) -> Loc | None:
        return column_loc(self.loc, getattr(node, "col_offset", 0))

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
                                "recurrence", _TERMS)
        raise self.fail(node, f"'{self._segment(node)}' is not allowed in a recurrence", _TERMS)

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
            raise SpecError(f"unknown map or op '{name}'", self.at(node),
                            OPS.hint_for(name, also=self.maps))
        if len(args) != 1:
            raise self.fail(node, f"op '{name}' in a recurrence takes one term, got {len(args)}",
                            "ops with arguments belong in a map: maps: {W: {ops: [...]}}")
        return OpApply(name, self.term(args[0]), self.at(node))
