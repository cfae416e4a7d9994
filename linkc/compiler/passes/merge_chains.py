"""merge_chains: a chain of binary merges -> one n-ary merge, bit for bit.

`add(add(a, b), c)` -> `add(a, b, c)` for every merge its registry entry calls
`associative` (add, concat, and plugins' merges that say so), when the inner merge
has no other reader. An associative merge's n-ary function combines its inputs left
to right, `f(a, b, c) = f(f(a, b), c)`, so the splice is bit-identical exactly when
the inner merge is the outer one's first input: `add(add(a, b), c)` is `(a + b) + c`
either way, while `add(c, add(a, b))` is `c + (a + b)`, which `add(c, a, b)` would
compute as `(c + a) + b`, a different rounding. Only first inputs are spliced. The gain
is fewer temporaries (one output tensor for the whole chain).

Half of the `merge_nary` pair (with dense_buffer).
"""

from __future__ import annotations

from torch import fx

from ..fxutil import node_merge
from ..lower import resolve_target


def merge_chains(gm: fx.GraphModule) -> fx.GraphModule:
    """Chains of a binary associative merge (add, concat) -> one n-ary call, bit for bit."""
    graph = gm.graph
    spliced = False
    for node in list(graph.nodes):  # topological: inner merges are flattened first
        inner = node.args[0] if _plain_merge(node) else None
        if not (_plain_merge(inner) and inner.target is node.target
                and node_merge(inner) is node_merge(node)
                and len(inner.users) == 1 and sum(a is inner for a in node.args) == 1):
            continue
        node.args = (*inner.args, *node.args[1:])
        graph.erase_node(inner)
        spliced = True
    if spliced:  # regenerating the code of a large graph is the pass's main cost
        gm.recompile()
    return gm


def _plain_merge(node) -> bool:
    """A call of the plain n-ary function of a merge whose entry is `associative`."""
    merge = node_merge(node)
    return (merge is not None and merge.associative and node.op == "call_function"
            and not node.kwargs and node.target is resolve_target(merge.lowering.target))
