"""Hostile specs: each fails fast with exit 2, its expected message and position, no traceback.

The catalogue is tests/broken_specs/hostile/: one file per attack, and `expected.yaml`
with, for each file, a fragment of the error message, its LINE:COL (null where
the input has no position) and a bound on the time of the whole `linkc check`.
"""

from __future__ import annotations

import importlib
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from linkc.cli import main
from linkc.frontend import Limits, SpecError, build
from linkc.spec.load import load

HOSTILE = Path(__file__).resolve().parent.parent / "broken_specs" / "hostile"
LOAD = importlib.import_module("linkc.spec.load")
EXPECTED = yaml.safe_load((HOSTILE / "expected.yaml").read_text())
CASES = sorted(p.name for p in HOSTILE.glob("*.yaml") if p.name != "expected.yaml")


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def yaml_parser(request, monkeypatch):
    """Every test here runs over both YAML parsers `load` can use: the guards are
    the same code, the events come from LibYAML or from PyYAML's Python parser."""
    if request.param == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML was built without LibYAML")
        monkeypatch.setattr(LOAD, "LIBYAML", True)
    else:
        monkeypatch.setattr(LOAD, "LIBYAML", False)
    return request.param


def test_every_hostile_file_has_an_expectation():
    assert sorted(EXPECTED) == CASES


@pytest.mark.parametrize("name", CASES)
def test_hostile_spec_fails_cleanly_in_bounded_time(name, capsys):
    want = EXPECTED[name]
    path = HOSTILE / name
    start = time.perf_counter()
    code = main(["check", str(path)])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    first = err.splitlines()[0]
    assert want["error"] in first
    if want["at"] is not None:
        assert first.startswith(f"{path}:{want['at']}: error: "), first
    assert elapsed < want["seconds"], f"{name} took {elapsed:.2f}s"


def test_billion_laughs_fails_fast_with_little_memory():
    text = (HOSTILE / "billion_laughs.yaml").read_text()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SpecError, match="expands to more than"):
            load(text)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_wide_alias_fan_out_within_the_item_budget_still_loads():
    # Aliases are legitimate YAML: sharing a mapping is fine while it stays small.
    text = ("linkc: 1\nname: ok\ninput: [3, 8, 8]\nparams: {k: 4}\n"
            "train: {a: &a [1, 2, 3], b: *a, c: *a}\n"
            "nodes:\n  x: {from: input, ops: [relu]}\noutput: x\n")
    assert build(text).train["c"] == [1, 2, 3]


LIMITED = [
    ("max_bytes", 50, "bytes, over the 50-byte limit"),
    ("max_depth", 2, "YAML nesting deeper than 2 levels"),
    ("max_items", 10, "expands to more than 10 values"),
    ("max_nodes", 2, "would have about 4 nodes, over the limit of 2"),
    ("max_repeat", 2, "repeat count 3 is over the limit of 2"),
    ("max_block_depth", 1, "blocks nested deeper than 1"),
    ("max_inputs", 3, "the expanded graph has more than 3 node inputs"),
    ("max_channels", 8, "16 channels is over the limit of 8"),
    ("max_spatial", 4, "spatial size [8, 8] is over the limit of 4"),
    ("max_elements", 100, "elements, over the limit of 100"),
    ("max_activations", 1000, "activations would take"),
    ("max_params", 100, "parameters by here, over the limit of 100"),
    ("max_include_depth", 1, "includes nested deeper than 1"),
    ("max_include_files", 1, "more than 1 included files"),
]
SMALL = """linkc: 1
name: small
input: [3, 8, 8]
include: [parts/a.yaml]
blocks:
  inner: {in: x, nodes: {y: {from: x, ops: [relu]}}, out: y}
  outer: {in: x, nodes: {y: {from: x, block: inner}}, out: y}
nodes:
  a: {from: input, ops: [{conv: [16, 3]}]}
  b: {from: a, repeat: 3, ops: [relu]}
  c: {from: b, block: outer}
output: c
"""


def test_the_catalogue_of_limits_is_complete():
    assert sorted(name for name, _, _ in LIMITED) == sorted(Limits().values())


