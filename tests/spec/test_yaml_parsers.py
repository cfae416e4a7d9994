"""LibYAML and PyYAML's pure-Python parser give `load` the same data and positions."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from linkc.frontend import SpecError
from linkc.spec.load import LDict, LList

LOAD = importlib.import_module("linkc.spec.load")
ZOO = sorted((Path(__file__).resolve().parents[2] / "linkc" / "zoo" / "specs").glob("*.yaml"))
pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without LibYAML")


def located(value):
    """Data and every location, as plain comparable values."""
    if isinstance(value, LDict):
        return ("map", str(value.loc), [(k, str(value.key_locs[k]), str(value.value_locs[k]),
                                         located(v)) for k, v in value.items()])
    if isinstance(value, LList):
        return ("seq", str(value.loc), [(str(loc), located(v))
                                        for loc, v in zip(value.item_locs, value)])
    return (type(value).__name__, value)


def load_with(monkeypatch, libyaml: bool, text):
    monkeypatch.setattr(LOAD, "LIBYAML", libyaml)
    return LOAD.load(text)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_both_parsers_load_every_zoo_spec_identically(path, monkeypatch):
    fast = load_with(monkeypatch, True, path)
    pure = load_with(monkeypatch, False, path)
    assert located(fast.root) == located(pure.root)


MIXED = """linkc: 1
base: &b {k: 4, s: 'quoted', n: null, f: 1.5e+3, t: yes, i: 0x10}
derived: {<<: *b, k: 8}
list: [*b, "x", ~]
"""


def test_scalars_merges_and_aliases_read_the_same(monkeypatch):
    fast = load_with(monkeypatch, True, MIXED)
    assert located(fast.root) == located(load_with(monkeypatch, False, MIXED).root)
    assert fast.root["derived"] == {"k": 8, "s": "quoted", "n": None, "f": 1500.0, "t": True,
                                    "i": 16}
    assert fast.root["derived"].key_locs["s"].line == 2  # merged keys keep their place


@pytest.mark.parametrize("text,message,at", [
    ("linkc: 1\na: &x 1\nb: &x 2\n", "the anchor '&x' is defined twice (first at line 2)",
     (3, 4)),
    ("linkc: 1\na: *nowhere\n", "found undefined alias 'nowhere'", (2, 4)),
    ("linkc: 1\n---\nlinkc: 2\n", "a spec is one document, but a second one starts here",
     (2, 1)),
    ("linkc: 1\na: !!binary aGVsbG8=\n", "YAML tag 'tag:yaml.org,2002:binary' is not allowed",
     (2, 4)),
    ("linkc: 1\na: !!set {x}\n", "YAML tag 'tag:yaml.org,2002:set' is not allowed", (2, 4)),
    ("linkc: 1\n? [a, b]\n: 1\n", "mapping key ['a', 'b'] is not a string", (2, 3)),
    ("linkc: 1\na: {<<: [1]}\n", "'<<' merges only mappings", (2, 10)),
])
@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_refusals_read_the_same_with_both_parsers(text, message, at, libyaml, monkeypatch):
    with pytest.raises(SpecError) as info:
        load_with(monkeypatch, libyaml, text)
    assert message in info.value.message
    assert (info.value.loc.line, info.value.loc.col) == at


def test_syntax_errors_are_worded_as_without_libyaml(monkeypatch):
    text = "linkc: 1\nnodes: {a: [1, 2}\n"
    with pytest.raises(SpecError) as fast:
        load_with(monkeypatch, True, text)
    with pytest.raises(SpecError) as pure:
        load_with(monkeypatch, False, text)
    assert str(fast.value) == str(pure.value)
    assert fast.value.message.startswith("YAML syntax: ")


def test_an_alias_reads_as_what_it_names(monkeypatch):
    root = load_with(monkeypatch, True, "linkc: 1\na: &x {k: [1, 2]}\nb: *x\n").root
    assert root["b"] == {"k": [1, 2]}
    assert root["b"].key_locs["k"] == root["a"].key_locs["k"]  # where it is written
