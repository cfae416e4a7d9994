"""Reading a registry resolves aliases the same way everywhere."""

from __future__ import annotations

import pytest

from linkc.ops import MERGES


@pytest.mark.parametrize("alias, name", [("avg", "mean"), ("+", "add"), ("‖", "concat"),
                                         ("cat", "concat")])
def test_every_read_resolves_an_alias(alias, name):
    assert alias in MERGES
    assert MERGES[alias] is MERGES[name] is MERGES.get(alias) is MERGES.lookup(alias)


def test_iterating_gives_each_entry_once_under_its_own_name():
    assert list(MERGES) == [m.name for m in MERGES.values()]
    assert "avg" not in list(MERGES)


def test_an_unknown_name_is_not_in_it():
    assert "maximum" not in MERGES and MERGES.get("maximum") is None
    with pytest.raises(KeyError):
        MERGES["maximum"]
