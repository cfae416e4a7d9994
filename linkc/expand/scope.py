"""Name scopes of an expanded spec: values (params, block args, i, n) and node bindings.

A `Scope` is an `Env` for expressions and the table that references resolve
against. Block instances get their own scope whose parent is the spec's
(blocks are lexically scoped: they see the spec's params and their own, never
the caller's). Values are lazy: a block argument such as
`floor(theta*channels(d1))` is evaluated the first time shape inference needs it,
when `d1`'s shape is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from ..errors import Loc, SpecError, unknown
from ..spec.expr import evaluate
from .flat_graph import INPUT


@dataclass
class Lazy:
    """A value written as an expression, evaluated once in `env` on first use."""

    raw: Any
    env: "Scope"
    loc: Loc | None
    state: str = "pending"  # pending | running | done
    value: Any = None
    caller: bool = False  # a block argument the calling node passed (errors point there)

    def get(self, name: str) -> Any:
        if self.state == "done":
            return self.value
        if self.state == "running":
            raise SpecError(f"'{name}' is defined in terms of itself", self.loc)
        self.state = "running"
        try:
            self.value = evaluate(self.raw, self.env, self.loc)
        finally:
            self.state = "pending"
        self.state = "done"
        return self.value


@dataclass
class Condition:
    """An `if:`, evaluated once, when shape inference reaches the first node it guards
    (so it may read shapes upstream, like op arguments)."""

    raw: Any
    env: "Scope"
    loc: Loc | None
    value: bool | None = None

    def holds(self) -> bool:
        if self.value is None:
            result = evaluate(self.raw, self.env, self.loc)
            if isinstance(result, tuple):
                raise SpecError(f"if: needs true or false, got the list {list(result)}", self.loc)
            self.value = bool(result)
        return self.value


@dataclass
class Leaf:
    """A name bound to one flat node."""

    id: str


@dataclass
class Alias:
    """A block's in port bound to a plain reference in the caller's scope."""

    scope: "Scope"
    text: str
    loc: Loc | None


@dataclass
class Instance:
    """A block instance: its scope and its out port names."""

    scope: "Scope"
    outs: list[str]
    node_name: str
    value: str | None = None  # the node applying the calling node's ops to the out port


@dataclass
class Repeated:
    """A repeated node: its instances, and the dense merge node if `connect: dense`."""

    instances: list[Union[Instance, Leaf]]
    dense_id: str | None  # the dense merge, or the pass-through node of `repeat: 0`
    node_name: str
    passes: dict[str, str] = field(default_factory=dict)  # repeat 0 of a multi-port block


Binding = Union[Leaf, Alias, Instance, Repeated]


@dataclass
class Scope:
    prefix: str  # flat-id prefix of nodes defined here ("" at the top level)
    parent: "Scope | None"
    values: dict[str, Any] = field(default_factory=dict)
    table: dict[str, Binding] = field(default_factory=dict)
    prev: "Scope | None" = None
    repeated: bool = False  # an instance of a repeat (so `prev` means something)
    top: bool = False
    absent_ids: set = field(default_factory=set)  # flat ids whose `if:` is false (root scope)
    inputs: tuple[str, ...] = ()  # the model's input names (set on the top-level scope)
    shape_lookup: Callable[[str], Any] | None = None  # flat id -> shape, set by inference

    def __repr__(self) -> str:
        # Not the dataclass repr: a scope reaches its parents, siblings and every binding,
        # so printing one (a traceback printer showing arguments) would print the graph.
        return (f"Scope({self.prefix or '<top>'!r}, values={sorted(self.values)[:8]}, "
                f"bindings={sorted(self.table)[:8]})")

    def with_values(self, values: dict[str, Any]) -> "Scope":
        """The same names and nodes, plus `values` (e.g. a repeat's i and n)."""
        return Scope(self.prefix, self, dict(values), self.table, self.prev, self.repeated,
                     self.top)

    def id_of(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    # ---- Env protocol -------------------------------------------------------
    def lookup(self, name: str, loc: Loc | None) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                value = scope.values[name]
                return value.get(name) if isinstance(value, Lazy) else value
            scope = scope.parent
        raise unknown("name", name, self.names(), loc)

    def binding_of(self, name: str) -> Any:
        """The value bound to `name` as stored (a `Lazy` unevaluated), or None."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return None

    def names(self) -> list[str]:
        out: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            out.extend(scope.values)
            scope = scope.parent
        return out

    def shape_of(self, ref: str, loc: Loc | None) -> tuple[int, ...]:
        node_id = resolve(self, ref, loc)
        shape = self.root().shape_lookup(node_id) if self.root().shape_lookup else None
        if node_id in self.root().absent_ids:
            raise SpecError(f"'{ref}' does not exist here (its if: is false), so it has no shape",
                            loc)
        if shape is None:
            raise SpecError(f"the shape of '{ref}' is not known here", loc,
                            "channels()/size() may only read nodes upstream of where they are "
                            "used, and never in repeat counts or params")
        return shape

    def root(self) -> "Scope":
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


class MissingOptional(Exception):
    """An optional reference that does not exist here (e.g. `prev` in instance 0)."""


def resolve(scope: Scope, text: str, loc: Loc | None, *, optional: bool = False,
            _seen: frozenset = frozenset()) -> str:
    """A reference as written -> the flat id of the node it names."""
    key = (id(scope), text)
    if key in _seen:
        raise SpecError(f"'{text}' refers to itself through block ports", loc)
    parts = text.split(".")
    if any(not p for p in parts):
        raise SpecError(f"malformed reference '{text}'", loc, "write NAME, NAME.PORT or prev.NAME")
    return _resolve_parts(scope, parts, text, loc, optional, _seen | {key})


def _resolve_parts(scope: Scope, parts: list[str], text: str, loc: Loc | None,
                   optional: bool, seen: frozenset) -> str:
    head, rest = parts[0], parts[1:]
    if head == "prev":
        if not scope.repeated:
            raise SpecError(f"'{text}': prev is only meaningful inside a repeated block", loc)
        if scope.prev is None:
            if optional:
                raise MissingOptional(text)
            raise SpecError(f"'{text}' refers to the previous instance, but this is the first "
                            "one (instance 0)", loc,
                            f"mark it optional to drop it there: {{ref: {text}, optional: true}}")
        if not rest:
            raise SpecError("prev needs a node name: prev.NAME", loc)
        return _resolve_parts(scope.prev, rest, text, loc, optional, seen)
    binding = scope.table.get(head)
    if binding is None:
        return _resolve_input(scope, head, rest, text, loc)
    return _resolve_binding(binding, rest, text, loc, optional, seen)


def _resolve_input(scope: Scope, head: str, rest: list[str], text: str, loc: Loc | None) -> str:
    """A model input (`input`, or a name of `inputs:`), or the unknown-node error."""
    inputs = scope.root().inputs
    if head not in inputs:
        if head == INPUT and inputs:
            raise SpecError("unknown node 'input': this spec names its inputs", loc,
                            f"refer to one of them: {', '.join(inputs)}")
        named = list(inputs) if scope.top and inputs != (INPUT,) else []
        raise unknown("node", head, [*scope.table, *named], loc)
    what = "'input' (the model input)" if head == INPUT else f"'{head}' (a model input)"
    if not scope.top:
        raise SpecError(f"{what} can only be referenced at the top level", loc,
                        "pass it into the block through an in port")
    if rest:
        raise SpecError(f"'{head}' has no parts: '{text}'", loc)
    return head


def _resolve_binding(binding: Binding, rest: list[str], text: str, loc: Loc | None,
                     optional: bool, seen: frozenset) -> str:
    if isinstance(binding, Leaf):
        if rest:
            raise SpecError(f"'{text}': '{binding.id}' is a node, not a block instance; "
                            f"it has no part '{rest[0]}'", loc)
        return binding.id
    if isinstance(binding, Alias):
        if rest:
            raise SpecError(f"'{text}': an in port has no parts", loc)
        return resolve(binding.scope, binding.text, binding.loc, optional=optional, _seen=seen)
    if isinstance(binding, Instance):
        if not rest and binding.value is not None:
            return binding.value
        if not rest:
            if len(binding.outs) != 1:
                raise SpecError(f"'{binding.node_name}' has several outputs "
                                f"({', '.join(binding.outs)})", loc,
                                f"refer to one of them as {binding.node_name}.{binding.outs[0]}")
            rest = [binding.outs[0]]
        return _resolve_parts(binding.scope, rest, text, loc, optional, seen)
    # Repeated
    if not binding.instances:
        return _resolve_empty(binding, rest, text, loc)
    if not rest:
        if binding.dense_id is not None:
            return binding.dense_id
        return _resolve_binding(binding.instances[-1], [], text, loc, optional, seen)
    index_text = rest[0]
    if index_text.lstrip("-").isdigit():
        index = int(index_text)
        count = len(binding.instances)
        if not -count <= index < count:
            raise SpecError(f"'{text}': '{binding.node_name}' has {count} instances "
                            f"(0..{count - 1}), not {index}", loc)
        return _resolve_binding(binding.instances[index], rest[1:], text, loc, optional, seen)
    return _resolve_binding(binding.instances[-1], rest, text, loc, optional, seen)


def _resolve_empty(binding: Repeated, rest: list[str], text: str, loc: Loc | None) -> str:
    """A reference to a `repeat: 0` node: its inputs, passed through."""
    if not rest and binding.dense_id is not None:
        return binding.dense_id
    if len(rest) == 1 and rest[0] in binding.passes:
        return binding.passes[rest[0]]
    if not rest:
        raise SpecError(f"'{binding.node_name}' has several outputs "
                        f"({', '.join(binding.passes)})", loc,
                        f"refer to one of them as {binding.node_name}.{next(iter(binding.passes))}")
    raise SpecError(f"'{text}': '{binding.node_name}' has 0 instances (repeat: 0), so "
                    f"there is nothing inside it to refer to", loc,
                    "refer to the node itself: it passes its input through")
