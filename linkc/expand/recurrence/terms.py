"""A recurrence evaluated at each step: resolved terms with integer indices.

`X[i] = X[i-1] + W[i](X[i-1]) - W[i-1](X[i-2])` at i = 3 resolves to
`X[2] + W[3](X[2]) - W[2](X[1])`. Resolved terms are hashable values: two equal
terms are one computation, which is how `W[2](X[1])` of step 3 is found to be the
branch step 2 already computed (seed 002, Sec. 5.2). The rules of Sec. 5:

- a state below its first initial value vanishes, and so does everything built only
  from it (a map of it, a multiple of it); sums, cat and mean drop vanished members.
  The network is built from the original recursion, not from the formula with the
  initial values substituted (Eq. 21): X_1 = (1 + W_1) X_0 keeps its shortcut.
- a map whose `if:` is false at index j is the identity there.
- one block instance per map index: W[j] applied to two different arguments is an
  error (its weights would be used twice).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any, Callable, Union

from ...errors import Loc, SpecError
from ...spec.expr import Expr
from .tree import History, Join, MapCall, OpApply, Scaled, StateRef, Sum, Term


def _hash_once(cls):
    """Resolved terms are dict keys over and over (a history range holds i states):
    compute each one's hash once, on first use, and keep it."""
    names = [f.name for f in fields(cls)]

    def __hash__(self) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((cls.__name__, *(getattr(self, n) for n in names)))
            object.__setattr__(self, "_hash", cached)
        return cached

    cls.__hash__ = __hash__
    return cls


@_hash_once
@dataclass(frozen=True)
class RState:
    name: str
    index: int

    def __str__(self) -> str:
        return f"{self.name}[{self.index}]"


@_hash_once
@dataclass(frozen=True)
class RMap:
    name: str
    index: int
    arg: "Resolved"

    def __str__(self) -> str:
        return f"{self.name}[{self.index}]({self.arg})"


@_hash_once
@dataclass(frozen=True)
class ROp:
    op: str
    arg: "Resolved"

    def __str__(self) -> str:
        return f"{self.op}({self.arg})"


@_hash_once
@dataclass(frozen=True)
class RSum:
    terms: tuple[tuple[Fraction, "Resolved"], ...]

    def __str__(self) -> str:
        out = ""
        for k, (coef, term) in enumerate(self.terms):
            sign = "-" if coef < 0 else "+"
            mag = abs(coef)
            text = (str(term) if mag == 1 else f"{_num(mag)}*{_wrapped(term)}")
            out += (("-" if sign == "-" else "") + text) if k == 0 else f" {sign} {text}"
        return out


@_hash_once
@dataclass(frozen=True)
class RJoin:
    merge: str  # concat | mean
    members: tuple["Resolved", ...]

    def __str__(self) -> str:
        name = "cat" if self.merge == "concat" else "mean"
        return f"{name}({', '.join(map(str, self.members))})"


Resolved = Union[RState, RMap, ROp, RSum, RJoin]


def _num(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):g}"


def _wrapped(term: Resolved) -> str:
    return f"({term})" if isinstance(term, RSum) else str(term)


def to_fraction(value: Any, loc: Loc | None) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"a coefficient must be a number, got {value!r}", loc)
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def int_index(expr: Expr, env, what: str) -> int:
    value = expr.evaluate(env)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{what} '{expr.text}' must be an integer, got {value!r}", expr.loc)
    return value


