"""drop_identity: remove modules that return their input unchanged.

A spec often writes an op whose arguments make it the identity in some instances:
ResNet's option-A shortcut is `maxpool(k=1, stride=s)`, a real subsampling where a
stage begins and a plain copy (stride 1) everywhere else; `identity` itself is an op.
Each of those still costs a kernel launch and a full copy of the feature map, which a
hand-written module would not pay. The modules carry no state, so `state_dict`
keys are unchanged.
"""

from __future__ import annotations

from torch import fx, nn

from . import register


def _is_identity(module: nn.Module) -> bool:
    if isinstance(module, nn.Identity):
        return True
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        one = (1, (1, 1))
        return (module.kernel_size in one and module.stride in one
                and module.padding in (0, (0, 0)) and not getattr(module, "ceil_mode", False))
    return False


@register("drop_identity", modes=("train", "infer"), default=("train", "infer"))
def drop_identity(gm: fx.GraphModule) -> fx.GraphModule:
    """Both modes: identity ops (`identity`, 1x1 pools of stride 1) are removed.

    On by default: it can only remove work (ResNet-110 has 52 stride-1 shortcut pools).
    """
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not _is_identity(modules[node.target]):
            continue
        if len(node.args) != 1 or node.kwargs or node.args[0] is None:
            continue
        node.replace_all_uses_with(node.args[0])
        gm.graph.erase_node(node)
        gm.delete_submodule(node.target)
    gm.recompile()
    return gm
