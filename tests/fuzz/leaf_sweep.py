"""Every value of a spec replaced, one at a time, by each of a few odd values: a
deterministic, exhaustive complement to the random mutations of mutate.py. The random
campaign took thousands of examples to put `[]` where a block names its out ports
(an IndexError then); this sweep tries every such place on every run."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import yaml

from .mutate import DUMPER, LOADER

# Values of the wrong kind and the empty ones; sizes and expressions that are merely
# large are the random mutations' and the hostile catalogue's job.
ODD_VALUES = [None, True, 0, -1, "", "x", "prev.x", [], {}, [[]], [0], {"ref": []}]
# Free text and the paper's figures are never read by the compiler.
SKIPPED = {"doc", "paper", "name"}


def _paths(value, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    children = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if not (not path and key in SKIPPED):
            yield from _paths(child, (*path, key))


def leaf_mutants(text: str) -> Iterator[tuple[str, str]]:
    """(where and what, the spec text with that one value replaced), in a fixed order."""
    doc = yaml.load(text, Loader=LOADER)
    for path in _paths(doc):
        for value in ODD_VALUES:
            mutated = copy.deepcopy(doc)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            yield (f"{'.'.join(map(str, path))} = {value!r}",
                   yaml.dump(mutated, Dumper=DUMPER, sort_keys=False))
