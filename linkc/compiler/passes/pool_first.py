"""pool_first: a 1x1 convolution followed by average pooling -> the pooling first.

A 1x1 convolution (stride 1, no padding, any groups) maps every pixel by the same
affine map x -> Wx + b, and average pooling without padding or a divisor override
takes means over windows of pixels. An affine map commutes with a mean
(mean(Wx + b) = W mean(x) + b), so pool(conv(x)) = conv(pool(x)) in exact
arithmetic, in both modes and for the gradients too; in fp32 the two orders round
differently (relative differences around 1e-7).

Pooling first runs the convolution on the pooled pixels: a 2x2 pool leaves a
quarter of the multiply-adds (and of the convolution's backward), while the pool
itself now reads the convolution's input channels instead of its outputs. That is
the DenseNet transition (BN-ReLU-1x1 conv-2x2 average pool), MixNet's and every
spec that compresses channels before pooling: in DenseNet-BC-100 the two
transition convolutions are about 12% of the network's multiply-adds.

Run after fold_bn, which turns conv -> BN -> pool (inference) into conv -> pool.
Not bit-identical (the two orders round differently): passes.table states the bound.
"""

from __future__ import annotations

from torch import fx, nn

from ..fxutil import node_shape
from .match import module_call


def pool_first(gm: fx.GraphModule) -> fx.GraphModule:
    """1x1 conv -> average pool becomes pool -> 1x1 conv (the conv on fewer pixels).

    On by default in both modes (DenseNet-BC-100, interleaved A/B: see
    benchmarks/RESULTS.md).
    """
    modules = dict(gm.named_modules())
    for pool_node in list(gm.graph.nodes):
        conv_node = _conv_before(pool_node, modules)
        if conv_node is None:
            continue
        source = conv_node.args[0]
        with gm.graph.inserting_before(conv_node):
            pooled = gm.graph.call_module(pool_node.target, (source,))
        channels = node_shape(source)[0]
        pooled.meta["linkc"] = dict(pool_node.meta["linkc"],
                                    shape=(channels, *node_shape(pool_node)[1:]))
        conv_node.args = (pooled,)
        conv_node.meta["linkc"] = dict(conv_node.meta["linkc"], shape=node_shape(pool_node))
        pool_node.replace_all_uses_with(conv_node)
        gm.graph.erase_node(pool_node)
    gm.recompile()
    return gm


def _conv_before(pool_node: fx.Node, modules) -> fx.Node | None:
    """The 1x1 conv that only this average pool reads, when the two commute; else None."""
    pool = module_call(pool_node, modules, nn.AvgPool2d)
    # padding would average in zeros where the conv's bias is not zero; an override
    # divisor scales the bias by (window size / divisor)
    if pool is None or pool.padding not in (0, (0, 0)) or pool.divisor_override is not None:
        return None
    conv_node = pool_node.args[0]
    conv = module_call(conv_node, modules, nn.Conv2d, one_user=True)
    if conv is None or conv.kernel_size != (1, 1) or conv.stride != (1, 1) \
            or conv.padding not in ((0, 0), "valid", "same") \
            or len(node_shape(conv_node.args[0])) != 3:
        return None
    return conv_node
