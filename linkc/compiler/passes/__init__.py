"""Compiler passes: each a plain function GraphModule -> GraphModule, one file each.

A pass registers itself with `@register("name", modes=...)`. `run_passes` runs the
chosen ones in order and checks the graph after each (`graph.lint()` and shape
re-inference against the shapes recorded at lowering, linkc/compiler/verify.py),
naming the pass that broke it and, where the failure is about one node, that
node's spec position (file:line:col, the YAML line, a caret), as a SpecError does.

Whose fault a failure is decides how it is reported. A pipeline the user asked for
that cannot run (an unknown pass, a pass of the other mode) and a node computing a
plugin's op or merge that fails or disagrees with its shape rule (the plugin's
module, shape rule or traits are wrong) are `PassError`s: exit 2. Anything else is
a bug in a linkc pass (`PassFailure`): an internal error, still at the node's
position.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Sequence

from torch import fx

from ...errors import did_you_mean, UserError
from ..fxsource import track_source
from ..fxutil import NodeError, at_node, describe_node, plugin_origin
from ..verify import check_graph_module


class PassError(UserError):
    """A pass pipeline that cannot run through the user's input (exit 2); the
    message names the pass and, where a node is at fault, its spec position."""


class PassFailure(Exception):
    """A linkc pass failed or left a broken graph: a bug in the pass, not in the
    spec; the message names the pass and, where it can, the node's spec position."""


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
# read the simplified graph, then memory layout (it only touches tensors), and the
# in-place merges after everything: they depend on each tensor's final readers.
# dense_chain comes after the two passes that own dense concatenations (merge_nary
# makes them one buffer, checkpoint_dense moves each into its layer's recompute) and
# so only rewrites those they left as they were.
ORDER = ("drop_identity", "fold_bn", "pool_first", "merge_nary", "group_parallel",
         "checkpoint_dense", "dense_chain", "channels_last", "inplace_merge")


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
        gm = _run_one(name, gm)
        if dump_after == name:
            dump(gm.code)
    return gm


def _run_one(name: str, gm: fx.GraphModule) -> fx.GraphModule:
    """Pass `name` on gm, then the check; a failure names the pass (and the node)."""
    try:
        gm = track_source(PASSES[name].fn(gm))  # each recompile's source is released
    except (PassError, MemoryError):
        raise
    except NodeError as exc:
        raise PassFailure(at_node(exc.node, f"pass '{name}' failed on "
                                            f"{describe_node(exc.node)}: {exc.message}")) from exc
    except Exception as exc:  # a pass bug must name the pass
        raise PassFailure(f"pass '{name}' failed: {type(exc).__name__}: {exc}") from exc
    try:
        check_graph_module(gm)
    except MemoryError:
        raise
    except NodeError as exc:
        raise _broken_node(name, exc) from exc
    except Exception as exc:
        raise PassFailure(f"the graph after pass '{name}' does not check: "
                          f"{type(exc).__name__}: {exc}") from exc
    return track_source(gm)


def _broken_node(name: str, exc: NodeError) -> Exception:
    """The error for the check after pass `name` failing at one node, at its spec
    position: the plugin's when the node computes a plugin's op or merge (its inputs
    were right, the check goes in graph order), else the pass's."""
    origin = plugin_origin(exc.node)
    if origin is None:
        return PassFailure(at_node(exc.node, f"after pass '{name}': {exc.message}"))
    return PassError(at_node(exc.node, f"{exc.message} (checking the graph after pass '{name}')",
                             f"the op or merge here comes from {origin.name}, whose module, "
                             "shape rule or traits disagree; fix it there, or run without it "
                             "(--no-plugins)"))
