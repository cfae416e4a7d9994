"""dense_chain: each dense concatenation reads the previous one instead of every feature.

A dense block lowers to concatenations that each list all earlier features:
cat(x, h0), cat(x, h0, h1), ... The k-th one can equally be written
cat(cat(x, h0, ..., h(k-1)), hk): the shorter concatenation is computed anyway, as the
previous layer's input, and the channels come out in the same order, so the values
are identical (a concatenation only copies). The bytes copied are the same; how they
are copied is not. With channels_last activations a concatenation along channels
copies, per pixel, one run of each input's channels: k short runs for an n-ary one,
two for the chain (the previous concatenation's, then the new feature's). In the
backward each earlier feature's gradient arrives through the chain instead of as one
slice per reader. Under torch.compile, inductor folds a concatenation of at most eight
inputs into the kernels that read it and materialises a longer one (DenseNet-BC-100
has up to 17); the two-input chain, the hand-written DenseNet's own form, fuses.

A training default, exact and making no new weights (DenseNet-BC-100, batch 32, eager
training step, interleaved: 1.12-1.14x at the same peak memory; compiled: 3-9%;
benchmarks/RESULTS.md). In inference merge_nary's buffer does the same job and runs
first, and after checkpoint_dense each layer's concatenation is recomputed inside its
checkpoint from the features, which a chain would have to keep: this pass comes after
both (passes.table) and finds nothing they have taken over.
"""

from __future__ import annotations

from torch import fx

from .. import functional


def dense_chain(gm: fx.GraphModule) -> fx.GraphModule:
    """Both modes: each dense concatenation reads the previous one (cat(prev, new))."""
    position = {n: i for i, n in enumerate(gm.graph.nodes)}
    cats = [n for n in gm.graph.nodes if n.op == "call_function"
            and n.target is functional.concat and not n.kwargs and len(n.args) >= 2]
    by_inputs = {n.args: n for n in cats}
    for node in cats:
        # the longest earlier concatenation of a proper prefix of this one's inputs
        for cut in range(len(node.args) - 1, 1, -1):
            prefix = by_inputs.get(node.args[:cut])
            if prefix is not None and position[prefix] < position[node]:
                node.args = (prefix, *node.args[cut:])
                break
    gm.recompile()
    return gm