class Resolver:
    """Evaluates syntax trees at a step. `defined(name, k)` says whether state k of
    `name` exists when the current formula runs; `lowest[name]` is its first index;
    `map_active(name, j, loc)` says whether map j is more than the identity."""

    def __init__(self, env_at: Callable[[int], Any], lowest: dict[str, int], last: int,
                 defined: Callable[[str, int], bool],
                 map_active: Callable[[str, int, Loc | None], bool]):
        self.env_at = env_at
        self.lowest = lowest
        self.last = last
        self.defined = defined
        self.map_active = map_active
        self.applied: dict[tuple[str, int], tuple[Resolved, Loc | None]] = {}
        self.locs: dict[Resolved, Loc | None] = {}
        self.i = 0
        self.reader = ""  # the formula being resolved, for messages
        self.interned: dict[tuple[str, int], RState] = {}  # one object (one hash) per state

    def resolve(self, term: Term, i: int, reader: str) -> Resolved | None:
        self.i, self.reader = i, reader
        return self.term(term, self.env_at(i))

    def term(self, t: Term, env) -> Resolved | None:
        out = self._term(t, env)
        if out is not None:
            self.locs.setdefault(out, t.loc)
        return out

    def _term(self, t: Term, env) -> Resolved | None:
        if isinstance(t, StateRef):
            return self.state(t, int_index(t.index, env, f"the index of {t.name}"))
        if isinstance(t, MapCall):
            return self.map_call(t, env)
        if isinstance(t, OpApply):
            arg = self.term(t.arg, env)
            return None if arg is None else ROp(t.op, arg)
        if isinstance(t, Scaled):
            coef = Fraction(1)
            for expr, power in t.factors:
                factor = to_fraction(expr.evaluate(env), expr.loc)
                if power < 0 and factor == 0:
                    raise SpecError(f"division by zero: '{expr.text}' is 0", expr.loc)
                coef = coef * factor if power > 0 else coef / factor
            inner = self.term(t.term, env)
            return None if inner is None or coef == 0 else _sum([(coef, inner)])
        if isinstance(t, Sum):
            items = [(Fraction(sign), r) for sign, sub in t.terms
                     if (r := self.term(sub, env)) is not None]
            return _sum(items)
        return self.join(t, env)

    def state(self, t: StateRef, k: int) -> RState | None:
        if k < self.lowest[t.name]:
            return None  # below the initial values: the term vanishes
        if k > self.last:
            raise SpecError(f"{t.name}[{k}] is out of range: {t.name} runs from "
                            f"{t.name}[{self.lowest[t.name]}] to {t.name}[{self.last}]", t.loc,
                            "indices are expressions in i and n; the last step is n")
        if not self.defined(t.name, k):
            what = ("the state this formula computes" if f"{t.name}[{k}]" == self.reader
                    else "which is not computed yet when this formula runs")
            raise SpecError(f"{t.name}[{t.index.text}] on the right side is {t.name}[{k}] at "
                            f"i = {self.i}, {what}", t.loc,
                            "a recurrence is a function of earlier states: X[i-1], X[i-2], ...")
        return self.state_term(t.name, k)

    def state_term(self, name: str, k: int) -> RState:
        term = self.interned.get((name, k))
        if term is None:
            term = self.interned[(name, k)] = RState(name, k)
        return term

    def map_call(self, t: MapCall, env) -> Resolved | None:
        arg = self.term(t.arg, env)
        if arg is None:
            return None  # W applied to a vanished term vanishes with it
        j = int_index(t.index, env, f"the index of map {t.name}")
        if not self.map_active(t.name, j, t.loc):
            return arg
        seen = self.applied.setdefault((t.name, j), (arg, t.loc))
        if seen[0] != arg:
            where = f" (line {seen[1].line}, column {seen[1].col})" if seen[1] else ""
            raise SpecError(f"map {t.name}[{j}] is applied to two different arguments: "
                            f"{seen[0]}{where} and {arg} here", t.loc,
                            "one index is one block instance with its own weights; use another "
                            "index or another map name for the second term")
        return RMap(t.name, j, arg)

    def join(self, t: Join, env) -> Resolved | None:
        members: list[Resolved] = []
        for m in t.members:
            if isinstance(m, History):
                members.extend(self.history(m, env))
            elif (r := self.term(m, env)) is not None:
                members.append(r)
        if not members:
            return None
        return members[0] if len(members) == 1 else RJoin(t.merge, tuple(members))

    def history(self, h: History, env) -> list[RState]:
        lo = int_index(h.lo, env, f"the start of {h.name}[a:b]")
        hi = int_index(h.hi, env, f"the end of {h.name}[a:b]")
        first = self.lowest[h.name]
        if lo < first or hi <= lo:
            raise SpecError(f"{h.name}[{lo}:{hi}] is out of range: a history range runs from "
                            f"{h.name}[{first}] or later and holds at least one state", h.loc)
        if hi - 1 > self.last:
            raise SpecError(f"{h.name}[{lo}:{hi}] is out of range: {h.name} runs up to "
                            f"{h.name}[{self.last}]", h.loc)
        if not self.defined(h.name, hi - 1):
            raise SpecError(f"{h.name}[{h.lo.text}:{h.hi.text}] on the right side reaches "
                            f"{h.name}[{hi - 1}] at i = {self.i}, which is not computed yet when "
                            "this formula runs", h.loc, "a history range ends before the state "
                            "being computed: X[0:i]")
        return [self.state_term(h.name, k) for k in range(lo, hi)]


def _sum(items: list[tuple[Fraction, Resolved]]) -> Resolved | None:
    """Flatten nested sums into one (a linear combination), drop zero coefficients."""
    flat: list[tuple[Fraction, Resolved]] = []
    for coef, term in items:
        if isinstance(term, RSum):
            flat.extend((coef * c, t) for c, t in term.terms)
        else:
            flat.append((coef, term))
    flat = [(c, t) for c, t in flat if c != 0]
    if not flat:
        return None
    if len(flat) == 1 and flat[0][0] == 1:
        return flat[0][1]
    return RSum(tuple(flat))
