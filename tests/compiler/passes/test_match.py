"""module_call: a call_module of exactly one class on one input, the one pattern the
passes match; a subclass is never a match."""

from __future__ import annotations

from torch import fx, nn

from linkc.compiler.passes.match import module_call, only_user


class StandardisedConv(nn.Conv2d):
    """A subclass that computes something else (weight standardisation)."""


def _graph(conv: nn.Module):
    root = nn.Module()
    root.conv, root.relu = conv, nn.ReLU()
    graph = fx.Graph()
    x = graph.placeholder("x")
    c = graph.call_module("conv", (x,))
    r1 = graph.call_module("relu", (c,))
    r2 = graph.call_module("relu", (x,), {"inplace": False})
    graph.output((r1, r2))
    gm = fx.GraphModule(root, graph)
    return gm, dict(gm.named_modules()), list(gm.graph.nodes)


def test_exact_class_one_input_no_kwargs():
    _, modules, (x, c, r1, r2, _) = _graph(nn.Conv2d(3, 3, 1))
    assert module_call(c, modules, nn.Conv2d) is modules["conv"]
    assert module_call(c, modules) is modules["conv"]  # any class
    assert module_call(c, modules, nn.ReLU) is None
    assert module_call(r2, modules, nn.ReLU) is None  # keyword arguments
    assert module_call(x, modules) is None  # not a module call
    assert module_call(None, modules) is None and module_call(3.0, modules) is None
    assert module_call(c, modules, nn.Conv2d, one_user=True) is modules["conv"]
    assert only_user(c) is r1 and only_user(x) is None  # x has two readers


def test_a_subclass_is_not_its_base():
    _, modules, (_, c, *_) = _graph(StandardisedConv(3, 3, 1))
    assert module_call(c, modules, nn.Conv2d) is None
    assert module_call(c, modules, StandardisedConv) is modules["conv"]


def test_no_pass_matches_module_classes_with_isinstance():
    from pathlib import Path
    import re
    from linkc.compiler import passes
    for path in Path(passes.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            for target in re.findall(r"isinstance\([^,]+,\s*([^)]+)\)", line):
                assert "nn." not in target and "Module" not in target, f"{path.name}: {line}"
