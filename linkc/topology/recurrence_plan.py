"""What a recurrence node declares, read and checked before anything is built.

`plan_recurrence` reads `recurrence:` (one formula per state), `steps:`, `init:`
(which state terms the references of `from:` are) and `maps:`, and works out
where each state's values start (`lowest`) and the first step (`first`: one past
the last initial value of any state). `recurrence_expand` builds the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import Loc, SpecError, limit_hint
from .expr import evaluate
from .load import locate
from .recurrence import Equation, StateRef, parse_equation, parse_state_terms, state_of
from .recurrence_terms import int_index
from .refs import Ref
from .schema import NodeSpec
from .scope import Scope

if TYPE_CHECKING:
    from .expand import Expander

_KEYS = ("recurrence", "steps", "init", "maps", "out")
_NOT_HERE = ("ops", "merge", "block", "args", "repeat", "connect")


@dataclass(frozen=True)
class Initial:
    """An initial value: state term `term` (X[0]) is index `index` of its state, and is
    the value of reference `ref` of the node's `from:`."""

    term: StateRef
    index: int
    ref: Ref


@dataclass
class RecurrencePlan:
    equations: list[Equation]
    last: int  # `steps:`, the last index i runs to
    inits: list[Initial]
    lowest: dict[str, int]  # state -> its first index (its first initial value)
    first: int  # the first step: one past the last initial value of any state


def uses_recurrence(node: NodeSpec) -> bool:
    return node.recurrence is not None or node.steps is not None or node.init is not None \
        or bool(node.maps) or node.out is not None


def plan_recurrence(ex: Expander, scope: Scope, name: str, node: NodeSpec,
                    path: tuple) -> RecurrencePlan:
    """The checked plan of recurrence node `name` (at `path` in the spec)."""
    return _Reader(ex, scope, name, node, path).plan()


