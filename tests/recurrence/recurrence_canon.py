"""Graphs compared up to naming: every node reduced to what it computes.

A node's signature is its merge, its ops (as `linkc check --expand` prints them)
and its inputs' signatures, sorted for the commutative merges (add, mean, wsum
with each input's weight) and in order for concat. Nodes that compute nothing
(no ops, one input of weight 1: block ports, a merge over one input) take their
input's signature, a wsum with all weights 1 is an add, and a wsum whose inputs all have weight 0 is zero, which a sum
then drops: the hand-written ResNet-s spec subtracts such a zero map where the
recurrence drops the vanished term W_0 X_{-1}.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from linkc.expand.flat_graph import INPUT, FlatGraph
from linkc.expand.as_text import op_text

ZERO = "zero"
_SORTED = {"add", "mean", "wsum"}


def _digest(parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def signatures(g: FlatGraph) -> tuple[Counter, str]:
    """(multiset of the signatures of the nodes that compute something, output's)."""
    sig: dict[str, str] = {INPUT: INPUT}
    kept: Counter = Counter()
    for node_id in g.order:
        node = g.nodes[node_id]
        merge = node.merge.name if node.merge is not None else None
        inputs = [(sig[x.src], x.weight, x.slice) for x in node.inputs]
        if merge in ("add", "wsum"):
            inputs = [x for x in inputs if x[0] != ZERO and x[1] != 0]
        ops = tuple(op_text(c) for c in node.ops)
        if not inputs:
            sig[node_id] = ZERO
            continue
        if merge == "wsum" and all(x[1] == 1 for x in inputs):
            merge = "add"  # a signed sum whose weights are all 1 is a sum
        if len(inputs) == 1 and inputs[0][1] == 1 and inputs[0][2] is None:
            merge = None
        if merge is None and not ops:
            sig[node_id] = inputs[0][0]
            continue
        widths = {s[0] for s in node.input_shapes}
        pad = node.pad if len(widths) > 1 else None
        ordered = sorted(inputs) if merge in _SORTED else inputs
        sig[node_id] = _digest((merge, pad, tuple(ordered), ops))
        kept[sig[node_id]] += 1
    return kept, sig[g.output]


def same_graph(a: FlatGraph, b: FlatGraph) -> bool:
    return signatures(a) == signatures(b)
