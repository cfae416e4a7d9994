"""The check after every pass: fx lint, then shapes re-inferred by running the
graph once on a small real batch (far faster than fake tensors for these
graphs) and compared with the shapes recorded at lowering.

A failure names the fx node it is about (`NodeError`), so that `run_passes` can
report it at the node's spec position. Nodes are checked in graph order and the
first wrong one is reported: its inputs still had their inferred shapes, so it is
the node that computed the wrong one.
"""

from __future__ import annotations

import re

import torch
from torch import fx

from .fxutil import NodeError, describe_node
from .signature import example_inputs

_LINT_NODE = re.compile(r"Node '?([A-Za-z_][\w.]*)'?")


def check_graph_module(gm: fx.GraphModule) -> None:
    _lint(gm.graph)
    gm.recompile()
    param = next(gm.parameters(), None)
    xs = example_inputs(gm, 1, torch.zeros, device=param.device if param is not None else "cpu")
    was_training = gm.training
    gm.eval()  # eval: BatchNorm must not update running statistics here
    try:
        with torch.no_grad():
            _ShapeCheck(gm).run(*xs)
    finally:
        gm.train(was_training)


def _lint(graph: fx.Graph) -> None:
    try:
        graph.lint()
    except Exception as exc:  # fx names the node in its text (and appends the whole graph)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        found = _LINT_NODE.search(first)
        nodes = {n.name: n for n in graph.nodes}
        node = nodes.get(found.group(1)) if found else None
        if node is None:
            raise
        raise NodeError(node, f"the graph does not lint: {first}") from exc


class _ShapeCheck(fx.Interpreter):
    """Runs the graph and stops at the first node that fails or whose per-sample
    shape is not the one inferred."""

    def run_node(self, n: fx.Node):
        try:
            result = super().run_node(n)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it happened at n
            raise NodeError(n, f"{describe_node(n)} fails when run: "
                               f"{type(exc).__name__}: {_first_line(exc)}") from exc
        meta = n.meta.get("linkc")
        if meta is not None and isinstance(result, torch.Tensor):
            got = tuple(result.shape[1:])
            if got != tuple(meta["shape"]):
                raise NodeError(n, f"{describe_node(n)} has shape {list(got)}, but "
                                   f"{list(meta['shape'])} was inferred")
        return result


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
