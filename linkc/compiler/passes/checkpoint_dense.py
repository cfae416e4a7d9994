"""checkpoint_dense: recompute a dense layer's concat+BN+ReLU+1x1 conv in backward (training).

A naive DenseNet keeps, per layer, its concatenated input and the BN and ReLU
outputs over all earlier features for the backward pass: memory quadratic in the
block's depth. This pass replaces each `concat (or dense-buffer view) -> BN ->
ReLU -> 1x1 conv` by one `DenseBottleneck` module (linkc/compiler/modules.py)
that runs under torch.utils.checkpoint (use_reentrant=False), so only the layer's
inputs - which the block keeps anyway - and the 1x1 conv's small output are saved;
the rest is recomputed in backward (Pleiss et al., "Memory-efficient implementation
of DenseNets"). Run after merge_nary the inputs are views of one shared buffer and
memory grows linearly with depth. Bit-identical: the recompute runs the same kernels on
the same tensors, forward and backward.
"""

from __future__ import annotations

from torch import fx, nn

from .. import functional
from ..fxutil import put_module
from ..modules import DenseBottleneck
from .match import module_call, only_user

_DENSE = (functional.concat, functional.dense_start, functional.dense_append)


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
    """BN(dense input) -> ReLU -> 1x1 conv, each exactly the torch class and read only by
    the next; else None."""
    bn = module_call(bn_node, modules, nn.BatchNorm2d, one_user=True)
    if bn is None or not (bn.affine and bn.track_running_stats):
        return None
    source = bn_node.args[0]
    if not (source.op == "call_function" and source.target in _DENSE):
        return None
    relu_node = only_user(bn_node)
    if module_call(relu_node, modules, nn.ReLU, one_user=True) is None:
        return None
    conv_node = only_user(relu_node)
    conv = module_call(conv_node, modules, nn.Conv2d)
    if conv is None or conv.groups != 1 or conv.dilation != (1, 1) \
            or conv.kernel_size != (1, 1) or conv.padding_mode != "zeros":
        return None
    return source, relu_node, conv_node
