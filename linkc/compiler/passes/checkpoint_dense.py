"""checkpoint_dense: recompute a dense layer's concat+BN+ReLU+1x1 conv in backward (training).

A naive DenseNet keeps, per layer, its concatenated input and the BN and ReLU
outputs over all earlier features for the backward pass: memory quadratic in the
block's depth. This pass replaces each `concat (or dense-buffer view) -> BN ->
ReLU -> 1x1 conv` by one `DenseBottleneck` module (linkc/compiler/modules.py)
that runs under torch.utils.checkpoint (use_reentrant=False), so only the layer's
inputs - which the block keeps anyway - and the 1x1 conv's small output are saved;
the rest is recomputed in backward (Pleiss et al., "Memory-efficient implementation
of DenseNets"). Run after merge_nary the inputs are views of one shared buffer and
memory grows linearly with depth.
"""

from __future__ import annotations

from torch import fx, nn

from .. import functional
from ..fxutil import put_module
from ..modules import DenseBottleneck
from . import register

_DENSE = (functional.concat, functional.dense_start, functional.dense_append)


@register("checkpoint_dense", modes=("train",), default=())
def checkpoint_dense(gm: fx.GraphModule) -> fx.GraphModule:
    """Training: recompute dense layers' concat+BN+ReLU+1x1 conv in backward (memory ~ depth).

    Off by default: it trades step time for memory (DenseNet-BC-100, batch 64, 2-core
    CPU: see benchmarks/RESULTS.md for the peak-memory and step-time ratios).
    """
    modules = dict(gm.named_modules())
    for bn_node in list(gm.graph.nodes):
        match = _match(bn_node, modules)
        if match is None:
            continue
        source, relu_node, conv_node = match
        bn, conv = modules[bn_node.target], modules[conv_node.target]
        fused = DenseBottleneck(bn.num_features, conv.out_channels, conv.kernel_size[0],
                                conv.stride[0], conv.padding[0], conv.bias is not None,
                                bn.eps, bn.momentum).to(conv.weight.device)
        # the originals' tensors themselves, not copies: a module that still holds bn and
        # conv (linkc train keeps the lowered module for its checkpoints) sees every update
        fused.bn_weight, fused.bn_bias, fused.conv_weight = bn.weight, bn.bias, conv.weight
        fused.running_mean, fused.running_var = bn.running_mean, bn.running_var
        fused.num_batches_tracked = bn.num_batches_tracked
        if conv.bias is not None:
            fused.conv_bias = conv.bias
        fused.train(bn.training)
        parent = bn_node.target.rpartition(".")[0]
        path = f"{parent}.bottleneck" if parent else "bottleneck"
        put_module(gm, path, fused)
        # a concatenation read only here moves inside the checkpoint: it is recomputed too
        inline = source.target is functional.concat and len(source.users) == 1
        with gm.graph.inserting_before(conv_node):
            out = gm.graph.call_module(path, tuple(source.args) if inline else (source,))
        out.meta["linkc"] = dict(conv_node.meta["linkc"], what="checkpoint_dense")
        conv_node.replace_all_uses_with(out)
        for dead in (conv_node, relu_node, bn_node, *([source] if inline else [])):
            gm.graph.erase_node(dead)
        for dead in (conv_node, relu_node, bn_node):
            gm.delete_submodule(dead.target)
    gm.recompile()
    return gm


def _match(bn_node: fx.Node, modules):
    """BN(dense input) -> ReLU -> conv, each read only by the next; else None."""
    if bn_node.op != "call_module" or type(modules.get(bn_node.target)) is not nn.BatchNorm2d:
        return None
    bn = modules[bn_node.target]
    if len(bn_node.args) != 1 or bn_node.kwargs:
        return None
    source = bn_node.args[0]
    if not (isinstance(source, fx.Node) and source.op == "call_function"
            and source.target in _DENSE):
        return None
    if not (bn.affine and bn.track_running_stats) or len(bn_node.users) != 1:
        return None
    relu_node = next(iter(bn_node.users))
    if relu_node.op != "call_module" or type(modules.get(relu_node.target)) is not nn.ReLU \
            or len(relu_node.users) != 1:
        return None
    conv_node = next(iter(relu_node.users))
    conv = modules.get(conv_node.target) if conv_node.op == "call_module" else None
    if type(conv) is not nn.Conv2d or conv.groups != 1 or conv.dilation != (1, 1) \
            or conv.kernel_size != (1, 1) or conv.padding_mode != "zeros" \
            or conv_node.args != (relu_node,):
        return None
    return source, relu_node, conv_node
