"""group_siblings and group_branches (the `group_parallel` pair): parallel convolutions
stacked into one.

1. group_siblings: convolutions with the same configuration reading the same tensor
   (an inception-style fan-out, the two branches of a merge-and-run block fed by
   one stem) become one convolution with the output channels stacked, and a split.
2. group_branches: k chains of identical single-input modules (Conv2d, BN, and
   the ops whose registry entry has the `elementwise` trait: relu, sigmoid, a
   plugin's activation, ...) on k different inputs of equal shape, with both inputs
   ready before either chain starts, become one chain on the concatenated input with
   grouped convolutions (groups multiplied by k) and BN over the stacked channels, then
   a split. This is the equivalence of seed 003 (merge-and-run): two residual
   branches side by side are one branch with 2-group convolutions. BN is per
   channel, so stacking is exact in real arithmetic in training too (batch statistics
   per channel).

Modules are matched by exact class (match.module_call): a subclass of Conv2d or
BatchNorm2d is never stacked. Both make new weights (the stacked tensors) and are not
bit-identical (a larger or grouped convolution takes other kernels): passes.table
states the bound. The fused modules are named after the first original
(`<path>_grouped`).

Off by default: the stacking costs a torch.cat of the streams (a copy) and its speed on
the 2-core CPU could not be measured reliably in the session that wrote it (shared,
overloaded machine; benchmarks/RESULTS.md); its expected value is fewer, larger kernels
on GPUs. Turn them on with --passes after measuring.
"""

from __future__ import annotations

import copy
import operator

import torch
from torch import fx, nn

from ..fxutil import node_op, node_shape, put_module
from .match import module_call, only_user


def group_siblings(gm: fx.GraphModule) -> fx.GraphModule:
    """Sibling convs on one input -> one conv with the outputs stacked, and a split."""
    _group_siblings(gm, dict(gm.named_modules()))
    gm.recompile()
    return gm


def group_branches(gm: fx.GraphModule) -> fx.GraphModule:
    """Equal chains of conv/BN/elementwise ops on k inputs -> one grouped chain, and a split."""
    _group_branches(gm, dict(gm.named_modules()))
    gm.recompile()
    return gm


def _conv(node: fx.Node, modules) -> nn.Conv2d | None:
    return module_call(node, modules, nn.Conv2d)


def _conv_key(conv: nn.Conv2d) -> tuple:
    return (conv.in_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
            conv.groups, conv.bias is not None, conv.padding_mode, conv.weight.dtype)


def _meta(node: fx.Node, like: fx.Node, channels: int, what: str) -> None:
    meta = like.meta["linkc"]
    node.meta["linkc"] = dict(meta, what=what, shape=(channels, *meta["shape"][1:]))


def _split(graph: fx.Graph, fused: fx.Node, ends: list[fx.Node], sizes: list[int]) -> None:
    """Replace each of `ends` by its slice of `fused`'s channels."""
    with graph.inserting_after(fused):
        split = graph.call_function(torch.split, (fused, sizes, 1))
    anchor = split
    for i, end in enumerate(ends):
        with graph.inserting_after(anchor):
            part = graph.call_function(operator.getitem, (split, i))
        part.meta["linkc"] = dict(end.meta["linkc"])
        end.replace_all_uses_with(part)
        anchor = part


def _install(gm: fx.GraphModule, path: str, module: nn.Module) -> str:
    put_module(gm, f"{path}_grouped", module)
    return f"{path}_grouped"


def _group_siblings(gm: fx.GraphModule, modules) -> None:
    graph = gm.graph
    position = {n: i for i, n in enumerate(graph.nodes)}  # new nodes are never sorted
    for source in list(graph.nodes):
        groups: dict[tuple, list[fx.Node]] = {}
        for user in source.users:
            conv = _conv(user, modules)
            if conv is not None and conv.groups == 1 and user.args[0] is source:
                groups.setdefault(_conv_key(conv), []).append(user)
        for nodes in groups.values():
            if len(nodes) < 2:
                continue
            nodes.sort(key=position.__getitem__)
            convs = [modules[n.target] for n in nodes]
            fused = copy.deepcopy(convs[0])
            fused.out_channels = sum(c.out_channels for c in convs)
            with torch.no_grad():
                fused.weight = nn.Parameter(torch.cat([c.weight for c in convs]))
                if fused.bias is not None:
                    fused.bias = nn.Parameter(torch.cat([c.bias for c in convs]))
            path = _install(gm, nodes[0].target, fused)
            with graph.inserting_before(nodes[0]):
                out = graph.call_module(path, (source,))
            _meta(out, nodes[0], fused.out_channels, "group_parallel:siblings")
            _split(graph, out, nodes, [c.out_channels for c in convs])
            for n in nodes:
                graph.erase_node(n)
                gm.delete_submodule(n.target)


