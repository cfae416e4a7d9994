"""linkc: compile neural-network topologies written in YAML into PyTorch modules.

    import linkc
    model = linkc.compile("specs/densenet_bc_100.yaml")   # a torch.fx.GraphModule

The steps are also available one by one in `linkc.topology` (load, expand,
infer_shapes; no torch needed) and `linkc.compiler` (lower, passes, codegen).
Importing `linkc` does not import torch; the functions that need it do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

from . import render as _render_package  # noqa: F401  (loaded first: see `render` below)
from .topology import SpecError, build

if TYPE_CHECKING:  # pragma: no cover
    from torch import fx

__version__ = "0.1.0"
__all__ = ["SpecError", "build", "compile", "render", "__version__"]


def compile(spec: str | os.PathLike, passes: Sequence[str] | None = None,
            mode: str = "train", limits=None) -> "fx.GraphModule":
    """Spec path or YAML text -> GraphModule (with the given passes, or none).
    `limits` (a `linkc.topology.Limits`) raises the safety caps on untrusted specs."""
    from .compiler import compile_graph

    return compile_graph(build(spec, limits=limits), passes=passes or (), mode=mode)


def render(spec: str | os.PathLike, path: str | os.PathLike, **options):
    """Draw the spec's DAG to `path` (.svg, .png, .pdf, .dot, .mmd).

    The package `linkc.render` is imported above, before this function is defined,
    so the name `linkc.render` stays this function (Python binds a subpackage to
    its parent's attribute only when first loading it)."""
    return _render_package.render_file(build(spec), path, **options)
