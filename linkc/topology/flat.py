"""The flat graph: what expansion produces and shape inference fills in.

A `FlatNode` is one `value = ops(merge(inputs))` with a dotted id that is also
its module path (`d1.3.h`). Shapes are filled in by `infer_shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Diagnostics, Loc, Source
from .merges import MergeDef
from .registry import Args, OpDef, RawArgs, Shape

INPUT = "input"


@dataclass
class OpCall:
    op: OpDef
    raw: RawArgs
    loc: Loc | None
    name: str  # module name inside its node, e.g. "conv1"
    args: Args | None = None  # bound by shape inference
    in_shape: Shape | None = None
    out_shape: Shape | None = None


@dataclass
class FlatInput:
    src: str  # flat id of the producing node (or INPUT)
    label: str  # the reference as written
    loc: Loc | None
    scope: Any  # the Scope the reference was written in (slice bounds evaluate there)
    weight_raw: Any = 1
    slice_raw: tuple[Any, Any] | None = None
    weight: float = 1.0  # evaluated by shape inference
    slice: tuple[int, int] | None = None
    optional: bool = False  # dropped when its node does not exist (`if:` false)
    fallback: "FlatInput | None" = None  # `else:`, used when its node does not exist


@dataclass
class FlatNode:
    id: str
    inputs: list[FlatInput]
    merge: MergeDef | None
    pad: str | None
    ops: list[OpCall]
    scope: Any
    loc: Loc | None
    kind: str = "node"  # "node", "port" (a block's merged input), "dense" (a dense repeat's value)
    doc: str | None = None
    conditions: tuple = ()  # `if:` of this node and of the nodes it was expanded from
    absent: bool = False  # set by shape inference when a condition is false
    input_shapes: list[Shape] = field(default_factory=list)  # after slicing
    merged_shape: Shape | None = None
    shape: Shape | None = None

    @property
    def cluster(self) -> tuple[str, ...]:
        """Enclosing block instances and repeats, outermost first: for 'd1.3.h' that is
        ('d1', 'd1.3')."""
        parts = self.id.split(".")
        return tuple(".".join(parts[: k + 1]) for k in range(len(parts) - 1))

    def effective_merge(self) -> MergeDef | None:
        """The merge that really runs: a merge over one input is that input, unless it
        scales it (a wsum reference with a weight other than 1)."""
        if len(self.inputs) > 1:
            return self.merge
        if self.merge is not None and self.merge.weighted and self.inputs and \
                self.inputs[0].weight != 1:
            return self.merge
        return None


@dataclass
class FlatGraph:
    name: str
    source: Source
    input_shape: Shape
    nodes: dict[str, FlatNode]
    output: str
    output_loc: Loc | None
    params: dict[str, Any]
    order: list[str] = field(default_factory=list)  # topological, filled by check_graph
    scope: Any = None  # the top-level Scope (expressions in args evaluate through it)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    train: dict[str, Any] | None = None
    paper: dict[str, Any] | None = None
    input_loc: Loc | None = None  # where `input:` is written
    recurrences: dict[str, Any] = field(default_factory=dict)  # node id -> RecurrenceInfo
    # learnable parameters by the registry's `params` rules, summed by infer_shapes
    # (what lowering allocates; tests/analyze checks it against torch for the zoo)
    param_count: int = 0

    def shape_of(self, node_id: str) -> Shape | None:
        return self.input_shape if node_id == INPUT else self.nodes[node_id].shape
