"""Pause Python's cyclic garbage collector while a graph is being built.

Expansion, shape inference and lowering allocate many small, long-lived objects
(nodes, scopes, modules) and free almost none. The cyclic collector, triggered by
allocation counts, would walk that growing heap again and again: at 10,000 nodes it
was over a third of check time and made it grow faster than linearly. Reference
counting still frees everything as usual; the collector resumes afterwards.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
