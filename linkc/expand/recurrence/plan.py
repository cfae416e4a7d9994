"""What a recurrence node declares, read and checked before anything is built.

`plan_recurrence` reads `recurrence:` (one formula per state), `steps:`, `init:`
(which state terms the references of `from:` are) and `maps:`, and works out
where each state's values start (`lowest`) and the first step (`first`: one past
the last initial value of any state). `build.py` builds the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import Loc, SpecError, limit_hint
from ...spec.expr import evaluate
from ...spec.load import locate
from .grammar import Equation, StateRef, parse_equation, parse_state_terms, state_of
from .terms import int_index
from ..refs import Ref
from ...spec.schema import NodeSpec, recurrence_keys
from ..scope import Scope

if TYPE_CHECKING:
    from ..expander import Expander

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


@dataclass(frozen=True)
class RecurrenceSite:
    """A recurrence node where the spec writes it: node `name` at `path`, in `scope`."""

    ex: Expander
    scope: Scope
    name: str
    node: NodeSpec
    path: tuple

    def loc(self, *steps, key: bool = False) -> Loc | None:
        return locate(self.ex.doc.root, (*self.path, *steps), key=key)


def plan_recurrence(site: RecurrenceSite) -> RecurrencePlan:
    """The checked plan of a recurrence node: its formulas, steps and initial values."""
    _check_keys(site)
    eqs = _equations(site)
    last = _steps_value(site)
    inits = _initial_values(site, eqs, last)
    lowest, first = _lowest_indices(site, eqs, inits)
    if last < first:
        raise SpecError(f"steps is {last}, but the recursion starts at i = {first}: nothing "
                        "to compute", site.loc("steps"))
    if last - first + 1 > site.ex.limits.max_repeat:
        raise SpecError(f"{last - first + 1} steps is over the limit of "
                        f"{site.ex.limits.max_repeat}", site.loc("steps"),
                        limit_hint("max_repeat", "ExpandLimits"))
    return RecurrencePlan(eqs, last, inits, lowest, first)


def _check_keys(site: RecurrenceSite) -> None:
    node = site.node
    if node.recurrence is None:
        given = recurrence_keys(node)[0]
        raise SpecError(f"'{given}' of node '{site.name}' needs a 'recurrence'",
                        site.loc(given, key=True))
    for key in _NOT_HERE:
        if getattr(node, key) not in (None, [], {}):
            raise SpecError(f"'{key}' does not apply to a recurrence node", site.loc(
                key, key=True), "apply ops inside the formula (relu(...)) or in a map "
                "(maps: {W: {ops: [...]}}), and read the node from another one")
    if node.steps is None:
        raise SpecError(f"recurrence node '{site.name}' needs 'steps' (the last index)",
                        site.loc(key=True))
    for mname, spec in node.maps.items():
        site.ex.check_name(mname, site.loc("maps", mname, key=True), "map")
        if (spec.block is None) == (not spec.ops):
            raise SpecError(f"map '{mname}' needs either 'block' or 'ops'",
                            site.loc("maps", mname, key=True))
        if spec.args and spec.block is None:
            raise SpecError(f"'args' of map '{mname}' need a 'block'",
                            site.loc("maps", mname, "args", key=True))


def _equations(site: RecurrenceSite) -> list[Equation]:
    texts = site.node.recurrence
    listed = isinstance(texts, list)
    texts = texts if listed else [texts]
    locs = [site.loc("recurrence", k) if listed else site.loc("recurrence")
            for k in range(len(texts))]
    states = [state_of(t) for t in texts]
    eqs: list[Equation] = []
    for text, loc, state in zip(texts, locs, states):
        eq = parse_equation(text, loc, {s for s in states if s}, set(site.node.maps))
        if any(e.state == eq.state for e in eqs):
            raise SpecError(f"state '{eq.state}' has two equations", eq.lhs_loc)
        site.ex.check_name(eq.state, eq.lhs_loc, "state")
        eqs.append(eq)
    used = set().union(*(e.maps_used for e in eqs))
    for mname in site.node.maps:
        if mname not in used:
            raise SpecError(f"map '{mname}' is never applied: no formula of node "
                            f"'{site.name}' uses it", site.loc("maps", mname, key=True),
                            f"remove it, or apply it: {mname}[i](...)")
    return eqs


def _steps_value(site: RecurrenceSite) -> int:
    loc = site.loc("steps")
    last = evaluate(site.node.steps, site.scope, loc)
    if isinstance(last, float) and last.is_integer():
        last = int(last)
    if isinstance(last, bool) or not isinstance(last, int):
        raise SpecError(f"steps must be an integer, got {last!r}", loc)
    return last


def _initial_values(site: RecurrenceSite, eqs: list[Equation], last: int) -> list[Initial]:
    refs = site.ex.refs_of(site.node, site.path, site.scope)
    init = site.node.init
    if init is None:
        if len(eqs) != 1 or len(refs) != 1:
            raise SpecError(f"recurrence node '{site.name}' needs 'init': the state terms "
                            "its 'from' references give, in order", site.loc(key=True),
                            "e.g. init: X[0], X[1]")
        init = [f"{eqs[0].state}[0]"]
    states = {e.state for e in eqs}
    env = site.scope.with_values({"n": last})
    terms = []
    for k, text in enumerate(init if isinstance(init, list) else [init]):
        loc = site.loc("init", k) if isinstance(init, list) else site.loc("init")
        for term in parse_state_terms(text, loc, states):
            if not isinstance(term, StateRef):
                raise SpecError(f"an init item is a state term such as X[0], got '{text}'",
                                loc)
            terms.append(term)
    if len(terms) != len(refs):
        raise SpecError(f"'init' names {len(terms)} state terms but 'from' gives "
                        f"{len(refs)} references", site.loc("init"),
                        "the references of 'from' are bound to the init terms in order")
    out = []
    for term, ref in zip(terms, refs):
        if ref.weight != 1 or ref.optional:
            raise SpecError("an initial value is a plain reference (no weight, not "
                            "optional)", ref.loc)
        out.append(Initial(term, int_index(term.index, env, f"the index of {term.name}"), ref))
    return out


def _lowest_indices(site: RecurrenceSite, eqs: list[Equation],
                    inits: list[Initial]) -> tuple[dict[str, int], int]:
    first = max(x.index for x in inits) + 1
    lowest: dict[str, int] = {}
    for e in eqs:
        ks = sorted(x.index for x in inits if x.term.name == e.state)
        twice = [k for k in set(ks) if ks.count(k) > 1]
        if twice:
            raise SpecError(f"{e.state}[{twice[0]}] is given twice in 'init'",
                            site.loc("init"))
        if ks and ks != list(range(ks[0], first)):
            missing = next(k for k in range(ks[0], first) if k not in ks)
            raise SpecError(f"{e.state}[{missing}] is never defined: the initial values of "
                            f"{e.state} must run up to {e.state}[{first - 1}]",
                            site.loc("init"), "the recursion starts after the last "
                            "initial value of any state")
        lowest[e.state] = ks[0] if ks else first
    return lowest, first
