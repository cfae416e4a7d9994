"""Which ops of a graph fail to export: each kind of op exported on its own.

When a whole module fails to export, `export_module` probes every kind of op (the
first node of each) alone in a one-node module, so the error can name the ops that
cannot be exported and quote their lines in the spec.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import fx, nn

from ..fxutil import at_node

@dataclass(frozen=True)
class Format:
    """An artifact kind: `write(module, example inputs, path)`, and `load(path)` giving a
    function of the inputs that returns the tuple of outputs."""

    name: str
    suffix: str
    write: Callable[[nn.Module, tuple, Path], None]
    load: Callable[[Path], Callable[..., tuple]]


class _OneOp(nn.Module):
    """One node of a graph, alone, for probing which ops fail to export."""

    def __init__(self, gm: fx.GraphModule, node: fx.Node):
        super().__init__()
        self.node = node
        if node.op == "call_module":
            self.inner = gm.get_submodule(node.target)

    def forward(self, *xs):
        it = iter(xs)
        args = [next(it) if isinstance(a, fx.Node) else a for a in self.node.args]
        if self.node.op == "call_module":
            return self.inner(*args, **self.node.kwargs)
        return self.node.target(*args, **self.node.kwargs)


def _describe(gm: fx.GraphModule, node: fx.Node) -> str:
    info = node.meta.get("linkc", {})
    if node.op == "call_module":
        what = type(gm.get_submodule(node.target)).__name__
    else:
        what = getattr(node.target, "__name__", str(node.target))
    return f"{info.get('what', what)} ({what}) in node {info.get('id', node.name)}"


def failing_ops(gm: fx.GraphModule, fmt: Format, limit: int = 5) -> list[str]:
    """Export each kind of op on its own; describe those that fail (the first node of
    each kind), each at its spec position as a SpecError prints it."""
    failures, seen = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for node in gm.graph.nodes:
            if node.op not in ("call_module", "call_function"):
                continue
            kind = type(gm.get_submodule(node.target)) if node.op == "call_module" \
                else node.target
            inputs = [a for a in node.args if isinstance(a, fx.Node)]
            shapes = [a.meta.get("linkc", {}).get("shape") for a in inputs]
            if kind in seen or any(s is None for s in shapes):
                continue
            seen.add(kind)
            xs = tuple(torch.randn(2, *s) for s in shapes)
            probe = _OneOp(gm, node).eval()
            try:
                if fmt.name == "torchscript":
                    torch.jit.trace(probe, xs, check_trace=False)
                else:  # the torch.export step is where ONNX and .pt2 fail on an op
                    torch.export.export(probe, xs)
                    if fmt.name in ("onnx", "openvino"):  # the IR is read from ONNX
                        torch.onnx.export(probe, xs, os.path.join(tmp, "op.onnx"),
                                          dynamo=True, external_data=False, verbose=False)
            except Exception as exc:  # noqa: BLE001 - any failure names the op
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                failures.append(at_node(node, f"{_describe(gm, node)} does not export on "
                                              f"its own: {first[:200]}"))
                if len(failures) >= limit:
                    break
    return failures