def _stackable(a: nn.Module, b: nn.Module, elementwise: bool = False) -> bool:
    """Can `a` and `b` run as one module on their stacked channels? `elementwise`:
    both nodes compute ops with the registry's `elementwise` trait."""
    if type(a) is not type(b):
        return False
    if type(a) is nn.Conv2d:
        return _conv_key(a) == _conv_key(b) and a.out_channels == b.out_channels
    if type(a) is nn.BatchNorm2d:
        return (a.num_features, a.eps, a.momentum, a.affine, a.track_running_stats) == \
            (b.num_features, b.eps, b.momentum, b.affine, b.track_running_stats)
    # stateless elementwise modules only: anything with parameters or buffers may mix channels
    return elementwise and not list(a.parameters()) and not list(a.buffers()) \
        and repr(a) == repr(b)


def _elementwise(node: fx.Node) -> bool:
    op = node_op(node)
    return op is not None and "elementwise" in op.traits


def _stack(modules_: list[nn.Module]) -> nn.Module:
    first, k = modules_[0], len(modules_)
    fused = copy.deepcopy(first)
    with torch.no_grad():
        if type(first) is nn.Conv2d:
            fused.in_channels, fused.out_channels = first.in_channels * k, first.out_channels * k
            fused.groups = first.groups * k
            fused.weight = nn.Parameter(torch.cat([m.weight for m in modules_]))
            if first.bias is not None:
                fused.bias = nn.Parameter(torch.cat([m.bias for m in modules_]))
        elif type(first) is nn.BatchNorm2d:
            fused.num_features = first.num_features * k
            for name in ("weight", "bias"):
                if getattr(first, name) is not None:
                    setattr(fused, name, nn.Parameter(torch.cat([getattr(m, name) for m in modules_])))
            for name in ("running_mean", "running_var"):
                if getattr(first, name) is not None:
                    setattr(fused, name, torch.cat([getattr(m, name) for m in modules_]))
    return fused


def _chains(heads: list[fx.Node], modules) -> list[list[fx.Node]]:
    """Extend the k chains in lockstep while each link has one reader of a stackable kind."""
    chains = [[h] for h in heads]
    while True:
        users = [only_user(c[-1]) for c in chains]
        mods = [module_call(u, modules) for u in users]
        if any(m is None for m in mods) or len(set(users)) != len(users):
            return chains
        elementwise = all(_elementwise(u) for u in users)
        if not all(_stackable(mods[0], m, elementwise) for m in mods[1:]):
            return chains
        for c, u in zip(chains, users):
            c.append(u)


def _group_branches(gm: fx.GraphModule, modules) -> None:
    graph = gm.graph
    done: set[fx.Node] = set()
    # Positions are taken once. Nodes this pass creates are inserted before the head
    # being grouped, so they precede every later head: position -1 says just that.
    position = {n: i for i, n in enumerate(graph.nodes)}
    buckets: dict[tuple, list[fx.Node]] = {}  # candidate heads by what makes them stackable
    for node in graph.nodes:
        conv = _conv(node, modules)
        if conv is not None:
            key = (_conv_key(conv), conv.out_channels, node_shape(node.args[0]))
            buckets.setdefault(key, []).append(node)
    index = {n: (key, i) for key, nodes in buckets.items() for i, n in enumerate(nodes)}
    for head in list(graph.nodes):
        if head in done or head not in index:
            continue
        key, at = index[head]
        heads, inputs = [head], [head.args[0]]
        for other in buckets[key][at + 1:]:
            if (other not in done and other.args[0] not in inputs
                    and position.get(other.args[0], -1) < position[head]):
                heads.append(other)
                inputs.append(other.args[0])
        if len(heads) < 2:
            continue
        chains = _chains(heads, modules)
        done.update(n for c in chains for n in c)
        with graph.inserting_before(head):
            value = graph.call_function(torch.cat, (inputs, 1))
        _meta(value, inputs[0], sum(node_shape(i)[0] for i in inputs),
              "group_parallel:stack")
        for step in range(len(chains[0])):
            links = [c[step] for c in chains]
            fused = _stack([modules[n.target] for n in links])
            path = _install(gm, links[0].target, fused)
            with graph.inserting_before(head):
                value = graph.call_module(path, (value,))
            _meta(value, links[0], sum(node_shape(n)[0] for n in links),
                  "group_parallel:grouped")
        ends = [c[-1] for c in chains]
        _split(graph, value, ends, [node_shape(e)[0] for e in ends])
        for c in chains:
            for n in reversed(c):
                graph.erase_node(n)
                gm.delete_submodule(n.target)
