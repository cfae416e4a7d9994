"""The passes, one row each, in the order they run.

This table is the pipeline: `linkc compile`, `linkc train` and `linkc bench` read
which passes exist, in which modes each is correct, which run by default, and the
order they run in from it and from nowhere else. A new pass is a file in this folder
(a plain function GraphModule -> GraphModule, as torch.fx's passes are) and a row
here.

Why this order: graph-shrinking rewrites first, then the fusions that read the
simplified graph, then memory layout (it only touches tensors), and the in-place
merges after everything: they decide on each tensor's final readers. dense_chain
comes after the two passes that own dense concatenations (dense_buffer makes them one
buffer, checkpoint_dense moves each into its layer's recompute) and so only rewrites
those they left as they were.

What a pass keeps is part of its row, and the tests and `linkc compile --verify` hold
it to that (verify.check_values): `bound=None` is bit-identical, the outputs and the
training gradients equal (torch.equal) in the module's own precision. (The gradient of
a tensor several nodes read is a sum whose order autograd takes from the graph, so a
pass that removes a node may reorder it: those gradients may differ by a few ulps of
their largest element, verify.SUM_ORDER_ULPS, and by nothing more.) A number is a
pass that is equal in real arithmetic and only rounds differently (a folded weight,
another kernel's summation order): it is checked in float64, where rounding is far
below any change of meaning, and every output and gradient must be within that
relative error (the norm of the difference over the norm of the reference). In fp32
the same passes differ by about 1e-7 relative in the outputs; a wrong rewrite
differs by order 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import fx

from .channels_last import channels_last
from .checkpoint_dense import checkpoint_dense
from .dense_buffer import dense_buffer
from .dense_chain import dense_chain
from .drop_identity import drop_identity
from .fold_bn import fold_bn
from .group_parallel import group_branches, group_siblings
from .inplace_merge import inplace_merge
from .merge_chains import merge_chains
from .pool_first import pool_first

BOTH = frozenset({"train", "infer"})
TRAIN = frozenset({"train"})
INFER = frozenset({"infer"})
NONE = frozenset()

# float64 relative error a rounding-only pass keeps: rounding there is ~1e-16 per
# operation, amplified by at most ~1e5 through 100+ layers of batch-statistics BN
ROUNDING = 1e-9


@dataclass(frozen=True)
class Pass:
    name: str
    fn: Callable[[fx.GraphModule], fx.GraphModule]
    modes: frozenset[str]  # the modes it is correct in: "train", "infer"
    defaults: frozenset[str]  # the modes it runs in by default
    bound: float | None  # None: bit-identical; else the float64 relative error it keeps
    new_weights: bool = False  # its module holds tensors that are not the original's

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""

    @property
    def keeps(self) -> str:
        """What it keeps, as --list-passes says it."""
        return "exact" if self.bound is None else f"<={self.bound:g}"


PASSES: tuple[Pass, ...] = (
    Pass("drop_identity", drop_identity, BOTH, BOTH, None),
    Pass("fold_bn", fold_bn, INFER, INFER, ROUNDING, new_weights=True),
    Pass("pool_first", pool_first, BOTH, BOTH, ROUNDING),
    Pass("merge_chains", merge_chains, BOTH, INFER, None),
    Pass("dense_buffer", dense_buffer, BOTH, INFER, ROUNDING),
    Pass("group_siblings", group_siblings, BOTH, NONE, ROUNDING, new_weights=True),
    Pass("group_branches", group_branches, BOTH, NONE, ROUNDING, new_weights=True),
    Pass("checkpoint_dense", checkpoint_dense, TRAIN, NONE, None),
    Pass("dense_chain", dense_chain, BOTH, TRAIN, None),
    Pass("channels_last", channels_last, BOTH, BOTH, ROUNDING),
    Pass("inplace_merge", inplace_merge, INFER, NONE, None),
)

# Names that stand for several passes, run in the table's order: the two halves of
# what was one pass, so that `--passes` can pick either half.
PAIRS: dict[str, tuple[str, ...]] = {
    "merge_nary": ("merge_chains", "dense_buffer"),
    "group_parallel": ("group_siblings", "group_branches"),
}

BY_NAME: dict[str, Pass] = {p.name: p for p in PASSES}
RANK: dict[str, int] = {p.name: i for i, p in enumerate(PASSES)}