class _Reader:
    def __init__(self, ex: Expander, scope: Scope, name: str, node: NodeSpec, path: tuple):
        self.ex, self.scope, self.name, self.node, self.path = ex, scope, name, node, path

    def loc(self, *steps, key: bool = False) -> Loc | None:
        return locate(self.ex.doc.root, (*self.path, *steps), key=key)

    def plan(self) -> RecurrencePlan:
        self.check_keys()
        eqs = self.equations()
        last = self.steps_value()
        inits = self.initial_values(eqs, last)
        lowest, first = self.lowest_indices(eqs, inits)
        if last < first:
            raise SpecError(f"steps is {last}, but the recursion starts at i = {first}: nothing "
                            "to compute", self.loc("steps"))
        if last - first + 1 > self.ex.limits.max_repeat:
            raise SpecError(f"{last - first + 1} steps is over the limit of "
                            f"{self.ex.limits.max_repeat}", self.loc("steps"),
                            limit_hint("max_repeat", "ExpandLimits"))
        return RecurrencePlan(eqs, last, inits, lowest, first)

    def check_keys(self) -> None:
        node = self.node
        if node.recurrence is None:
            given = next(k for k in _KEYS if getattr(node, k) not in (None, {}))
            raise SpecError(f"'{given}' of node '{self.name}' needs a 'recurrence'",
                            self.loc(given, key=True))
        for key in _NOT_HERE:
            if getattr(node, key) not in (None, [], {}):
                raise SpecError(f"'{key}' does not apply to a recurrence node", self.loc(
                    key, key=True), "apply ops inside the formula (relu(...)) or in a map "
                    "(maps: {W: {ops: [...]}}), and read the node from another one")
        if node.steps is None:
            raise SpecError(f"recurrence node '{self.name}' needs 'steps' (the last index)",
                            self.loc(key=True))
        for mname, spec in node.maps.items():
            self.ex.check_name(mname, self.loc("maps", mname, key=True), "map")
            if (spec.block is None) == (not spec.ops):
                raise SpecError(f"map '{mname}' needs either 'block' or 'ops'",
                                self.loc("maps", mname, key=True))
            if spec.args and spec.block is None:
                raise SpecError(f"'args' of map '{mname}' need a 'block'",
                                self.loc("maps", mname, "args", key=True))

    def equations(self) -> list[Equation]:
        texts = self.node.recurrence
        listed = isinstance(texts, list)
        texts = texts if listed else [texts]
        locs = [self.loc("recurrence", k) if listed else self.loc("recurrence")
                for k in range(len(texts))]
        states = [state_of(t) for t in texts]
        eqs: list[Equation] = []
        for text, loc, state in zip(texts, locs, states):
            eq = parse_equation(text, loc, {s for s in states if s}, set(self.node.maps))
            if any(e.state == eq.state for e in eqs):
                raise SpecError(f"state '{eq.state}' has two equations", eq.lhs_loc)
            self.ex.check_name(eq.state, eq.lhs_loc, "state")
            eqs.append(eq)
        used = set().union(*(e.maps_used for e in eqs))
        for mname in self.node.maps:
            if mname not in used:
                raise SpecError(f"map '{mname}' is never applied: no formula of node "
                                f"'{self.name}' uses it", self.loc("maps", mname, key=True),
                                f"remove it, or apply it: {mname}[i](...)")
        return eqs

    def steps_value(self) -> int:
        loc = self.loc("steps")
        last = evaluate(self.node.steps, self.scope, loc)
        if isinstance(last, float) and last.is_integer():
            last = int(last)
        if isinstance(last, bool) or not isinstance(last, int):
            raise SpecError(f"steps must be an integer, got {last!r}", loc)
        return last

    def initial_values(self, eqs: list[Equation], last: int) -> list[Initial]:
        refs = self.ex.refs_of(self.node, self.path, self.scope)
        init = self.node.init
        if init is None:
            if len(eqs) != 1 or len(refs) != 1:
                raise SpecError(f"recurrence node '{self.name}' needs 'init': the state terms "
                                "its 'from' references give, in order", self.loc(key=True),
                                "e.g. init: X[0], X[1]")
            init = [f"{eqs[0].state}[0]"]
        states = {e.state for e in eqs}
        env = self.scope.with_values({"n": last})
        terms = []
        for k, text in enumerate(init if isinstance(init, list) else [init]):
            loc = self.loc("init", k) if isinstance(init, list) else self.loc("init")
            for term in parse_state_terms(text, loc, states):
                if not isinstance(term, StateRef):
                    raise SpecError(f"an init item is a state term such as X[0], got '{text}'",
                                    loc)
                terms.append(term)
        if len(terms) != len(refs):
            raise SpecError(f"'init' names {len(terms)} state terms but 'from' gives "
                            f"{len(refs)} references", self.loc("init"),
                            "the references of 'from' are bound to the init terms in order")
        out = []
        for term, ref in zip(terms, refs):
            if ref.weight != 1 or ref.optional:
                raise SpecError("an initial value is a plain reference (no weight, not "
                                "optional)", ref.loc)
            out.append(Initial(term, int_index(term.index, env, f"the index of {term.name}"), ref))
        return out

    def lowest_indices(self, eqs: list[Equation],
                       inits: list[Initial]) -> tuple[dict[str, int], int]:
        first = max(x.index for x in inits) + 1
        lowest: dict[str, int] = {}
        for e in eqs:
            ks = sorted(x.index for x in inits if x.term.name == e.state)
            twice = [k for k in set(ks) if ks.count(k) > 1]
            if twice:
                raise SpecError(f"{e.state}[{twice[0]}] is given twice in 'init'",
                                self.loc("init"))
            if ks and ks != list(range(ks[0], first)):
                missing = next(k for k in range(ks[0], first) if k not in ks)
                raise SpecError(f"{e.state}[{missing}] is never defined: the initial values of "
                                f"{e.state} must run up to {e.state}[{first - 1}]",
                                self.loc("init"), "the recursion starts after the last "
                                "initial value of any state")
            lowest[e.state] = ks[0] if ks else first
        return lowest, first
