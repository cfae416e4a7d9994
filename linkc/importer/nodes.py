"""The importer's data: values (what an fx node computes), the two symbolic kinds
that exist only until something reads them (a linear combination, a channel
zero-padding), and spec nodes (`ops(merge(refs))`, what the written spec holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Ref", "SpecNode", "Value"]


@dataclass(frozen=True, eq=False)
class Value:
    kind: str                  # input | op | merge
    shape: tuple[int, ...]     # per sample
    name: str                  # fx name, for naming
    home: tuple[str, ...]      # module path whose forward produced it
    refs: tuple["Ref", ...] = ()
    op: str | None = None
    args: dict = field(default_factory=dict)
    merge: str | None = None
    module: str | None = None  # qualified name of the layer (ops and merge modules)


@dataclass(frozen=True)
class Ref:
    value: Value
    weight: float = 1.0
    slice: tuple[int, int] | None = None


@dataclass
class SpecNode:
    """One node of the written spec: `ops(merge(refs))`, with the layers it holds."""

    refs: list[Ref]
    merge: str | None
    weights: list[float]
    ops: list[tuple[str, dict]]
    modules: list[str | None]           # the layer behind each op (None: a function)
    merge_module: str | None
    shape: tuple[int, ...]
    home: tuple[str, ...]
    name: str
    value: Value                        # the value this node computes
    pad: str | None = None              # `pad: zeros` of an add over unequal widths
    id: str = ""                        # assigned by the structure step


class LinComb(dict):
    """value -> weight: a sum not yet materialised as a merge. `padded`: some term was
    zero-padded on channels, so the merge is `pad: zeros`."""

    padded = False


@dataclass(frozen=True)
class Padded:
    """A value zero-padded at the end of its channels (an option-A shortcut): only a sum
    can read it, as `pad: zeros`."""

    ref: Ref
