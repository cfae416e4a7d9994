"""Flat graph -> torch.fx GraphModule -> passes -> artifacts."""

from __future__ import annotations

from typing import Sequence

from torch import fx

from ..expand.flat_graph import FlatGraph
from .lower import lower
from .passes import run_passes, verify_requested

__all__ = ["compile_graph", "lower", "run_passes"]


def compile_graph(g: FlatGraph, passes: Sequence[str] = (), mode: str = "train",
                  dump_after: str | None = None, dump=print,
                  verify: bool | None = None) -> fx.GraphModule:
    """Lower a checked graph and run the named passes in order; `verify` (default: the
    LINKC_VERIFY_PASSES environment variable) checks each pass by value."""
    gm = lower(g)
    verify = verify_requested() if verify is None else verify
    return run_passes(gm, passes, mode=mode, dump_after=dump_after, dump=dump, verify=verify)
