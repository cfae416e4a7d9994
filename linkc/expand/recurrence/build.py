"""A recurrence node -> ordinary flat nodes.

    body:
      from: stem                       # the initial values, bound to `init` in order
      recurrence: "X[i] = relu(X[i-1] + W[i](X[i-1])) - W[i-1](X[i-2])"
      steps: 9                         # i runs from one past the last initial value to 9
      init: X[0]                       # default: X[0] (one state, one `from`)
      maps: {W: {block: branch, args: {width: 16}}}   # or {ops: [...]}; `i` = the index
      out: X[n]                        # the node's value (default X[n])

Each step resolves the formula (`recurrence_terms`) and builds what is new: one
block instance (or op node) per map index, `body.W.3`; one node per state whose
formula is a merge, `body.X.3`, with sums as `add` (all coefficients 1) or `wsum`,
`cat`/`‖` as `concat`, `mean` as `mean`, and ops applied in the formula folded into
the node they wrap. A state that is just a map's output or an earlier state is that
node, with nothing added. Other nodes read `body` (the out value), `body.X.k`
(state k, counted from the first initial value), `body.W.3` (map W at index 3)
or `body.W.3.h` (a node of its block). The node's keys are read and checked before
anything is built (`recurrence_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..block import instantiate
from ...errors import Loc, SpecError, limit_hint
from ...spec.expr import parse_expr
from ..flat_graph import FlatInput
from ...ops.merges import MERGES
from .grammar import Equation, History, parse_state_terms
from .plan import Initial, RecurrencePlan, RecurrenceSite, plan_recurrence
from .terms import RJoin, RMap, ROp, RState, RSum, Resolved, Resolver
from ..refs import Ref
from ...spec.schema import MapSpec, NodeSpec
from ..scope import Alias, Instance, Leaf, Repeated, Scope

if TYPE_CHECKING:
    from ..expander import Expander


@dataclass
class RecurrenceInfo:
    """What a recurrence node computes, step by step (for `analyze --derivative`)."""

    id: str
    equations: list[str]
    states: list[str]
    lowest: dict[str, int]
    first: int
    last: int
    rhs: dict[tuple[str, int], Resolved] = field(default_factory=dict)
    out: Resolved | None = None
    maps: dict[tuple[str, int], str] = field(default_factory=dict)  # (W, j) -> flat id prefix


@dataclass
class _Value:
    """A term's value: a flat node built here (`id`) or a reference still to resolve."""

    id: str | None = None
    ref: Ref | None = None


def build_recurrence(ex: Expander, scope: Scope, name: str, node: NodeSpec,
                     path: tuple) -> Instance:
    """The expander's hook: build the nodes of recurrence node `name` in `scope`."""
    site = RecurrenceSite(ex, scope, name, node, path)
    return _Recurrence(site).build(plan_recurrence(site))


