"""Compiler passes: each a plain function GraphModule -> GraphModule, one file each.

A pass registers itself with `@register("name", modes=...)`. `run_passes` runs the
chosen ones in order and checks the graph after each (`graph.lint()` and shape
re-inference against the shapes recorded at lowering), naming the pass that
broke it.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Sequence

from torch import fx

from ...topology.errors import did_you_mean
from ..fxsource import track_source
from ..verify import check_graph_module


class PassError(Exception):
    """A pass failed or left a broken graph; the message names the pass."""


@dataclass(frozen=True)
class Pass:
    name: str
    fn: Callable[[fx.GraphModule], fx.GraphModule]
    modes: frozenset[str]  # the modes it is correct in: "train", "infer"
    default: frozenset[str]  # the modes it runs in by default
    doc: str


PASSES: dict[str, Pass] = {}


def register(name: str, modes: Sequence[str] = ("train", "infer"),
             default: Sequence[str] = ()):
    def wrap(fn):
        if name in PASSES:
            raise ValueError(f"pass '{name}' registered twice")
        PASSES[name] = Pass(name, fn, frozenset(modes), frozenset(default),
                            (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
        return fn
    return wrap


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


# The order defaults run in: graph-shrinking rewrites first, then the fusions that
# read the simplified graph, and memory layout last (it only touches tensors).
ORDER = ("drop_identity", "fold_bn", "merge_nary", "group_parallel", "checkpoint_dense",
         "channels_last")


def default_passes(mode: str) -> list[str]:
    _load_all()
    rank = {name: i for i, name in enumerate(ORDER)}
    chosen = [p.name for p in PASSES.values() if mode in p.default]
    return sorted(chosen, key=lambda name: rank.get(name, len(ORDER)))


def run_passes(gm: fx.GraphModule, names: Sequence[str], mode: str = "train",
               dump_after: str | None = None, dump=print) -> fx.GraphModule:
    _load_all()
    for name in names:
        if name not in PASSES:
            hint = did_you_mean(name, PASSES) or f"passes: {', '.join(sorted(PASSES)) or 'none'}"
            raise PassError(f"unknown pass '{name}' ({hint})")
        if mode not in PASSES[name].modes:
            raise PassError(f"pass '{name}' is not valid in {mode} mode "
                            f"(valid in: {', '.join(sorted(PASSES[name].modes))})")
    if dump_after is not None and dump_after not in names and dump_after != "lower":
        raise PassError(f"--dump-after {dump_after}: that pass is not in the pipeline "
                        f"({', '.join(['lower', *names])})")
    if dump_after == "lower":
        dump(gm.code)
    for name in names:
        try:
            gm = track_source(PASSES[name].fn(gm))  # each recompile's source is released
            check_graph_module(gm)
            track_source(gm)
        except PassError:
            raise
        except Exception as exc:  # a pass bug must name the pass
            raise PassError(f"pass '{name}' failed: {type(exc).__name__}: {exc}") from exc
        if dump_after == name:
            dump(gm.code)
    return gm
