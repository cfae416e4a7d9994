"""The fuzz target `passes`: every compiler pass, checked by value on random specs.

A random valid spec (tests/fuzz/specgen.py) is compiled, given random weights and BN
statistics, and run through every pass valid in a random mode, in the table's order,
with the value check on (`run_passes(..., verify=True)`, what `linkc compile --verify`
runs): each pass must keep the outputs, and in training the gradients, bit-identical
or within the bound its row in linkc/compiler/passes/table.py declares. A PassError
from that check is a failure: a pass changed what the spec computes.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

import linkc
from linkc.compiler.passes import PASSES, run_passes

from .oracles import Case, randomize
from .specgen import valid_specs


def passes_outcome(text: str, mode: str) -> str:
    """'kept' when every pass of `mode` keeps the values of the compiled spec."""
    gm = linkc.compile(text)
    randomize(gm, seed=len(text))
    run_passes(gm, [p.name for p in PASSES if mode in p.modes], mode=mode, verify=True)
    return "kept"


def passes_by_value(data, workdir: Path) -> Case:
    text = data.draw(valid_specs())
    mode = data.draw(st.sampled_from(["train", "infer"]))
    return Case(text, lambda: passes_outcome(text, mode), f"generated ({mode})")
