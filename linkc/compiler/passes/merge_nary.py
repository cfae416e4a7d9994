"""merge_nary: binary merge chains -> one n-ary merge; dense concatenations -> one buffer.

1. `add(add(a, b), c)` -> `add(a, b, c)` for every merge its registry entry calls
   `associative` (add, concat, and plugins' merges that say so), when the inner
   merge has no other reader. The n-ary functions combine in the same order, so the
   result is bit-identical; the gain is fewer temporaries.
2. A dense block lowers to a growing family of concatenations that each re-read all
   earlier features: cat(x, h0), cat(x, h0, h1), ... - quadratic copying in depth.
   Such a family of `functional.concat` calls (the buffer implements exactly that
   function; every concatenation's inputs a prefix of the longest one's)
   becomes one buffer per block: `dense_start` allocates it and copies the block
   input in, each `dense_append` copies one layer's output in (once) and returns a
   channel-prefix view, and every former concatenation reads its view. Gradients
   are those of torch.cat (functional._DenseAppend), so training is exact; in
   training the BN layers save views of the one buffer instead of their own copies,
   so the concatenations no longer cost quadratic memory either.

On by default for inference only: it removes the quadratic copying (DenseNet-BC-100
inference, interleaved A/B: 1.37x). In training it also removes the quadratic memory
of the saved concatenations (DenseNet-BC-100, batch 32: peak 0.74x of the naive
step) but makes the step slower on the 2-core CPU (1.07x; the backward through the
buffer views), so training asks for it explicitly (`linkc train --passes merge_nary`, or
`train: {passes: [merge_nary]}` in the spec) when memory is the constraint; benchmarks/RESULTS.md has the measurements.
"""

from __future__ import annotations

from torch import fx

from .. import functional
from ..fxutil import node_merge, node_shape
from ..lower import resolve_target
from . import register


@register("merge_nary", modes=("train", "infer"), default=("infer",))
def merge_nary(gm: fx.GraphModule) -> fx.GraphModule:
    """Chains of binary add/concat -> one n-ary merge; dense concatenations -> one buffer."""
    _flatten_chains(gm.graph)
    _dense_buffers(gm.graph)
    gm.recompile()
    return gm


def _is_merge(node: fx.Node, fn) -> bool:
    return node.op == "call_function" and node.target is fn and not node.kwargs


def _flat_merge(node) -> bool:
    """A call of the plain n-ary function of a merge whose entry is `associative`."""
    merge = node_merge(node)
    return (merge is not None and merge.associative and _is_merge(node, node.target)
            and node.target is resolve_target(merge.lowering.target))


def _flatten_chains(graph: fx.Graph) -> None:
    for node in list(graph.nodes):  # topological: inner merges are flattened first
        if not _flat_merge(node):
            continue
        args = []
        for arg in node.args:
            if (_flat_merge(arg) and node_merge(arg) is node_merge(node)
                    and arg.target is node.target and len(arg.users) == 1):
                args.extend(arg.args)
            else:
                args.append(arg)
        if len(args) != len(node.args):
            inner = [a for a in node.args if isinstance(a, fx.Node) and a not in args]
            node.args = tuple(args)
            for dead in inner:
                graph.erase_node(dead)


def _dense_families(graph: fx.Graph) -> list[list[fx.Node]]:
    """Concatenations grouped so that each one's inputs are a prefix of the last one's."""
    cats = [n for n in graph.nodes if _is_merge(n, functional.concat) and len(n.args) >= 2
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


def _dense_buffers(graph: fx.Graph) -> None:
    position = {n: i for i, n in enumerate(graph.nodes)}
    for family in _dense_families(graph):
        sources = list(family[-1].args)
        if len(set(sources)) != len(sources) or any(
                position[a] >= position[b] for a, b in zip(sources, sources[1:])):
            continue  # each view is written right after its newest source is computed
        by_arity = {len(c.args): c for c in family}
        shapes = [node_shape(s) for s in sources]
        capacity = sum(s[0] for s in shapes)
        with graph.inserting_after(sources[0]):
            view = graph.call_function(functional.dense_start, (sources[0], capacity))
        view.meta["linkc"] = dict(family[-1].meta["linkc"], what="dense_buffer",
                                  shape=shapes[0])
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

