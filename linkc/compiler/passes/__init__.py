"""Compiler passes: each a plain function GraphModule -> GraphModule, one file each,
and one table (table.py) that lists them in the order they run.

`run_passes` runs the chosen ones in that list's order and checks the graph after
each (`graph.lint()` and shape re-inference against the shapes recorded at
lowering, linkc/compiler/verify.py), naming the pass that broke it and, where the
failure is about one node, that node's spec position (file:line:col, the YAML line,
a caret), as a SpecError does. With `verify` (`linkc compile --verify`, or
LINKC_VERIFY_PASSES=1 in the environment) it also runs the module before and after
each pass on one random batch and holds the pass to what its row says it keeps
(verify.check_values): a pass that changed values is reported at the first node
whose value changed.

Whose fault a failure is decides how it is reported. A pipeline the user asked for
that cannot run (an unknown pass, a pass of the other mode), a node computing a
plugin's op or merge that fails or disagrees with its shape rule (the plugin's
module, shape rule or traits are wrong) and a pass that changed values are
`PassError`s: exit 2. Anything else is a bug in a linkc pass (`PassFailure`): an
internal error, still at the node's position.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

from torch import fx

from ...errors import did_you_mean, UserError
from ..fxsource import track_source
from ..fxutil import NodeError, at_node, describe_node, plugin_origin
from ..verify import ValuesChanged, check_graph_module, check_values, probe_values
from .table import BY_NAME, PAIRS, PASSES, RANK, Pass

__all__ = ["PAIRS", "PASSES", "VERIFY_ENV", "Pass", "PassError", "PassFailure",
           "check_passes", "choices", "default_passes", "expand", "in_run_order", "run_passes",
           "verify_requested"]

VERIFY_ENV = "LINKC_VERIFY_PASSES"


class PassError(UserError):
    """A pass pipeline that cannot run through the user's input (exit 2); the
    message names the pass and, where a node is at fault, its spec position."""


class PassFailure(Exception):
    """A linkc pass failed or left a broken graph: a bug in the pass, not in the
    spec; the message names the pass and, where it can, the node's spec position."""


def verify_requested() -> bool:
    """Whether LINKC_VERIFY_PASSES asks every pipeline to check its passes by value."""
    return os.environ.get(VERIFY_ENV, "").strip().lower() not in ("", "0", "false", "no")


def default_passes(mode: str) -> list[str]:
    """The passes that run in `mode` when none are named, in run order; a pair whose
    halves both run by default under its own name (merge_nary), so that the graph is
    checked once after the two, as it was before they were split."""
    chosen = [p.name for p in PASSES if mode in p.defaults]
    for pair, halves in PAIRS.items():
        if all(half in chosen for half in halves):
            at = chosen.index(halves[0])
            chosen = [name for name in chosen if name not in halves]
            chosen.insert(at, pair)
    return chosen


def expand(names: Iterable[str]) -> list[str]:
    """Pass names with each pair name (merge_nary, group_parallel) replaced by its halves."""
    return [half for name in names for half in PAIRS.get(name, (name,))]


def in_run_order(names: Iterable[str]) -> list[str]:
    """`names` once each, in the table's order (a pair where its first half runs)."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda name: RANK[PAIRS.get(name, (name,))[0]])


def choices(mode: str, keep_weights: bool = False) -> list[str]:
    """The names (passes and pairs) valid in `mode`; with `keep_weights`, only those
    whose module holds the original's tensors (a training run writes them back)."""
    def fits(name: str) -> bool:
        rows = [BY_NAME[half] for half in expand([name])]
        return all(mode in p.modes and not (keep_weights and p.new_weights) for p in rows)
    return sorted(name for name in (*BY_NAME, *PAIRS) if fits(name))


