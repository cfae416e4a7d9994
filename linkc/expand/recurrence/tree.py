"""The syntax tree of a recurrence formula (see `recurrence` for the grammar).

Plain data: `recurrence_parser` builds it from a formula's `ast`, and
`recurrence_terms` evaluates it at each step. Indices and scalars are `Expr`s of
the spec's expression language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ...errors import Loc
from ...spec.expr import Expr


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
