"""References between nodes: what a `from:` item names, and resolving them.

A `Ref` is one input of a node as expansion sees it: a name to resolve in a
scope (`d1.3.h`, `prev.y`, a block's in port) with its weight, channel slice,
`optional:` and `else:`, or a flat id that is already known (`Ref.to_node`).
References are resolved only after every scope is built (`resolve_pending`), so
a node may read nodes defined later in the file and inside block instances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import Loc, SpecError
from .flat_graph import FlatInput, FlatNode
from ..spec.load import locate
from ..spec.schema import NodeSpec, RefSpec
from .scope import Leaf, MissingOptional, Scope, resolve


@dataclass(frozen=True, slots=True)
class Ref:
    """One input of a node before it is resolved to a flat id."""

    scope: Scope | None  # where `text` is resolved (None for a `fixed` reference)
    text: str  # the reference as written, or the flat id of a fixed one
    weight: Any = 1  # a number or an expression, evaluated by shape inference
    slice: tuple[Any, Any] | None = None  # the channel range [start, stop) as written
    optional: bool = False
    loc: Loc | None = None  # None: the position of the node that reads it
    fallback: str | None = None  # `else:`, read where `text` names a node that does not exist
    fallback_loc: Loc | None = None
    fixed: bool = False  # `text` is already a flat id (an instance of an op-only repeat)

    @staticmethod
    def to_node(node_id: str) -> "Ref":
        return Ref(None, node_id, fixed=True)

    @property
    def plain(self) -> bool:
        """A bare name, which a block's in port can stand for without a node of its own."""
        return not (self.fixed or self.weight != 1 or self.slice is not None or self.optional
                    or self.fallback is not None)


def refs_of(node: NodeSpec, path: tuple, scope: Scope, root: Any) -> list[Ref]:
    """The `from:` items of `node` (at `path` in the located document `root`)."""
    listed = isinstance(node.from_, list)
    items = node.from_ if listed else [node.from_]
    refs = []
    for j, item in enumerate(items):
        ipath = (*path, "from", j) if listed else (*path, "from")
        if isinstance(item, RefSpec):
            fallback = item.else_ or None
            refs.append(Ref(scope, item.ref, item.weight, item.slice, item.optional,
                            locate(root, (*ipath, "ref")), fallback,
                            locate(root, (*ipath, "else")) if fallback else None))
        else:
            loc = locate(root, ipath)
            name, slc = split_slice(item, loc)
            refs.append(Ref(scope, name, slice=slc, loc=loc))
    return refs


def split_slice(text: str, loc: Loc | None) -> tuple[str, tuple[Any, Any] | None]:
    """'name[a:b]' -> ('name', (a, b)); 'name' -> ('name', None)."""
    text = text.strip()
    if "[" not in text and "]" not in text:
        return text, None
    m = re.fullmatch(r"([^\[\]]+)\[([^\[\]:]*):([^\[\]:]*)\]", text)
    if not m:
        raise SpecError(f"malformed channel slice '{text}'", loc,
                        "write NAME[start:stop], quoted inside [...] flow lists: \"s[0:k]\"")
    name, a, b = m.group(1).strip(), m.group(2).strip(), m.group(3).strip()
    return name, (a or 0, b or None)


def value_ref(inst) -> Ref:
    """A reference to the single output of an instance (a `Leaf` or `Instance`)."""
    if isinstance(inst, Leaf):
        return Ref.to_node(inst.id)
    if inst.value is not None:
        return Ref.to_node(inst.value)
    if len(inst.outs) != 1:
        raise SpecError(f"a dense repeat needs blocks with one out port; "
                        f"'{inst.node_name}' has {len(inst.outs)}")
    return Ref(inst.scope, inst.outs[0])


def out_refs(inst) -> list[Ref]:
    """References to every output of an instance, in port order."""
    if isinstance(inst, Leaf):
        return [Ref.to_node(inst.id)]
    if inst.value is not None:
        return [Ref.to_node(inst.value)]
    return [Ref(inst.scope, out) for out in inst.outs]


@dataclass
class Pending:
    """A reference that waits for every scope to exist, and the node it feeds."""

    node: FlatNode
    ref: Ref


_DROPPED = object()


def resolve_pending(pending: list[Pending], nodes: dict[str, FlatNode]) -> None:
    """Fill the placeholders that `feed` left, in order; drop optional references
    that name nothing here."""
    slots: dict[int, int] = {}
    for p in pending:
        index = slots.setdefault(id(p.node), 0)
        while p.node.inputs[index] is not None:
            index += 1
        try:
            p.node.inputs[index] = _resolved(p.ref, p.ref.loc or p.node.loc)
        except MissingOptional:
            p.node.inputs[index] = _DROPPED
        slots[id(p.node)] = index + 1
    for flat in nodes.values():
        flat.inputs = [x for x in flat.inputs if x is not _DROPPED]
        if not flat.inputs:
            raise SpecError(f"node '{flat.id}' has no inputs left (only optional references "
                            "that do not exist here)", flat.loc)


def _resolved(ref: Ref, loc: Loc | None) -> FlatInput:
    src = resolve(ref.scope, ref.text, loc, optional=ref.optional)
    label = ref.text if ref.slice is None else f"{ref.text}[{ref.slice[0]}:{ref.slice[1]}]"
    return FlatInput(src, label, loc, ref.scope, ref.weight, ref.slice, optional=ref.optional,
                     fallback=_fallback_of(ref))


def _fallback_of(ref: Ref) -> FlatInput | None:
    """The `else:` of a reference, resolved in the same scope (None when absent)."""
    if ref.fallback is None:
        return None
    text, slc = ref.fallback, ref.slice
    if "[" in text:
        text, slc = split_slice(text, ref.fallback_loc)
    try:
        src = resolve(ref.scope, text, ref.fallback_loc, optional=ref.optional)
    except MissingOptional:
        return None
    return FlatInput(src, ref.fallback, ref.fallback_loc, ref.scope, ref.weight, slc,
                     optional=ref.optional)
