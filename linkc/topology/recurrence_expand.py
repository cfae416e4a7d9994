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
or `body.W.3.h` (a node of its block).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Loc, SpecError, limit_hint
from .expr import evaluate, parse_expr
from .flat import FlatInput, OpCall
from .load import locate
from .merges import MERGES
from .opitems import parse_op_item
from .recurrence import Equation, History, StateRef, parse_equation, parse_state_terms, state_of
from .recurrence_terms import RJoin, RMap, ROp, RState, RSum, Resolved, Resolver, int_index
from .schema import MapSpec, NodeSpec
from .scope import Alias, Instance, Leaf, Repeated, Scope

_KEYS = ("recurrence", "steps", "init", "maps", "out")
_NOT_HERE = ("ops", "merge", "block", "args", "repeat", "connect")


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
    ref: tuple | None = None  # (scope, text, weight, slice, optional, loc)


def uses_recurrence(node: NodeSpec) -> bool:
    return node.recurrence is not None or node.steps is not None or node.init is not None \
        or bool(node.maps) or node.out is not None


def build_recurrence(ex, scope: Scope, name: str, node: NodeSpec, path: tuple) -> Instance:
    """The expander's hook: build the nodes of recurrence node `name` in `scope`."""
    return _Recurrence(ex, scope, name, node, path).build()


class _Recurrence:
    def __init__(self, ex, scope: Scope, name: str, node: NodeSpec, path: tuple):
        self.ex, self.scope, self.name, self.node, self.path = ex, scope, name, node, path
        self.rid = scope.id_of(name)
        self.rec_scope = Scope(prefix=self.rid, parent=scope)
        self.values: dict[tuple[str, int], _Value] = {}
        self.memo: dict[Resolved, _Value] = {}
        self.step_id = self.rid
        self.counter = 0
        self.instances: dict[str, dict[str, Any]] = {}  # map -> index -> Leaf | Instance
        self.active: dict[tuple[str, int], bool] = {}  # (map, index) -> not the identity
        self.conditions: dict[str, Any] = {}  # map -> its parsed `if:`

    def loc(self, *steps, key: bool = False) -> Loc | None:
        return locate(self.ex.doc.root, (*self.path, *steps), key=key)

    # ------------------------------------------------------------------ setup
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

    def initial_values(self, eqs: list[Equation], last: int) -> list[tuple[StateRef, int, tuple]]:
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
            if ref[2] != 1 or ref[4]:
                raise SpecError("an initial value is a plain reference (no weight, not "
                                "optional)", ref[5])
            out.append((term, int_index(term.index, env, f"the index of {term.name}"), ref))
        return out

    def lowest_indices(self, eqs, inits) -> tuple[dict[str, int], int]:
        first = max(k for _, k, _ in inits) + 1
        lowest: dict[str, int] = {}
        for e in eqs:
            ks = sorted(k for t, k, _ in inits if t.name == e.state)
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

    # ------------------------------------------------------------------ build
    def build(self) -> Instance:
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
        for term, k, ref in inits:
            self.values[(term.name, k)] = self.initial(term, k, ref)
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
        return Instance(self.rec_scope, ["@out"], self.name)

    def check_projected(self, per_step: int, steps_left: int, loc: Loc | None) -> None:
        """Fail a history concatenation over many steps early, not after building most of
        it: the projection assumes each step left reads at least as many inputs as this one."""
        projected = self.ex.inputs + per_step * steps_left
        limit = self.ex.limits.max_inputs
        if projected > limit:
            raise SpecError(f"recurrence '{self.name}' would have at least {projected:,} node "
                            f"inputs by its last step, over the limit of {limit:,}", loc,
                            "reduce its steps; " + limit_hint("max_inputs", "ExpandLimits"))

    def initial(self, term: StateRef, k: int, ref: tuple) -> _Value:
        if ref[3] is None:
            return _Value(ref=ref)
        port = self.ex.new_node(f"{self.rid}.{term.name}.{k}", self.scope, None, None, ref[5],
                                "port")
        self.ex.feed(port, [ref])
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
        return Alias(v.ref[0], v.ref[1], v.ref[5])

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
        counts: dict[str, int] = {}
        for op_name in ops:
            op, raw = parse_op_item(op_name, loc, [])
            counts[op.name] = counts.get(op.name, 0) + 1
            flat.ops.append(OpCall(op, raw, loc, f"{op.name}{counts[op.name]}"))
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
            scope, text, _, slc, optional, rloc = v.ref
            self.ex.feed(flat, [(scope, text, weight, slc, optional, rloc)])

    def apply(self, r: RMap) -> _Value:
        spec: MapSpec = self.node.maps[r.name]
        mpath = (*self.path, "maps", r.name)
        prefix = f"{self.rid}.{r.name}.{r.index}"
        self.info.maps[(r.name, r.index)] = prefix
        arg = self.value(r.arg)
        loc = self.resolver.locs.get(r)
        values = {"i": r.index, "n": self.info.last}
        if spec.block is None:
            env = self.scope.with_values(values)
            flat = self.ex.new_node(prefix, env, None, None, loc)
            self.ex.add_ops(flat, spec, mpath, env)
            self.feed(flat, arg, 1, str(r.arg), loc)
            self.instances.setdefault(r.name, {})[str(r.index)] = Leaf(flat.id)
            return _Value(id=flat.id)
        if arg.id is not None:  # an in port reads the node directly (no port node)
            key = f"@{len(self.rec_scope.table)}"
            self.rec_scope.table[key] = Leaf(arg.id)
            feed = (self.rec_scope, key, 1, None, False, loc)
        else:
            feed = arg.ref
        template = NodeSpec.model_construct(block=spec.block, args=spec.args)
        inst = self.ex.instantiate(self.scope, r.name, template, mpath, prefix, values, [feed])
        self.instances.setdefault(r.name, {})[str(r.index)] = inst
        if len(inst.outs) != 1:
            raise SpecError(f"map '{r.name}' uses block '{spec.block}', which has "
                            f"{len(inst.outs)} out ports; a map has one", self.loc(
                                "maps", r.name, "block"))
        out = inst.scope.table.get(inst.outs[0])
        if isinstance(out, Leaf):
            return _Value(id=out.id)
        return _Value(ref=(inst.scope, inst.outs[0], 1, None, False, loc))