@pytest.mark.parametrize("name,value,message", LIMITED)
def test_each_limit_is_named_and_raisable_from_the_cli(name, value, message, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.yaml").write_text("include: [b.yaml]\n")
    (tmp_path / "parts" / "b.yaml").write_text("blocks: {}\n")
    assert main(["check", str(spec)]) == 0
    capsys.readouterr()
    assert main(["check", str(spec), "--limit", f"{name}={value}"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert f"--limit {name}=N" in err, "the error says how to raise the limit"


def test_limit_flag_raises_a_limit(tmp_path, capsys):
    spec = tmp_path / "wide.yaml"
    spec.write_text("linkc: 1\nname: wide\ninput: [3, 8, 8]\n"
                    "nodes:\n  a: {from: input, repeat: 30, ops: [relu]}\noutput: a\n")
    assert main(["check", str(spec), "--limit", "max_repeat=20"]) == 2
    capsys.readouterr()
    assert main(["check", str(spec), "--limit", "max_repeat=20", "--limit", "max_repeat=40"]) == 0


@pytest.mark.parametrize("arg,message", [
    ("max_paramz=5", "unknown limit 'max_paramz'"),
    ("max_params", "--limit expects NAME=INTEGER"),
    ("max_params=1.5", "--limit expects NAME=INTEGER"),
    ("max_params=0", "must be a positive integer"),
])
def test_bad_limit_flags_are_usage_errors(arg, message, capsys):
    assert main(["check", "specs/resnet_110.yaml", "--limit", arg]) == 2
    assert message in capsys.readouterr().err


def test_parameter_estimate_matches_what_lowering_allocates():
    """The params rules of the op registry agree with torch on a spec using every
    op and merge that carries weights (so the budget is checked on real counts)."""
    from linkc.compiler.lower import lower

    g = build("""linkc: 1
name: counted
input: [6, 8, 8]
nodes:
  a: {from: input, ops: [{conv: {out: 12, k: 3, groups: 3, bias: true}}, bn]}
  b: {from: input, ops: [{conv: [12, 1]}]}
  c: {from: [a, b], merge: dwsum, ops: [gap, bn, {linear: 5}, {linear: {out: 3, bias: false}}]}
output: c
""")
    torch_count = sum(p.numel() for p in lower(g).parameters())
    expected = (12 * 2 * 9 + 12) + 24 + 12 * 6 + 3 * 12 + 24 + (12 * 5 + 5) + 5 * 3
    assert torch_count == expected
    with pytest.raises(SpecError, match="parameters by here"):
        build(g.source.text, limits=Limits().with_(max_params=expected - 1))
    build(g.source.text, limits=Limits().with_(max_params=expected))


def test_ops_with_parameters_must_declare_a_params_rule():
    from linkc.ops.merges import MergeDef
    from linkc.ops import OPS
    from linkc.ops.registry import Lowering, NoArgs, OpDef

    for name, op in OPS.items():  # built-ins (a plugin's op without a rule is counted
        if OPS.origin(name).name == "built-in":  # from its module: linkc.plugin_rules)
            assert ("params" in op.traits) == (op.params is not None), op.name
    with pytest.raises(ValueError, match="params"):
        OpDef("scale", NoArgs, lambda s, a: s, Lowering("torch.nn:Identity"), "doc",
              frozenset({"params"}))
    with pytest.raises(ValueError, match="count_params"):
        MergeDef("gate", lambda xs, o: xs[0].shape, Lowering("torch.nn:Identity"), "g", "doc",
                 params=True)


# ---- regressions for what the hostile catalogue and the fuzzers found -----------------
def test_deep_flow_nesting_is_refused_while_scanning():
    """'[[[[...' used to cost ~0.4 s in PyYAML's simple-key lookahead (quadratic in the
    flow depth) before the composer saw the depth; the scanner now stops at the limit."""
    text = "linkc: 1\ntrain: " + "[" * 20000 + "]" * 20000 + "\n"
    start = time.perf_counter()
    with pytest.raises(SpecError, match="nesting deeper than 64") as info:
        load(text)
    assert time.perf_counter() - start < 0.2
    assert info.value.loc.col == 8 + 64  # the 65th bracket
    assert max(len(line) for line in str(info.value).splitlines()) < 300, \
        "the excerpt of a very long line is clipped around the column"


def test_self_referencing_alias_is_a_located_error():
    with pytest.raises(SpecError, match="refers to the collection that contains it") as info:
        load("linkc: 1\ntrain: &a {b: [*a]}\n")
    assert (info.value.loc.line, info.value.loc.col) == (2, 8)


def test_overlong_integer_literal_is_a_spec_error():
    with pytest.raises(SpecError, match="bad scalar") as info:
        load("linkc: " + "9" * 5000 + "\n")
    assert (info.value.loc.line, info.value.loc.col) == (1, 8)


def test_control_character_is_a_located_spec_error():
    with pytest.raises(SpecError, match="U\\+0007") as info:
        load("linkc: 1\nname: a\x07b\n")
    assert (info.value.loc.line, info.value.loc.col) == (2, 8)


def test_channels_of_a_dotted_path_with_an_index():
    """Found by the differential fuzzer: `channels(d1.0.h)` (a documented reference
    form) was a Python syntax error, since `d1.0` reads as `d1` and `.0`."""
    g = build("""linkc: 1
name: t
input: [3, 8, 8]
blocks:
  grow: {params: [g], in: x, nodes: {h: {from: x, ops: [{conv: [g, 3]}]}}, out: h}
nodes:
  d1: {from: input, block: grow, repeat: 2, args: {g: 4}}
  b: {from: [d1.0.h, d1], merge: concat, ops: [{conv: ['channels(d1.0.h) + size( d1.1.h )', 1]}]}
output: b
""")
    assert g.nodes["b"].shape == (4 + 8, 8, 8)


def test_the_input_counts_toward_max_activations():
    # 16.7 M input elements feeding only a global pool: every activation but the input
    # is tiny, and the input alone is over the cap.
    text = ("linkc: 1\nname: big-input\ninput: [1, 4096, 4096]\n"
            "nodes:\n  a: {from: input, ops: [gap]}\noutput: a\n")
    limits = Limits().with_(max_activations=10_000_000)
    with pytest.raises(SpecError, match="activations would take 16,777,216 elements") as info:
        build(text, limits=limits)
    assert (info.value.loc.line, info.value.loc.col) == (3, 8)
    assert build(text).nodes["a"].shape == (1,)
