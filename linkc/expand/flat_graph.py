"""The flat graph: what expansion produces and shape inference fills in.

A `FlatNode` is one `value = ops(merge(inputs))` with a dotted id that is also
its module path (`d1.3.h`). Shapes are filled in by `infer_shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostics, Loc, Source
from ..ops.merges import MergeDef
from ..ops.registry import Args, OpDef, Shape

INPUT = "input"



@dataclass
class RawArgs:
    """Op arguments as written, with the location of each value."""

    positional: list[tuple[Any, Loc | None]] = field(default_factory=list)
    keyword: dict[str, tuple[Any, Loc | None]] = field(default_factory=dict)
    keyword_locs: dict[str, Loc | None] = field(default_factory=dict)

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
    """The expanded graph. `inputs` maps each model input's name (its flat id: `input`
    for a spec with `input:`) to its shape, in the order the model takes them;
    `outputs` are the flat ids the model returns, in order, the first being the main
    one (`output`) that training evaluates."""

    name: str
    source: Source
    inputs: dict[str, Shape]
    nodes: dict[str, FlatNode]
    outputs: list[str]
    output_names: list[str]  # the outputs as written (`head`, `dmr.y1`)
    output_locs: list[Loc | None]
    param_values: dict[str, Any]  # the top-level params as set (spec, `--set`, a zoo row)
    order: list[str] = field(default_factory=list)  # topological, filled by check_graph
    scope: Any = None  # the top-level Scope (expressions in args evaluate through it)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    train: dict[str, Any] | None = None
    paper: dict[str, Any] | None = None
    recurrences: dict[str, Any] = field(default_factory=dict)  # node id -> RecurrenceInfo
    # learnable parameters by the registry's `params` rules, summed by infer_shapes
    # (what lowering allocates; tests/analyze checks it against torch for the zoo)
    param_count: int = 0
    input_locs: dict[str, Loc | None] = field(default_factory=dict)  # where each shape is written

    @property
    def input_shape(self) -> Shape:
        """The first input's shape (the only one, for a spec with `input:`)."""
        return next(iter(self.inputs.values()))

    @property
    def output(self) -> str:
        """The main output: the first of `outputs`."""
        return self.outputs[0]

    @property
    def output_loc(self) -> Loc | None:
        return self.output_locs[0]

    def interface(self) -> dict[str, Any]:
        """The inputs and outputs as a spec writes them: `input`/`output` for one,
        `inputs`/`outputs` for named or several (outputs as flat ids)."""
        one_input = list(self.inputs) == [INPUT]
        out: dict[str, Any] = {"input": list(self.input_shape)} if one_input else \
            {"inputs": {k: list(v) for k, v in self.inputs.items()}}
        out.update({"output": self.output} if len(self.outputs) == 1 else
                   {"outputs": list(self.outputs)})
        return out

    def is_input(self, node_id: str) -> bool:
        return node_id in self.inputs

    def shape_of(self, node_id: str) -> Shape | None:
        shape = self.inputs.get(node_id)
        return shape if shape is not None else self.nodes[node_id].shape

    def rule_params(self) -> int:
        """Learnable parameters of the nodes in the order by the registry's `params`
        rules: what lowering will allocate, known before any weight exists."""
        total = 0
        for node_id in self.order:
            node = self.nodes[node_id]
            merge = node.effective_merge()
            if merge is not None and merge.params:
                total += merge.count_params(node.input_shapes)
            total += sum(c.op.params(c.in_shape, c.args) for c in node.ops if c.op.params)
        return total
