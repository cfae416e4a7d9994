"""Every value of a zoo spec replaced by each odd value (leaf_sweep.py): the spec still
compiles and runs, or fails with a located SpecError. Four specs that cover blocks with
one and several ports, a recurrence and several outputs run in CI (dilnet_cifar's
`out: []` was the campaign's IndexError); the whole zoo with -m zoo."""

from __future__ import annotations

import pytest

from .leaf_sweep import leaf_mutants
from .mutate import ZOO_DIR, ZOO_NAMES
from .oracles import spec_outcome

CI_SPECS = {"dilnet_cifar", "dmrnet_cifar", "resnet_s_18_recur", "digits_companion"}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[] if n in CI_SPECS else [pytest.mark.zoo]) for n in ZOO_NAMES])
def test_every_value_replaced_gives_a_located_error_or_a_working_model(name):
    failures = []
    for where, text in leaf_mutants((ZOO_DIR / f"{name}.yaml").read_text()):
        try:
            spec_outcome(text)
        except Exception as exc:  # noqa: BLE001 - every kind of crash is the finding
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} crashes, the first: {failures[:3]}"


def test_the_sweep_reaches_every_value_and_skips_free_text():
    text = "linkc: 1\nname: t\ndoc: free\nnodes: {a: {from: input, ops: [relu]}}\n"
    wheres = {where.split(" = ")[0] for where, _ in leaf_mutants(text)}
    assert wheres == {"linkc", "nodes", "nodes.a", "nodes.a.from", "nodes.a.ops",
                      "nodes.a.ops.0"}
