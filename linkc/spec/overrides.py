"""Set a spec's top-level `params` from outside the file (`--set`, `linkc zoo` rows,
`build(spec, params=...)`).

A spec such as `dmrnet_cifar.yaml` is written once with its size as params
(`L: 54`); the other rows of the paper's table are the same text with other
values. Overrides replace values in a copy of the located document and are
checked like the spec's own params: a name the spec does not declare is an
error (with the nearest name), and a value is a number, an expression or a
list of them. An override's value is located in its own one-line source (named
`--set` on the command line, `params` from Python), so an error in it points
at what the user typed rather than at the value it replaced.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import yaml

from ..errors import Loc, Source, SpecError, did_you_mean
from .load import Document, LDict

MAX_SET_CHARS = 10_000
_MAX_SET_DEPTH = 8


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`['k=24', 'stages=[[1, 16], [6, 24]]']` (the CLI's --set) -> a mapping whose
    values are read as YAML scalars or flow lists, each located in its own source."""
    out = LDict(Loc(Source("--set", ""), 1, 1))
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        source = Source("--set", item)
        if not sep or not name:
            raise SpecError(f"--set expects NAME=VALUE, got '{item}'", Loc(source, 1, 1),
                            "for example --set k=24 or --set 'stages=[[1, 16], [6, 24]]'")
        if len(text) > MAX_SET_CHARS:
            raise SpecError(f"--set {name}: value longer than {MAX_SET_CHARS} characters")
        loc = Loc(source, 1, len(item) - len(item.partition("=")[2].lstrip()) + 1)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "malformed value"
            raise SpecError(f"--set {name}: {problem}", loc,
                            "values are numbers, expressions or [lists]; quote an expression "
                            "that YAML would misread") from None
        out[name] = value
        out.key_locs[name] = Loc(source, 1, 1)
        out.value_locs[name] = loc
    return out


def _checked(name: str, value: Any, loc: Loc, depth: int = 0) -> Any:
    if isinstance(value, (list, tuple)) and depth < _MAX_SET_DEPTH:
        return [_checked(name, v, loc, depth + 1) for v in value]
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    raise SpecError(f"param '{name}' must be a number, an expression or a list of them, "
                    f"got {value!r}", loc)


def with_params(doc: Document, values: Mapping[str, Any]) -> Document:
    """A copy of `doc` whose top-level params take `values`."""
    if not values:
        return doc
    params = doc.root.get("params")
    if not isinstance(params, LDict):
        raise SpecError("the spec has no 'params' mapping to override", doc.root.loc,
                        f"cannot set {', '.join(map(repr, values))}")
    for name in values:
        if name not in params:
            known = ", ".join(params) or "none"
            raise SpecError(f"cannot set param '{name}': the spec has no such param",
                            params.loc, did_you_mean(name, list(params)) or
                            f"the spec's params: {known}")
    root = copy.copy(doc.root)
    new = copy.copy(params)
    new.value_locs = dict(params.value_locs)
    locs = getattr(values, "value_locs", {})
    for name, value in values.items():
        loc = locs.get(name) or Loc(Source("params", f"{name}={value!r}"), 1, len(name) + 2)
        new[name] = _checked(name, value, loc)
        new.value_locs[name] = loc
    root["params"] = new
    return Document(root, doc.source)
