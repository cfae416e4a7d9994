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
            _promote_survivors()
            gc.enable()


def _promote_survivors() -> None:
    """Move what was allocated during the pause to the oldest generation, uncollected.

    Resuming would otherwise make the next young collection walk every object of
    the pause at once (about a second after loading a 20,000-node spec). freeze()
    then unfreeze() moves all tracked objects to the oldest generation without
    walking them; it is skipped when the program keeps objects frozen itself."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
