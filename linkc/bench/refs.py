"""The hand-written module a spec is benched against: shipped, the user's own, or none."""

from __future__ import annotations

import importlib
import sys
from typing import Callable

from torch import nn


class BenchError(Exception):
    """Bad bench request (no such reference, ...): exit 2."""


def load_references():
    """The hand-written references shipped with linkc (linkc/references)."""
    from .. import references

    return references


def reference_factory(reference: str) -> Callable[[], nn.Module]:
    """A reference by name (one of linkc/references), or `MODULE:CALLABLE`: the user's
    own zero-argument function or class returning the nn.Module to bench against
    (imported like `python -m`, with the current directory on the path)."""
    refs = load_references().REFERENCES
    if ":" not in reference:
        if reference not in refs:
            raise BenchError(f"no reference '{reference}' (have: {', '.join(refs)}; or "
                             "give MODULE:CALLABLE for your own nn.Module)")
        return refs[reference]
    module_name, _, attr = reference.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BenchError(f"--reference {reference}: cannot import '{module_name}': {exc}") \
            from None
    target = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise BenchError(f"--reference {reference}: '{module_name}' has no '{attr}'")
    if not callable(target):
        raise BenchError(f"--reference {reference}: '{attr}' is not callable")
    return _checked_module(target, reference)


def _checked_module(factory: Callable[[], object], reference: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        model = factory()
        if not isinstance(model, nn.Module):
            raise BenchError(f"--reference {reference} returned {type(model).__name__}, "
                             "not a torch.nn.Module")
        return model
    return build


def match_reference(name: str, references: dict) -> str | None:
    """The reference for spec `name`: the same name, else the one named `name-<size>`."""
    if name in references:
        return name
    found = [key for key in references if key.startswith(name + "-")]
    return found[0] if len(found) == 1 else None
