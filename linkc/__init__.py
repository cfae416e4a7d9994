"""linkc: compile neural-network topologies written in YAML into PyTorch modules.

    import linkc
    model = linkc.compile("specs/densenet_bc_100.yaml")   # a torch.fx.GraphModule
    model = linkc.create("densenet-bc", k=24, depth=250)  # a zoo spec, other params
    linkc.draw("dmrnet", "dmrnet.svg")                    # `linkc.render` is the package

The steps are also available one by one: `linkc.spec` (load), `linkc.expand`,
`linkc.shapes` (infer_shapes; none of them needs torch) and `linkc.compiler` (lower,
passes, emit).
Importing `linkc` does not import torch; the functions that need it do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import zoo
from .errors import SpecError, UserError
from .frontend import build
from .limits import Limits

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import fx

__version__ = "0.1.0"
__all__ = ["Limits", "SpecError", "UserError", "build", "compile", "create", "draw",
           "import_module", "optimize", "transfer_weights", "zoo", "__version__"]


def compile(spec: str | os.PathLike, passes: Sequence[str] | None = None,
            mode: str = "train", limits=None, params: Mapping[str, Any] | None = None,
            include_path: Sequence[str | os.PathLike] = ()) -> "fx.GraphModule":
    """Spec path, YAML text or zoo name -> GraphModule (with the given passes, or
    none). `params` overrides top-level params (`{"k": 24}`, checked like the spec's
    own), `limits` (a `linkc.Limits`) raises the safety caps on untrusted
    specs, `include_path` adds directories `include:` may read from."""
    from .compiler import compile_graph

    g = build(spec, params=params, limits=limits, include_path=include_path)
    return compile_graph(g, passes=passes or (), mode=mode)


def create(name: str | os.PathLike, passes: Sequence[str] | None = None, mode: str = "train",
           **params) -> "fx.GraphModule":
    """A zoo model by name, its params overridden by keyword (numbers or expressions,
    checked as the spec's own): `create("densenet-bc", k=24, depth=250)`,
    `create("MixNet-250")`, `create("resnet-20", classes=100)`. See `linkc.zoo`
    for the names; a path or YAML text works too."""
    return compile(name, passes=passes, mode=mode, params=params)


def optimize(model: "fx.GraphModule", mode: str = "infer", backend: str = "inductor",
             precision: str = "fp32", **options) -> "torch.nn.Module":
    """linkc's compile stage on a compiled spec (after its passes): a module that takes
    and returns torch tensors, run by `backend`:

    - "inductor" (default): torch.compile with static shapes, and for mode "infer" (the
      model in eval mode, called under no_grad) inductor's weight freezing; `options`
      go to torch.compile. The one backend that also trains (mode "train").
    - "openvino": linkc's ONNX export compiled by OpenVINO for the CPU, its precision
      pinned (it would otherwise run fp32 models in bf16 on AMX/avx512_bf16 CPUs).
    - "onnxruntime": the same export in ONNX Runtime (fp32).
    - "auto": at the first call, times the installed ones on that call's batch (a few
      interleaved calls), keeps the fastest and says which (`.backend`, `.choice`, a
      log line on the "linkc.optimize" logger); the choice is cached per graph, batch
      and machine in ~/.cache/linkc/backends.json (or $LINKC_CACHE_DIR).

    `precision` "bf16" runs in bfloat16 where it pays (inductor under autocast,
    OpenVINO's bf16 hint); outputs stay fp32. An unknown or impossible combination is
    a `UserError`. It is what `linkc bench` times as (5); see
    linkc/compiler/emit/backends.py."""
    from .compiler.emit.backend_choice import optimize as _optimize

    return _optimize(model, mode, backend, precision, **options)


def import_module(module, input_shape, name: str | None = None):
    """An nn.Module -> `linkc.importer.ImportResult` (the spec's text and the module's
    weights under the spec's names); `input_shape` is one sample's shape."""
    from .importer import import_module as _import

    return _import(module, input_shape, name=name)


def transfer_weights(module, spec: str | os.PathLike, params: Mapping[str, Any] | None = None):
    """A trained nn.Module's weights onto a spec of the same network (a file, YAML text or
    zoo name), its layers paired by the graph both compute: a
    `linkc.importer.transfer.TransferResult` (`.weights` under the spec's names, `.model`
    the compiled spec holding them); a `UserError` names where the two graphs part."""
    from .importer.transfer import transfer_weights as _transfer

    return _transfer(module, spec, params=params)

def draw(spec: str | os.PathLike, path: str | os.PathLike, **options):
    """Draw the spec's DAG to `path` (.svg, .png, .pdf, .dot, .mmd); `options` as
    `linkc.render.render_file` (depth, expand, highlight)."""
    from .render import render_file

    return render_file(build(spec), path, **options)
