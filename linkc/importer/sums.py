"""A linear combination read by something: the merge it becomes.

Weights all 1 are `add`, all 1/n `mean`, anything else `wsum` (one input scaled by a
constant is a `wsum` of one). Terms zero-padded after their channels only are an
`add` (or mean, wsum) with `pad: zeros`, as PyramidNet's shortcut. Zeros before a
term's channels (the option-A shortcut `F.pad(x, (0, 0, 0, 0, p, p))`) have no pad
word: the sum is cut at every edge of a padded term into channel ranges, each range
the merge of the terms that cover it (sliced), and the ranges concatenated. Adding
zeros changes no value, so this is the same sum, exactly.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from torch import fx

from .nodes import LinComb, Ref, Value

# the reader (calls.Builder) is passed in: it imports these modules, not the reverse
Builder = Any

__all__ = ["combine"]


def _sub(r: Ref, start: int, stop: int) -> Ref:
    offset = r.slice[0] if r.slice else 0
    if r.slice is None and (start, stop) == (0, r.value.shape[0]):
        return r
    return Ref(r.value, r.weight, (offset + start, offset + stop))


def _merge(terms: list[tuple[Ref, float]], shape: tuple, name: str, home: tuple,
           pad: bool) -> Value | Ref:
    n = len(terms)
    weights = [w for _, w in terms]
    if n == 1 and weights[0] == 1.0 and not pad:
        return terms[0][0]
    if n > 1 and all(w == 1.0 for w in weights):
        kind = "add"
    elif n > 1 and all(abs(w - 1.0 / n) < 1e-12 for w in weights):
        kind = "mean"
    else:
        kind = "wsum"
    refs = tuple(Ref(r.value, w if kind == "wsum" else 1.0, r.slice) for r, w in terms)
    return Value("merge", shape, name, home, refs, merge=kind,
                 args={"pad": "zeros"} if pad else {})


def combine(builder: Builder, node: fx.Node, comb: LinComb) -> Value:
    shape = comb.shape or (max(r.channels for r in comb), *next(iter(comb)).shape[1:])
    if not comb:
        raise builder.fail(node, "a sum whose terms cancel", "it is zero everywhere, which "
                           "no merge computes")
    if all(front == 0 for front, _ in comb.pads.values()):
        out = _merge(list(comb.items()), shape, comb.name, comb.home, bool(comb.pads))
        return out if isinstance(out, Value) else builder.value(node, out)
    width = shape[0]
    edges = {0, width}
    for r, (front, _) in comb.pads.items():
        edges |= {front, front + r.channels}
    edges = sorted(e for e in edges if 0 <= e <= width)
    pieces: list[Ref] = []
    for k, (start, stop) in enumerate(pairwise(edges)):
        terms = []
        for r, w in comb.items():
            front = comb.pads.get(r, (0, 0))[0]
            lo, hi = front, front + r.channels
            if lo <= start and stop <= hi:
                terms.append((_sub(Ref(r.value, 1.0, r.slice), start - lo, stop - lo), w))
        if not terms:
            raise builder.fail(node, "a sum with a channel range no term covers",
                               "that range would be zeros, which no merge computes")
        piece = _merge(terms, (stop - start, *shape[1:]), f"{comb.name}_{k}", comb.home,
                       False)
        pieces.append(piece if isinstance(piece, Ref) else Ref(piece))
    return Value("merge", shape, comb.name, comb.home, tuple(pieces), merge="concat")
