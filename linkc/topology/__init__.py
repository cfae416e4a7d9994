"""Spec -> checked, expanded graph with shapes. Never imports torch."""

from __future__ import annotations

import os

from .errors import Loc, SpecError, SpecWarning
from .expand import ExpandLimits, expand as _expand
from .flat import INPUT, FlatGraph, FlatNode
from .graph import ShapeLimits, infer_shapes
from .load import Document, LoadLimits, load
from .merges import MERGES
from .ops import OPS
from .schema import Spec, parse_spec

__all__ = [
    "INPUT", "MERGES", "OPS", "Document", "ExpandLimits", "FlatGraph", "FlatNode", "Loc",
    "LoadLimits", "ShapeLimits", "Spec", "SpecError", "SpecWarning", "build", "expand",
    "infer_shapes", "load", "parse_spec",
]


def expand(doc: Document, limits: ExpandLimits = ExpandLimits()) -> FlatGraph:
    """Located document -> flat graph (validates the schema first)."""
    return _expand(parse_spec(doc), doc, limits)


def build(spec: str | os.PathLike | Document) -> FlatGraph:
    """Path or YAML text -> checked flat graph with every shape inferred."""
    doc = spec if isinstance(spec, Document) else load(spec)
    return infer_shapes(expand(doc))
