"""The importer's data: values (what an fx node computes), the symbolic kinds that exist
only until something reads them (a linear combination, a channel zero-padding, a view
that adds or drops unit dimensions, a channels-last permutation, the halves of a
channel shuffle, a parameter read in the forward, the batch size), and spec nodes
(`ops(merge(refs))`, what the written spec holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Batch", "Grouped", "LinComb", "Padded", "Param", "Permuted", "Ref", "SpecNode",
           "Value", "Viewed"]


@dataclass(frozen=True, eq=False)
class Value:
    kind: str                  # input | op | merge
    shape: tuple[int, ...]     # per sample
    name: str                  # fx name, for naming
    home: tuple[str, ...]      # module path whose forward produced it
    refs: tuple[Ref, ...] = ()
    op: str | None = None
    args: dict = field(default_factory=dict)
    merge: str | None = None
    module: str | None = None  # qualified name of the layer (ops and merge modules)
    state: dict | None = None  # the layer's state under the lowered module's names


@dataclass(frozen=True)
class Ref:
    value: Value
    weight: float = 1.0
    slice: tuple[int, int] | None = None

    @property
    def channels(self) -> int:
        return self.slice[1] - self.slice[0] if self.slice else self.value.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.channels, *self.value.shape[1:])


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
    states: list[dict | None] = field(default_factory=list)  # each op's carried state
    merge_state: dict | None = None


class LinComb(dict):
    """Ref -> weight: a sum not yet materialised as a merge. `pads`: Ref -> (front, back)
    zero channels around a term (an option-A shortcut); `home`, `name`, `shape`: where
    and what the sum was computed, for the merge it becomes."""

    def __init__(self, items=(), home: tuple[str, ...] = (), name: str = "",
                 shape: tuple[int, ...] = ()):
        super().__init__(items)
        self.pads: dict[Ref, tuple[int, int]] = {}
        self.home, self.name, self.shape = home, name, shape


@dataclass(frozen=True)
class Padded:
    """A value zero-padded on channels, `front` before and `back` after (an option-A
    shortcut): only a sum can read it."""

    ref: Ref
    front: int
    back: int


@dataclass(frozen=True)
class Viewed:
    """A value seen with unit dimensions added or dropped (`view(b, c, 1, 1)`,
    `[:, :, None, None]`, `unsqueeze`, `expand_as`): a gate, read by a product as the
    value itself."""

    ref: Ref
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Permuted:
    """A (C, H, W) value in another layout (`x.permute(0, 2, 3, 1)`: channels last)."""

    ref: Ref
    perm: tuple[int, ...]      # of the whole tensor, batch first


@dataclass(frozen=True)
class Grouped:
    """A channel shuffle under way: (C, H, W) viewed as (groups, C/groups, H, W), with the
    two group axes swapped once `transpose(1, 2)` ran."""

    ref: Ref
    groups: int
    swapped: bool = False


@dataclass(frozen=True)
class Param:
    """A parameter the forward reads itself (`self.gamma`), maybe reshaped."""

    path: str
    tensor: Any


class Batch:
    """The batch size (`x.size(0)`): left open by the spec, so only a reshape may read it."""

    def __repr__(self) -> str:
        return "<batch size>"


BATCH = Batch()
