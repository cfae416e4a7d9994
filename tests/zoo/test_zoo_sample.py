"""The zoo sample that zoo-wide tests run on by default covers what the whole zoo uses."""

from __future__ import annotations

import pytest

from linkc.frontend import build
from tests.conftest import ZOO_SAMPLE, zoo_specs


def _kinds(path) -> set[str]:
    g = build(path)
    kinds = {"recurrence"} if g.recurrences else set()
    kinds |= {"several outputs"} if len(g.output_names) > 1 else set()
    for name in g.order:
        node = g.nodes[name]
        merge = node.effective_merge()
        if merge is not None:
            kinds.add(f"merge {merge.name}" + (" padded" if node.pad else ""))
        kinds |= {call.op.name for call in node.ops}
    return kinds


@pytest.mark.zoo
def test_the_sample_uses_every_op_and_merge_of_the_zoo():
    specs = zoo_specs()
    assert set(ZOO_SAMPLE) <= {p.stem for p in specs}
    whole = set().union(*(_kinds(p) for p in specs))
    sample = set().union(*(_kinds(p) for p in specs if p.stem in ZOO_SAMPLE))
    assert sorted(whole - sample) == []
