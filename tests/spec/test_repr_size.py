"""Printing linkc's objects stays small.

A traceback printer that shows the arguments of each frame (pytest does, and with it
hypothesis for every failing example it meets while shrinking; so do IPython and
debuggers) calls repr() on the topology objects of a build. Their generated dataclass
reprs once expanded the whole graph and the whole spec text at every position: a
single reference of SE-ResNet-18 printed as 28 MB and its flat graph as 108 MB, and a
long fuzzing campaign grew to 24 GB formatting one failure. Scopes, sources and
positions now print as a line.
"""

from __future__ import annotations

import sys

import pytest

from linkc.frontend import build
from linkc.errors import Loc, Source
from linkc.zoo import resolve

LIMIT = 1_000_000  # characters: far above any linear repr of these specs, far below the old


def _arguments_seen_while_building(text: str) -> dict[type, object]:
    """One argument of each linkc type passed to any linkc function during build."""
    seen: dict[type, object] = {}

    def record(frame, event, arg):
        if event != "call" or not frame.f_globals.get("__name__", "").startswith("linkc."):
            return
        code = frame.f_code
        for name in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
            value = frame.f_locals.get(name)
            if type(value).__module__.startswith("linkc.") and type(value) not in seen:
                seen[type(value)] = value

    sys.setprofile(record)
    try:
        build(text)
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize("name", ["se_resnet_s_18", "dmrnet_recur"])
def test_every_argument_of_a_build_prints_small(name):
    text = resolve(name.replace("_", "-")).spec.read_text()
    seen = _arguments_seen_while_building(text)
    assert len(seen) > 10  # the build really passed scopes, refs, nodes, graphs around
    sizes = {t.__qualname__: len(repr(v)) for t, v in seen.items()}
    assert {"Scope", "Ref", "FlatNode", "FlatGraph"} <= sizes.keys()
    too_big = {k: n for k, n in sizes.items() if n > LIMIT}
    assert not too_big, f"reprs over {LIMIT:,} characters: {too_big}"


def test_a_position_prints_as_file_line_column():
    loc = Loc(Source("net.yaml", "linkc: 1\n" * 10_000), 3, 7)
    assert repr(loc) == "Loc(net.yaml:3:7)"
    assert repr(loc.source) == "Source('net.yaml', 90000 chars)"
