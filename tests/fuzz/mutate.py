"""Mutations of spec text, shared by the mutation tests and the campaign runner
(tests/fuzz/campaign.py): text edits (truncation, deleted and duplicated lines, odd
characters) and tree edits (a deleted key, a value of the wrong type, two references
swapped). Every draw goes through hypothesis, so a failure replays from its seed."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import strategies as st

# libyaml's loader and dumper where installed: pure-Python PyYAML was most of the time
# an example took to generate.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

ZOO_DIR = Path(__file__).resolve().parents[2] / "specs"
ZOO_PATHS = sorted(ZOO_DIR.glob("*.yaml"))
ZOO = [p.read_text() for p in ZOO_PATHS]
ZOO_NAMES = [p.stem for p in ZOO_PATHS]

ODD = ["\u202e", "\u200b", "\ufeff", "\U0001f600", "é", "\x85", "\u2028", "‖", "\t", "\\",
       "\"", "'", "&", "*", "!", "%", "@", "`", "{", "}", "[", "]", ":", "#", "-", "?", ",",
       "|", ">", "\r", "\x00", "\x1b"]
ODD_VALUES = [None, True, 0, -1, 2**70, 1e308, float("nan"), "", "x", "1/0", "10**10**10",
              "input", "prev.x", [], {}, [1, [2]], {"a": {"b": 1}}, "n0[0:99]", "conv(0)",
              # sizes within the default limits but large for one machine
              4096, 16384, 65536, 100_000, "2**20", [3, 4096, 4096]]


def text_mutation(text: str, data) -> str:
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


def tree_mutation(text: str, data) -> str:
    """Delete a key, change a value's type, or swap two references, on the data tree."""
    root = yaml.load(text, Loader=LOADER)
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
    return yaml.dump(root, Dumper=DUMPER, sort_keys=False, default_flow_style=None,
                     allow_unicode=True)


def _get(root, path):
    for step in path:
        root = root[step]
    return root


def mutate(text: str, data) -> str:
    """One to three text or tree mutations of `text`, as text ending in a newline."""
    mutated = text
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            mutated = text_mutation(mutated, data)
        else:
            try:
                mutated = tree_mutation(mutated, data)
            except (yaml.YAMLError, TypeError, IndexError, KeyError, AttributeError,
                    RecursionError):
                pass  # an earlier text mutation left no tree to mutate
    if "\n" not in mutated:
        mutated += "\n"  # one-line text would be taken as a file name
    return mutated
