"""Set a spec's top-level `params` from outside the file (`linkc zoo` rows, `--set`).

A spec such as `dmrnet_cifar.yaml` is written once with its size as params
(`L: 54`); the other rows of the paper's table are the same text with other
values. Overrides replace values in a copy of the located document, so every
error still points into the file, and a name the spec does not declare is an
error rather than a silently ignored setting.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from .errors import SpecError, did_you_mean
from .load import Document, LDict


def with_params(doc: Document, values: Mapping[str, Any]) -> Document:
    """A copy of `doc` whose top-level params take `values` (numbers or expressions)."""
    if not values:
        return doc
    params = doc.root.get("params")
    if not isinstance(params, LDict):
        raise SpecError("the spec has no 'params' mapping to override", doc.root.loc)
    for name in values:
        if name not in params:
            raise SpecError(f"cannot set param '{name}': the spec has no such param",
                            params.loc, did_you_mean(name, list(params)))
    root = copy.copy(doc.root)
    new = copy.copy(params)
    for name, value in values.items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise SpecError(f"param '{name}' must be a number or an expression, got {value!r}",
                            params.value_locs.get(name))
        new[name] = value
    root["params"] = new
    return Document(root, doc.source)
