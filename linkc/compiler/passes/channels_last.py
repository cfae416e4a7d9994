"""channels_last: parameters and the input in NHWC memory order.

oneDNN on CPU and cuDNN on tensor cores run convolutions natively in NHWC, so
keeping activations channels-last end to end saves the layout conversions each
convolution would otherwise do. The pass converts the 4-D parameters and adds one
`contiguous(memory_format=torch.channels_last)` after each image input; every op keeps
the memory format of its input from there on. Not bit-identical: the NHWC kernels sum
in another order (passes.table states the bound).
"""

from __future__ import annotations

import torch
from torch import fx

from ..fxutil import node_shape


def channels_last(gm: fx.GraphModule) -> fx.GraphModule:
    """Parameters and the image input in channels_last (NHWC) memory format.

    On by default in both modes: the largest single speed-up measured on the 2-core
    CPU (ResNet-110 inference, interleaved A/B: 1.41x; the issue's first look: 1.4x on
    the hand-written DenseNet; see benchmarks/RESULTS.md).
    """
    images = [n for n in gm.graph.nodes if n.op == "placeholder"
              and len(node_shape(n)) == 3]
    if not images:
        return gm  # no image input: nothing to convert
    if any(u.op == "call_method" and u.target == "contiguous" for x in images for u in x.users):
        return gm  # already converted
    gm.to(memory_format=torch.channels_last)
    body = next(n for n in gm.graph.nodes if n.op != "placeholder")  # placeholders stay first
    for x in images:
        with gm.graph.inserting_before(body):
            y = gm.graph.call_method("contiguous", (x,), {"memory_format": torch.channels_last})
        x.replace_all_uses_with(y, delete_user_cb=lambda user, y=y: user is not y)
        y.meta["linkc"] = dict(x.meta["linkc"], what="channels_last")
    gm.recompile()
    return gm
