"""Keep fx's copy of a module's generated source only while the module lives.

Each time torch.fx compiles a forward (building a GraphModule, assigning its
graph, `recompile()` after a pass) it stores the source text in its own loader
and registers it in `linecache` under a fresh `<eval_with_key>.N` name, so
tracebacks can show the generated lines. Nothing ever removes those entries: a
process that compiles thousands of models (a fuzzing campaign, a sweep, a
server) grows by every source it ever compiled. `track_source(gm)` keeps only
the current forward's entry, dropping the ones a recompile replaced, and drops
that one too when `gm` is garbage-collected.
"""

from __future__ import annotations

import linecache
import weakref

import torch.fx.graph_module as _fx_graph_module
from torch import fx

_TRACKED: "weakref.WeakKeyDictionary[fx.GraphModule, list[str]]" = weakref.WeakKeyDictionary()


def _eval_cache() -> dict:
    cache = getattr(getattr(_fx_graph_module, "_loader", None), "eval_cache", None)
    return cache if isinstance(cache, dict) else {}


def _current_key(gm: fx.GraphModule) -> str | None:
    code = getattr(type(gm).__dict__.get("forward"), "__code__", None)
    key = code.co_filename if code is not None else None
    return key if key in _eval_cache() or key in linecache.cache else None


def _forget(keys: list[str]) -> None:
    cache = _eval_cache()
    for key in keys:
        linecache.cache.pop(key, None)
        cache.pop(key, None)


def track_source(gm: fx.GraphModule) -> fx.GraphModule:
    """Release the sources of `gm`'s earlier forwards now, and of its current one with it."""
    key = _current_key(gm)
    if key is None:
        return gm
    keys = _TRACKED.get(gm)
    if keys is None:
        keys = _TRACKED[gm] = []
        weakref.finalize(gm, _forget, keys)
    _forget([k for k in keys if k != key])
    keys[:] = [key]
    return gm
