"""`include:` reads blocks from other files; `--include-path` widens where from."""

from __future__ import annotations

import pytest

from linkc.cli import main
from linkc.frontend import SpecError, build

RES = """blocks:
  res:
    in: x
    nodes:
      f: {from: x, ops: [{conv: ["channels(x)", 3]}, bn]}
      y: {from: [x, f], merge: add, ops: [relu]}
    out: y
"""
SPEC = """linkc: 1
name: inc
include: [{path}]
input: [4, 8, 8]
nodes:
  r: {{from: input, repeat: 2, block: res}}
  o: {{from: r, block: {block}}}
output: o
"""


def write(tmp_path, include: str, block: str = "res"):
    spec = tmp_path / "net" / "spec.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(SPEC.format(path=include, block=block))
    return spec


def test_blocks_come_from_nested_includes_relative_to_each_file(tmp_path):
    (tmp_path / "net" / "common").mkdir(parents=True)
    (tmp_path / "net" / "common" / "res.yaml").write_text("include: [more/wide.yaml]\n" + RES)
    (tmp_path / "net" / "common" / "more").mkdir()
    (tmp_path / "net" / "common" / "more" / "wide.yaml").write_text(
        "linkc: 1\nblocks:\n  wide: {in: x, nodes: {w: {from: x, ops: [{conv: [8, 1]}]}}, "
        "out: w}\n")
    g = build(write(tmp_path, "common/res.yaml", "wide"))
    assert g.order == ["r.0.f", "r.0.y", "r.1.f", "r.1.y", "o.w"]
    assert g.nodes["o.w"].shape == (8, 8, 8)


def test_a_diamond_reads_a_file_once(tmp_path):
    net = tmp_path / "net"
    net.mkdir()
    (net / "res.yaml").write_text(RES)
    (net / "a.yaml").write_text("include: [res.yaml]\n")
    (net / "b.yaml").write_text("include: [res.yaml]\n")
    assert build(write(tmp_path, "a.yaml, b.yaml")).nodes["o.y"].shape == (4, 8, 8)


def test_include_path_allows_a_directory_outside_the_tree(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "res.yaml").write_text(RES)
    spec = write(tmp_path, "res.yaml")
    with pytest.raises(SpecError, match="included file 'res.yaml' not found"):
        build(spec)
    assert build(spec, include_path=[lib]).nodes["o.y"].shape == (4, 8, 8)
    outside = write(tmp_path, "../lib/res.yaml")
    with pytest.raises(SpecError, match="outside the spec's directory tree"):
        build(outside)
    assert build(outside, include_path=[lib]).nodes["o.y"].shape == (4, 8, 8)
    assert main(["check", str(spec), "--include-path", str(lib)]) == 0
    absolute = write(tmp_path, str(lib / "res.yaml"))
    assert main(["check", str(absolute), "--include-path", str(lib)]) == 0
    assert main(["check", str(absolute)]) == 2
    assert "is an absolute path" in capsys.readouterr().err


def test_a_link_out_of_the_tree_is_outside(tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "res.yaml").write_text(RES)
    spec = write(tmp_path, "res.yaml")
    (spec.parent / "res.yaml").symlink_to(tmp_path / "secret" / "res.yaml")
    with pytest.raises(SpecError, match="outside the spec's directory tree"):
        build(spec)