def check_passes(names: Sequence[str], mode: str, keep_weights: bool = False) -> list[str]:
    """`names` as given, after checking that each is a pass or pair valid in `mode`
    (and, with `keep_weights`, makes no new weights); else a PassError naming it."""
    valid = choices(mode, keep_weights)
    for name in names:
        if name not in BY_NAME and name not in PAIRS:
            hint = did_you_mean(name, [*BY_NAME, *PAIRS]) or \
                f"the {mode}-mode passes: {', '.join(valid)}"
            raise PassError(f"unknown pass '{name}' ({hint})")
        rows = [BY_NAME[half] for half in expand([name])]
        modes = frozenset.intersection(*(p.modes for p in rows))
        if mode not in modes:
            raise PassError(f"pass '{name}' is not valid in {mode} mode (valid in: "
                            f"{', '.join(sorted(modes))}; the {mode}-mode passes: "
                            f"{', '.join(valid)})")
        if keep_weights and any(p.new_weights for p in rows):
            raise PassError(f"pass '{name}' makes new weights (it stacks or folds them), which "
                            "could not be written back to the spec's model; the passes that "
                            f"keep them: {', '.join(valid)}")
    return list(names)


def run_passes(gm: fx.GraphModule, names: Sequence[str], mode: str = "train",
               dump_after: str | None = None, dump=print,
               verify: bool | None = None) -> fx.GraphModule:
    """Run the passes `names` (pairs expanded) in the given order, checking the graph
    after each; `verify` (default: LINKC_VERIFY_PASSES) also checks each by value."""
    check_passes(names, mode)
    if dump_after is not None and dump_after not in names and dump_after != "lower":
        raise PassError(f"--dump-after {dump_after}: that pass is not in the pipeline "
                        f"({', '.join(['lower', *names])})")
    verify = verify_requested() if verify is None else verify
    if dump_after == "lower":
        dump(gm.code)
    for name in names:
        halves = expand([name])
        for half in halves:
            # the graph is checked after each name given (a pair: after both halves), and
            # after each half too when each is held to its own promise by value
            checked = half if verify else (name if half == halves[-1] else None)
            gm = _run_one(BY_NAME[half], gm, mode, verify, checked)
        if dump_after == name:
            dump(gm.code)
    return gm


def _run_one(row: Pass, gm: fx.GraphModule, mode: str, verify: bool,
             checked: str | None) -> fx.GraphModule:
    """Pass `row` on gm, then the graph check (when `checked` names what it checks
    after) and the value check (`verify`); a failure names the pass (and the node)."""
    name = row.name
    before = probe_values(gm, mode, row.bound) if verify else None
    try:
        gm = track_source(row.fn(gm))  # each recompile's source is released
    except (PassError, MemoryError):
        raise
    except NodeError as exc:
        raise PassFailure(at_node(exc.node, f"pass '{name}' failed on "
                                            f"{describe_node(exc.node)}: {exc.message}")) from exc
    except Exception as exc:  # a pass bug must name the pass
        raise PassFailure(f"pass '{name}' failed: {type(exc).__name__}: {exc}") from exc
    try:
        if checked is not None:
            check_graph_module(gm)
    except MemoryError:
        raise
    except NodeError as exc:
        raise _broken_node(checked, exc) from exc
    except Exception as exc:
        raise PassFailure(f"the graph after pass '{checked}' does not check: "
                          f"{type(exc).__name__}: {exc}") from exc
    if before is not None:
        # a rounding-only pass is held to its bound in float64, on its rewrite of a copy
        after = gm if row.bound is None else track_source(row.fn(before.twin))
        try:
            check_values(before, after)
        except ValuesChanged as exc:
            raise _changed_values(row, exc) from None
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


def _changed_values(row: Pass, exc: ValuesChanged) -> PassError:
    """The error for pass `row` changing what the module computes, at the first node
    whose value changed."""
    keeps = ("bit-identical" if row.bound is None
             else f"within {row.bound:g} relative error in float64")
    message = (f"pass '{row.name}' changed the values of the network: {exc.message} (it is "
               f"declared {keeps}; --verify compared the module before and after it on one "
               "random batch)")
    origin = plugin_origin(exc.node)
    if origin is not None:
        hint = (f"the op or merge here comes from {origin.name}, whose traits or rules tell "
                "the pass what it may do; fix them there, or run without it (--no-plugins)")
    else:
        hint = ("leave the pass out (--passes with the others; `linkc compile --list-passes`), "
                "and report this: no pass may change what the spec computes")
    return PassError(at_node(exc.node, message, hint))
