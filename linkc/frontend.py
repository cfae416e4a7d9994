"""Spec -> checked, expanded graph with shapes. Never imports torch."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from .errors import Loc, SpecError, SpecWarning
from .expand import ExpandLimits, expand as _expand
from .expand.flat_graph import INPUT, FlatGraph, FlatNode
from .gcpause import paused_gc
from .spec.include import resolve_includes
from .shapes.infer import ShapeLimits, infer_shapes
from .limits import Limits
from .spec.load import Document, LoadLimits, load
from .ops.merges import MERGES
from .ops import OPS
from .spec.overrides import with_params
from .spec.schema import Spec, parse_spec

__all__ = [
    "INPUT", "MERGES", "OPS", "Document", "ExpandLimits", "FlatGraph", "FlatNode", "Limits",
    "Loc", "LoadLimits", "ShapeLimits", "Spec", "SpecError", "SpecWarning", "build", "expand",
    "infer_shapes", "load", "parse_spec", "resolve_includes", "with_params",
]


def expand(doc: Document, limits: ExpandLimits = ExpandLimits()) -> FlatGraph:
    """Located document -> flat graph (validates the schema first)."""
    return _expand(parse_spec(doc), doc, limits)


def build(spec: str | os.PathLike | Document, params: Mapping[str, Any] | None = None,
          limits: Limits | None = None,
          include_path: Sequence[str | os.PathLike] = ()) -> FlatGraph:
    """Path, YAML text or zoo name -> checked flat graph with every shape inferred.

    A zoo name (`resnet-20`, a paper row's label such as `MixNet-250`, a family
    such as `densenet-bc`: see `linkc.zoo`) is resolved to its shipped spec and
    the params it implies. `params` overrides the spec's top-level params
    (`{"L": 12}` for another row of a paper's table, `{"stages": [[1, 16], [6, 24]]}`),
    checked like the spec's own: a name the spec does not declare is a SpecError
    naming the nearest one. `limits` raises or lowers the safety caps (see
    `linkc.limits`); `include_path` adds directories that `include:` may
    read from (see `linkc.spec.include`)."""
    from .ops import plugins

    plugins.load()  # a spec may name ops that installed plugins provide
    limits = limits or Limits()
    if not isinstance(spec, Document):
        from .zoo import resolve

        named = resolve(spec)
        spec = named.spec
        if named.params:  # (a plain dict: the override's own positions are kept otherwise)
            params = {**named.params, **(params or {})}
    with paused_gc():  # one pause from loading to shapes (see gcpause.py)
        doc = spec if isinstance(spec, Document) else load(spec, limits.load)
        doc = with_params(resolve_includes(doc, include_path, limits.load), params or {})
        return infer_shapes(expand(doc, limits.expand), limits.shape)
