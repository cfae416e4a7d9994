"""A checkpoint's network record names the version of each plugin the graph uses, read
from its installed distribution, and only of those."""

from __future__ import annotations

import tomllib
from pathlib import Path

import linkc
from linkc.frontend import build
from linkc.train.network import network_record

EXAMPLE = Path(linkc.__file__).resolve().parents[1] / "examples" / "plugin"
DIST = "linkc-example-plugin"


def test_the_record_holds_the_version_of_the_plugins_the_graph_uses(example):
    version = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["version"]
    record = network_record(build(EXAMPLE / "fused.yaml"))
    assert record["plugins"] == {DIST: version}
    assert record["nodes"]["fuse"]["merge"] == "fastfuse"
    plain = network_record(build("linkc: 1\nname: p\ninput: [3, 8, 8]\n"
                                 "nodes:\n  a: {from: input, ops: [relu]}\noutput: a\n"))
    assert plain["plugins"] == {}  # installed but unused: not part of the network
