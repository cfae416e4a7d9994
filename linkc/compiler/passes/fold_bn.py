"""fold_bn: Conv2d followed by BatchNorm2d -> one Conv2d with a bias (inference).

In eval mode a BatchNorm is the affine map y = (x - mean) / sqrt(var + eps) * gamma
+ beta per channel, so it folds into the convolution before it:
W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps). The fold is
only valid when nothing else reads the convolution's output (DenseNet's stem feeds
both a BN and the block's concatenation, so it is left alone) and only at
inference: in training BN normalises with the batch's statistics. Both modules must
be exactly nn.Conv2d and nn.BatchNorm2d (match.module_call): a subclass, such as a
plugin's weight-standardised convolution, computes something the fold knows nothing
about.

Not bit-identical: the folded weights round differently (passes.table states the bound).
"""

from __future__ import annotations

import copy

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from ..fxutil import put_module
from .match import module_call


def fold_bn(gm: fx.GraphModule) -> fx.GraphModule:
    """Inference: conv -> BN becomes one conv with a bias (when only the BN reads the conv).

    On by default for inference: it removes one full pass over every folded
    feature map (ResNet-110 inference on the 2-core CPU, interleaved A/B: 1.21x;
    see benchmarks/RESULTS.md).
    """
    modules = dict(gm.named_modules())
    for bn_node in list(gm.graph.nodes):
        bn = module_call(bn_node, modules, nn.BatchNorm2d)
        if bn is None:
            continue
        conv_node = bn_node.args[0]
        conv = module_call(conv_node, modules, nn.Conv2d, one_user=True)
        if conv is None:
            continue
        if not bn.track_running_stats or bn.running_mean is None:
            continue  # a BN without running statistics normalises per batch even in eval
        fused = copy.deepcopy(conv)
        with torch.no_grad():
            fused.weight, fused.bias = fuse_conv_bn_weights(
                conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                bn.weight, bn.bias)
        put_module(gm, conv_node.target, fused)
        modules[conv_node.target] = fused  # a second BN after this one folds into `fused`
        bn_node.replace_all_uses_with(conv_node)
        gm.graph.erase_node(bn_node)
        gm.delete_submodule(bn_node.target)
    gm.eval()  # the folded module is only valid for inference
    gm.recompile()
    return gm
