"""dense_buffer: a dense block's concatenations -> views of one buffer.

A dense block lowers to a growing family of concatenations that each re-read all
earlier features: cat(x, h0), cat(x, h0, h1), ... - quadratic copying in depth.
Such a family of `functional.concat` calls (the buffer implements exactly that
function; every concatenation's inputs a prefix of the longest one's)
becomes one buffer per block: `dense_start` allocates it and copies the block
input in, each `dense_append` copies one layer's output in (once) and returns a
channel-prefix view, and every former concatenation reads its view. Gradients
are those of torch.cat (functional._DenseAppend); in training the BN layers save
views of the one buffer instead of their own copies, so the concatenations no
longer cost quadratic memory either.

The values in the buffer are the concatenations' bit for bit, but its views have the
buffer's strides, and BatchNorm takes another kernel for such an input than for a
contiguous one, which rounds differently: not bit-identical (passes.table states the
bound).

Half of the `merge_nary` pair (with merge_chains). On by default for inference only:
it removes the quadratic copying (DenseNet-BC-100 inference, interleaved A/B: 1.37x).
In training it also removes the quadratic memory of the saved concatenations
(DenseNet-BC-100, batch 32: peak 0.74x of the naive step) but makes the step slower on
the 2-core CPU (1.07x; the backward through the buffer views), so training asks for it
explicitly (`linkc train --passes merge_nary`, or `train: {passes: [merge_nary]}` in
the spec) when memory is the constraint; benchmarks/RESULTS.md has the measurements.
"""

from __future__ import annotations

from itertools import pairwise

from torch import fx

from .. import functional
from ..fxutil import node_shape


def dense_buffer(gm: fx.GraphModule) -> fx.GraphModule:
    """Dense concatenations (each a prefix of the next) -> views of one buffer per block."""
    graph = gm.graph
    buffers = 0
    for family in _dense_families(graph):
        # taken again for each family: a block that reads the one before reads its view
        position = {n: i for i, n in enumerate(graph.nodes)}
        sources = list(family[-1].args)
        if len(set(sources)) != len(sources) or any(
                position[a] >= position[b] for a, b in pairwise(sources)):
            continue  # each view is written right after its newest source is computed
        _buffer(graph, family, sources)
        buffers += 1
    if buffers:  # regenerating the code of a large graph is the pass's main cost
        gm.recompile()
    return gm


def _is_concat(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target is functional.concat and not node.kwargs


def _dense_families(graph: fx.Graph) -> list[list[fx.Node]]:
    """Concatenations grouped so that each one's inputs are a prefix of the last one's."""
    cats = [n for n in graph.nodes if _is_concat(n) and len(n.args) >= 2
            and all(len(node_shape(a)) == 3 for a in n.args)]
    taken: set[fx.Node] = set()
    families = []
    for longest in sorted(cats, key=lambda n: -len(n.args)):
        if longest in taken:
            continue
        family = [c for c in cats if c not in taken and len(c.args) <= len(longest.args)
                  and c.args == longest.args[:len(c.args)]]
        if len(family) >= 2:
            families.append(sorted(family, key=lambda n: len(n.args)))
            taken.update(family)
    return families


def _buffer(graph: fx.Graph, family: list[fx.Node], sources: list[fx.Node]) -> None:
    """One buffer for `family`: start it after the first source, append after each
    later one, and let each concatenation's view replace it."""
    by_arity = {len(c.args): c for c in family}
    shapes = [node_shape(s) for s in sources]
    capacity = sum(s[0] for s in shapes)
    with graph.inserting_after(sources[0]):
        view = graph.call_function(functional.dense_start, (sources[0], capacity))
    view.meta["linkc"] = dict(family[-1].meta["linkc"], what="dense_buffer", shape=shapes[0])
    channels = shapes[0][0]
    for k in range(1, len(sources)):
        channels += shapes[k][0]
        with graph.inserting_after(sources[k]):
            view = graph.call_function(functional.dense_append, (view, sources[k]))
        old = by_arity.get(k + 1)
        if old is not None:
            view.meta["linkc"] = dict(old.meta["linkc"])
            old.replace_all_uses_with(view)
            graph.erase_node(old)
        else:
            view.meta["linkc"] = dict(family[-1].meta["linkc"], what="dense_buffer",
                                      shape=(channels, *shapes[k][1:]))