class _Recurrence:
    """The nodes of one recurrence node, built step by step from its plan; every
    resolved term is built once (`memo`), so a branch shared by two steps is one node."""

    def __init__(self, site: RecurrenceSite):
        self.site = site
        self.ex, self.scope, self.node, self.loc = site.ex, site.scope, site.node, site.loc
        self.rid = site.scope.id_of(site.name)
        self.rec_scope = Scope(prefix=self.rid, parent=site.scope)
        self.values: dict[tuple[str, int], _Value] = {}
        self.memo: dict[Resolved, _Value] = {}
        self.step_id = self.rid
        self.counter = 0
        self.instances: dict[str, dict[str, Any]] = {}  # map -> index -> Leaf | Instance
        self.active: dict[tuple[str, int], bool] = {}  # (map, index) -> not the identity
        self.conditions: dict[str, Any] = {}  # map -> its parsed `if:`

    # ------------------------------------------------------------------ build
    def build(self, plan: RecurrencePlan) -> Instance:
        eqs, last, lowest, first = plan.equations, plan.last, plan.lowest, plan.first
        for x in plan.inits:
            self.values[(x.term.name, x.index)] = self.initial(x)
        self.info = RecurrenceInfo(self.rid, [e.text for e in eqs], [e.state for e in eqs],
                                   lowest, first, last)
        self.resolver = Resolver(lambda i: self.scope.with_values({"i": i, "n": last}),
                                 lowest, last, lambda s, k: (s, k) in self.values,
                                 self.map_active)
        for i in range(first, last + 1):
            before = self.ex.inputs
            for eq in eqs:
                self.step(eq, i)
            self.check_projected(self.ex.inputs - before, last - i, self.loc("steps"))
        out = self.output(eqs, last)
        self.bind(eqs, lowest, last, out)
        self.ex.recurrences[self.rid] = self.info
        return Instance(self.rec_scope, ["@out"], self.site.name)

    def check_projected(self, per_step: int, steps_left: int, loc: Loc | None) -> None:
        """Fail a history concatenation over many steps early, not after building most of
        it: the projection assumes each step left reads at least as many inputs as this one."""
        projected = self.ex.inputs + per_step * steps_left
        limit = self.ex.limits.max_inputs
        if projected > limit:
            raise SpecError(f"recurrence '{self.site.name}' would have at least {projected:,} "
                            f"node inputs by its last step, over the limit of {limit:,}", loc,
                            "reduce its steps; " + limit_hint("max_inputs", "ExpandLimits"))

    def initial(self, x: Initial) -> _Value:
        """An initial value: the reference itself, or a port node where it takes a slice
        or has an `else:` (so that every reader gets the same value)."""
        if x.ref.slice is None and x.ref.fallback is None:
            return _Value(ref=x.ref)
        port = self.ex.new_node(f"{self.rid}.{x.term.name}.{x.index}", self.scope, None, None,
                                x.ref.loc, "port")
        self.ex.feed(port, [x.ref])
        return _Value(id=port.id)

    def step(self, eq: Equation, i: int) -> None:
        rhs = self.resolver.resolve(eq.rhs, i, f"{eq.state}[{i}]")
        if rhs is None:
            first = self.info.lowest[eq.state]
            raise SpecError(f"{eq.state}[{i}] never reaches an initial value: at i = {i} every "
                            f"term of its formula refers below {eq.state}[{first}], so all of "
                            "them vanish", eq.lhs_loc, "give more initial values in 'init', or "
                            "make the formula read a state that exists at every step")
        self.info.rhs[(eq.state, i)] = rhs
        self.step_id, self.counter = f"{self.rid}.{eq.state}.{i}", 0
        self.values[(eq.state, i)] = self.value(rhs, top=True)

    def output(self, eqs: list[Equation], last: int) -> _Value:
        text = self.node.out or f"{eqs[0].state}[n]"
        loc = self.loc("out") if self.node.out else self.loc(key=True)
        terms = parse_state_terms(text, loc, {e.state for e in eqs})
        if len(terms) != 1 or isinstance(terms[0], History):
            raise SpecError(f"'out' is one term, such as X[n] or cat(X[0:n+1]); got '{text}'",
                            loc)
        out = self.resolver.resolve(terms[0], last + 1, "the out value")
        if out is None:
            raise SpecError(f"the out value '{text}' vanishes: it refers below the initial "
                            "values", loc)
        self.info.out = out
        self.step_id, self.counter = f"{self.rid}.out", 0
        return self.value(out, top=True)

    def bind(self, eqs, lowest, last, out: _Value) -> None:
        table = self.rec_scope.table
        for e in eqs:
            table[e.state] = Repeated([self.binding(self.values[(e.state, k)])
                                       for k in range(lowest[e.state], last + 1)], None, e.state)
        table["@out"] = self.binding(out)  # "@": never a state or map name
        for mname, by_index in self.instances.items():  # body.W.3, body.W.3.h
            scope = Scope(prefix=f"{self.rid}.{mname}", parent=self.rec_scope, table=by_index)
            table[mname] = Instance(scope, [], mname)

    def binding(self, v: _Value):
        if v.id is not None:
            return Leaf(v.id)
        return Alias(v.ref.scope, v.ref.text, v.ref.loc)

    # ------------------------------------------------------------- map index
    def map_active(self, mname: str, j: int, loc: Loc | None) -> bool:
        """Whether map `mname` at index j is more than the identity (its `if:`), once
        per index: a formula applies the same map index several times."""
        key = (mname, j)
        if key not in self.active:
            cond = self.node.maps[mname].if_
            if isinstance(cond, str):
                if mname not in self.conditions:
                    self.conditions[mname] = parse_expr(cond, self.loc("maps", mname, "if"))
                env = self.scope.with_values({"i": j, "n": self.info.last})
                cond = self.conditions[mname].evaluate(env)
            self.active[key] = cond is None or bool(cond)
        return self.active[key]

    # ------------------------------------------------------------------ nodes
    def value(self, r: Resolved, top: bool = False) -> _Value:
        if r in self.memo:
            return self.memo[r]
        if isinstance(r, RState):
            v = self.values[(r.name, r.index)]
        elif isinstance(r, RMap):
            v = self.apply(r)
        else:
            v = self.node_for(r, top)
        self.memo[r] = v
        return v

    def new_id(self, top: bool) -> str:
        if top:
            return self.step_id
        self.counter += 1
        return f"{self.step_id}_{self.counter}"

    def node_for(self, r: Resolved, top: bool) -> _Value:
        """A node for a merge and the ops around it (`relu(a + b)` is one node)."""
        ops: list[str] = []
        base = r
        while isinstance(base, ROp):
            ops.insert(0, base.op)
            base = base.arg
        loc = self.resolver.locs.get(r)
        if isinstance(base, (RSum, RJoin)) and (base not in self.memo or not ops):
            members = base.terms if isinstance(base, RSum) else [(1, m) for m in base.members]
            inputs = [(coef, self.value(m)) for coef, m in members]
            merge = self.merge_of(base)
            labels = [str(m) for _, m in members]
        else:
            inputs, merge, labels = [(1, self.value(base))], None, [str(base)]
        flat = self.ex.new_node(self.new_id(top), self.scope, merge,
                                self.node.pad if merge is not None and merge.padded else None,
                                loc, doc=self.node.doc)
        for (coef, v), label in zip(inputs, labels):
            self.feed(flat, v, float(coef) if coef != 1 else 1, label, loc)
        self.ex.add_ops(flat, ops, self.scope)  # at the node's position: `loc`
        return _Value(id=flat.id)

    def merge_of(self, base: Resolved):
        if isinstance(base, RJoin):
            return MERGES.lookup(base.merge)
        weighted = any(c != 1 for c, _ in base.terms)
        return MERGES.lookup("wsum" if weighted else "add")

    def feed(self, flat, v: _Value, weight: Any, label: str, loc: Loc | None) -> None:
        if v.id is not None:
            self.ex.count_inputs(1, loc)
            flat.inputs.append(FlatInput(v.id, label, loc, flat.scope, weight))
        else:
            self.ex.feed(flat, [replace(v.ref, weight=weight)])

    def apply(self, r: RMap) -> _Value:
        spec: MapSpec = self.node.maps[r.name]
        mpath = (*self.site.path, "maps", r.name)
        prefix = f"{self.rid}.{r.name}.{r.index}"
        self.info.maps[(r.name, r.index)] = prefix
        arg = self.value(r.arg)
        loc = self.resolver.locs.get(r)
        values = {"i": r.index, "n": self.info.last}
        if spec.block is None:
            env = self.scope.with_values(values)
            flat = self.ex.new_node(prefix, env, None, None, loc)
            self.ex.add_ops(flat, spec.ops, env)
            self.feed(flat, arg, 1, str(r.arg), loc)
            self.instances.setdefault(r.name, {})[str(r.index)] = Leaf(flat.id)
            return _Value(id=flat.id)
        if arg.id is not None:  # an in port reads the node directly (no port node)
            key = f"@{len(self.rec_scope.table)}"
            self.rec_scope.table[key] = Leaf(arg.id)
            feed = Ref(self.rec_scope, key, loc=loc)
        else:
            feed = arg.ref
        template = NodeSpec.model_construct(block=spec.block, args=spec.args)
        inst = instantiate(self.ex, self.scope, r.name, template, mpath, prefix, values, [feed])
        self.instances.setdefault(r.name, {})[str(r.index)] = inst
        if len(inst.outs) != 1:
            raise SpecError(f"map '{r.name}' uses block '{spec.block}', which has "
                            f"{len(inst.outs)} out ports; a map has one", self.loc(
                                "maps", r.name, "block"))
        out = inst.scope.table.get(inst.outs[0])
        if isinstance(out, Leaf):
            return _Value(id=out.id)
        return _Value(ref=Ref(inst.scope, inst.outs[0], loc=loc))
