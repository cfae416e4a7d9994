"""Broken specs never crash linkc: every mutation of a valid spec either compiles and
runs, or fails with a SpecError that carries a position in the spec."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from hypothesis import given, note
from hypothesis import strategies as st

from linkc.cli import main
from linkc.compiler.lower import lower
from linkc.topology import Limits, SpecError, build

from .settings import fuzz_settings
from .specgen import valid_specs

ZOO = sorted(p.read_text() for p in (Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))
BASES = st.one_of(valid_specs(), st.sampled_from(ZOO)) if ZOO else valid_specs()

# Small caps keep a mutated `conv: 64` -> `conv: 99999999` from allocating gigabytes.
LIMITS = Limits().with_(max_params=2_000_000, max_activations=5_000_000, max_nodes=2_000)
ODD = ["\u202e", "\u200b", "\ufeff", "\U0001f600", "é", "\x85", "\u2028", "‖", "\t", "\\",
       "\"", "'", "&", "*", "!", "%", "@", "`", "{", "}", "[", "]", ":", "#", "-", "?", ",",
       "|", ">", "\r", "\x00", "\x1b"]
ODD_VALUES = [None, True, 0, -1, 2**70, 1e308, float("nan"), "", "x", "1/0", "10**10**10",
              "input", "prev.x", [], {}, [1, [2]], {"a": {"b": 1}}, "n0[0:99]", "conv(0)"]


def _text_mutation(text: str, data) -> str:
    kind = data.draw(st.sampled_from(["truncate", "insert", "delete", "replace", "bytes",
                                      "dup_line", "drop_line", "swap_lines"]))
    pos = data.draw(st.integers(0, len(text)))
    lines = text.splitlines(keepends=True) or [""]
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines) - 1))
    if kind == "truncate":
        return text[:pos]
    if kind == "insert":
        return text[:pos] + data.draw(st.sampled_from(ODD) | st.text(max_size=4)) + text[pos:]
    if kind == "delete":
        return text[:pos] + text[pos + data.draw(st.integers(1, 8)):]
    if kind == "replace":
        return text[:pos] + data.draw(st.sampled_from(ODD)) + text[pos + 1:]
    if kind == "dup_line":
        return "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    if kind == "drop_line":
        return "".join(lines[:i] + lines[i + 1:])
    if kind == "swap_lines":
        lines[i], lines[j] = lines[j], lines[i]
        return "".join(lines)
    return text  # "bytes" is handled by the caller (it is not text)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _paths(v, (*prefix, k))


def _tree_mutation(text: str, data) -> str:
    """Delete a key, change a value's type, or swap two references, on the data tree."""
    root = yaml.safe_load(text)
    paths = [p for p in _paths(root) if p]
    path = data.draw(st.sampled_from(paths))
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    kind = data.draw(st.sampled_from(["delete", "retype", "swap"]))
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "retype":
        parent[path[-1]] = data.draw(st.sampled_from(ODD_VALUES))
    else:
        strings = [p for p in paths if isinstance(_get(root, p), str)]
        other = data.draw(st.sampled_from(strings)) if strings else path
        parent[path[-1]] = _get(root, other)
    return yaml.safe_dump(root, sort_keys=False, default_flow_style=None, allow_unicode=True)


def _get(root, path):
    for step in path:
        root = root[step]
    return root


def _check(spec) -> None:
    """Compile and run, or a located SpecError; anything else fails the test."""
    try:
        g = build(spec, limits=LIMITS)
    except SpecError as err:
        note(str(err))
        assert err.loc is not None, f"SpecError without a position: {err}"
        str(err), err.to_json()  # rendering the error must not fail either
        return
    gm = lower(g)
    gm.eval()
    with torch.no_grad():
        out = gm(torch.randn(2, *g.input_shape))
    assert tuple(out.shape[1:]) == tuple(g.nodes[g.output].shape)


@fuzz_settings(ci_examples=80)
@given(BASES, st.data())
def test_mutated_specs_give_located_errors_or_work(text, data):
    mutated = text
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            mutated = _text_mutation(mutated, data)
        else:
            try:
                mutated = _tree_mutation(mutated, data)
            except (yaml.YAMLError, TypeError, IndexError, KeyError, AttributeError):
                pass  # an earlier text mutation left no tree to mutate
    note(mutated)
    if "\n" not in mutated:
        mutated += "\n"  # one-line text would be taken as a file name
    _check(mutated)


@fuzz_settings(ci_examples=30)
@given(text=valid_specs(), junk=st.binary(max_size=16), data=st.data())
def test_random_bytes_in_a_spec_file(tmp_path_factory, text, junk, data):
    raw = text.encode()
    pos = data.draw(st.integers(0, len(raw)))
    path = tmp_path_factory.mktemp("spec") / "mutated.yaml"
    path.write_bytes(raw[:pos] + junk + raw[pos:])
    _check(path)


def test_cli_turns_a_non_spec_error_into_exit_1(monkeypatch, tmp_path, capsys):
    """The oracle the fuzzers rely on: a crash is exit 1 'internal error', not exit 2."""
    import linkc.topology as topology

    spec = tmp_path / "ok.yaml"
    spec.write_text("linkc: 1\nname: ok\ninput: [3, 8, 8]\n"
                    "nodes:\n  a: {from: input, ops: [relu]}\noutput: a\n")
    monkeypatch.setattr(topology, "build", lambda *a, **k: 1 / 0)
    assert main(["check", str(spec)]) == 1
    assert "internal error" in capsys.readouterr().err
