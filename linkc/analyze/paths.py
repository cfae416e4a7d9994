"""Path statistics of the DAG from the input to the output, by dynamic programming.

A *path* is a sequence of flat-graph edges from the input to the output node (from
any input, for a spec with several; to the main output unless another is named);
every entry of a node's `from` list is its own edge (a merge-and-run block reads
the stem twice, once per stream, and so has two edges from it). The *length* of
a path is the number of weighted layers on it: ops that carry parameters and are
not normalisation, i.e. convolutions and linear layers. Identity shortcuts,
merges (even `dwsum`), BN, activations and pooling add 0. Projection shortcuts
are 1x1 convs and therefore count 1 (seed 003 leaves them out of its formulas;
its claims are checked on networks without width changes).

For every node we keep a polynomial: coefficient k is the number of paths of
length k from the input to that node. A node's polynomial is the sum of its
inputs' polynomials shifted by its own layer count. One pass over the
topological order, Python ints throughout (a DenseNet has astronomically many
paths); nothing is enumerated.

`signed` counts multiply each path by the fixed weights of `wsum` references
(the `-1` of ResNet-s): the net number of terms of each length in the expansion
of the network's linearisation, the quantity seed 002 counts (X_L = (1+W_L)X_{L-1}
- W_{L-1}X_{L-2} has one net path per length). Other merges weigh every edge 1.
A weight that is not an integer (`weight: 0.5`) makes the signed count of a length a
fraction, exact (the weight is read as the decimal it was written as); `as_dict`
writes such a count as the string "p/q".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..expand.flat_graph import FlatGraph, FlatNode


def layer_count(node: FlatNode) -> int:
    """Weighted layers (parameterised ops, not normalisations or per-channel scales) a
    node applies."""
    return sum(1 for c in node.ops if "params" in c.op.traits and
               not c.op.traits & {"norm", "affine"})


def _add_shifted(acc: list, poly: list, scale: int = 1) -> None:
    if len(acc) < len(poly):
        acc.extend([0] * (len(poly) - len(acc)))
    for k, c in enumerate(poly):
        if c:
            acc[k] += scale * c


def _signed_weight(node: FlatNode, k: int) -> int | Fraction:
    merge = node.effective_merge()
    if merge is None or not merge.weighted:
        return 1
    w = node.inputs[k].weight
    return int(w) if w == int(w) else Fraction(repr(float(w)))


def _exact(c: int | Fraction) -> int | Fraction:
    return int(c) if isinstance(c, Fraction) and c.denominator == 1 else c



def path_polynomials(g: FlatGraph, signed: bool = False,
                     output: str | None = None) -> list[int | Fraction]:
    """Coefficient k: paths of length k from the inputs to `output` (a flat id; default the
    main output), see the module doc."""
    polys: dict[str, list[int]] = {name: [1] for name in g.inputs}
    for node_id in g.order:
        node = g.nodes[node_id]
        acc: list[int] = []
        for k, inp in enumerate(node.inputs):
            _add_shifted(acc, polys[inp.src], _signed_weight(node, k) if signed else 1)
        shift = layer_count(node)
        polys[node_id] = [0] * shift + acc if shift else acc
    out = [_exact(c) for c in polys[output or g.output]]
    while len(out) > 1 and out[-1] == 0:
        out = out[:-1]
    return out


@dataclass(frozen=True)
class PathStats:
    counts: dict[int, int]  # length -> number of paths (nonzero only)
    signed: dict[int, int]  # length -> net signed number of paths (nonzero only)
    total: int
    mean: Fraction
    shortest: int
    longest: int

    def as_dict(self) -> dict:
        return {"definition": "length = weighted layers (conv, linear) on the path",
                "total": self.total, "mean": float(self.mean),
                "mean_exact": f"{self.mean.numerator}/{self.mean.denominator}",
                "shortest": self.shortest, "longest": self.longest,
                "counts": {str(k): v for k, v in self.counts.items()},
                "signed_counts": {str(k): v if isinstance(v, int) else str(v)  # "p/q"
                                  for k, v in self.signed.items()}}


def path_stats(g: FlatGraph, output: str | None = None) -> PathStats:
    poly = path_polynomials(g, output=output)
    counts = {k: c for k, c in enumerate(poly) if c}
    signed = {k: c for k, c in enumerate(path_polynomials(g, signed=True, output=output)) if c}
    total = sum(counts.values())
    mean = Fraction(sum(k * c for k, c in counts.items()), total)
    return PathStats(counts, signed, total, mean, min(counts), max(counts))
