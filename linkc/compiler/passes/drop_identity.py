"""drop_identity: remove op calls that return their input unchanged.

A spec often writes an op whose arguments make it the identity in some instances:
ResNet's option-A shortcut is `maxpool(k=1, stride=s)`, a real subsampling where a
stage begins and a plain copy (stride 1) everywhere else; `identity` itself is an op.
Each of those still costs a kernel launch and a full copy of the feature map, which a
hand-written module would not pay. Which calls are the identity is the op's registry
row's to say (its `returns_input` rule, read with the call's arguments), so a
plugin's op is removed on the same terms. Such modules carry no state, so
`state_dict` keys are unchanged. Bit-identical: the removed call copied its input.
"""

from __future__ import annotations

from torch import fx

from ..fxutil import node_op, node_shape
from .match import module_call


def drop_identity(gm: fx.GraphModule) -> fx.GraphModule:
    """Both modes: identity ops (`identity`, 1x1 pools of stride 1) are removed.

    On by default: it can only remove work (ResNet-110 has 52 stride-1 shortcut pools).
    """
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if not _returns_input(node, modules):
            continue
        node.replace_all_uses_with(node.args[0])
        gm.graph.erase_node(node)
        gm.delete_submodule(node.target)
    gm.recompile()
    return gm


def _returns_input(node: fx.Node, modules) -> bool:
    """Whether node calls, on one input, an op whose row says it returns that input
    with the arguments the node was lowered with."""
    op = node_op(node)
    if op is None or op.returns_input is None or module_call(node, modules) is None:
        return False
    args = node.meta["linkc"].get("args")
    return args is not None and op.returns_input(node_shape(node.args[0]), args)
