"""Inference and training engines for a compiled spec, after linkc's passes.

`build(gm, backend, mode, precision)` gives a callable `nn.Module` that takes and
returns torch tensors, as `gm` does, run by one engine:

- ``inductor``: torch.compile with linkc's defaults (compiler/emit/torch_compile.py),
  in both modes; bf16 runs it under CPU autocast (AMP's split: the forward in bf16
  where autocast allows, the backward outside it).
- ``openvino``: linkc's ONNX export of the module, read by OpenVINO's model converter
  and compiled for its CPU plugin with ``INFERENCE_PRECISION_HINT`` pinned: on CPUs
  with AMX or avx512_bf16 OpenVINO otherwise runs an fp32 model in bf16, silently.
  Inference only.
- ``onnxruntime``: the same ONNX export in ONNX Runtime's CPU provider; fp32 and
  inference only (its CPU provider has no bf16 convolutions).

Every module runs the engine with torch's thread count and keeps ``backend`` and
``precision`` as attributes (the precision the engine reports, never just the one
asked for). The bf16 modules return fp32 outputs, as their fp32 twins do.
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import fx, nn

from ...errors import UserError
from ..signature import example_inputs, output_names

PRECISIONS = ("fp32", "bf16")
MODES = ("infer", "train")


class BackendError(UserError):
    """An unknown backend or precision, or one the chosen backend cannot run: exit 2."""


@dataclass(frozen=True)
class Backend:
    name: str
    packages: tuple[str, ...]  # the importable packages it needs
    modes: tuple[str, ...]
    precisions: tuple[str, ...]
    build: Callable[[Exports, str, str], nn.Module]  # (exports, mode, precision)
    install: str  # how to get the packages

    def installed(self) -> bool:
        return all(importlib.util.find_spec(p) is not None for p in self.packages)


class Exports:
    """The module being optimized and, made once on first need, its ONNX export (which
    OpenVINO and ONNX Runtime both read: `backend="auto"` exports once)."""

    def __init__(self, gm: fx.GraphModule):
        self.gm = gm
        self._onnx: Path | None = None

    def onnx(self) -> Path:
        if self._onnx is None:
            from .export import _export_onnx

            path = Path(tempfile.mkdtemp(prefix="linkc-optimize-")) / "model.onnx"
            with torch.no_grad():
                # a batch of 2: torch.export would specialise a batch of 1; the file
                # keeps a dynamic batch
                _export_onnx(self.gm.eval(), example_inputs(self.gm, 2), path)
            self._onnx = path
        return self._onnx


class Engine(nn.Module):
    """A module whose forward is an engine's call; the wrapped GraphModule stays
    reachable as `source` (not a submodule: its weights are the engine's copy now)."""

    def __init__(self, backend: str, precision: str, source: fx.GraphModule):
        super().__init__()
        self.backend, self.precision = backend, precision
        self.__dict__["source"] = source
        self._single = len(output_names(source)) == 1

    def _outputs(self, arrays) -> torch.Tensor | tuple[torch.Tensor, ...]:
        outs = tuple(torch.from_numpy(a) for a in arrays)
        return outs[0] if self._single else outs


class OnnxRuntimeModule(Engine):
    def __init__(self, session, source: fx.GraphModule):
        super().__init__("onnxruntime", "fp32", source)
        self.session = session
        self.names = [i.name for i in session.get_inputs()]

    def forward(self, *xs: torch.Tensor):
        feeds = {name: x.detach().cpu().contiguous().numpy() for name, x in zip(self.names, xs)}
        return self._outputs(self.session.run(None, feeds))


class OpenVinoModule(Engine):
    def __init__(self, compiled, precision: str, source: fx.GraphModule):
        super().__init__("openvino", precision, source)
        self.request = compiled.create_infer_request()

    def forward(self, *xs: torch.Tensor):
        # share_outputs=False: the results are copies, not the request's own buffers,
        # which the next call overwrites
        results = self.request.infer([x.detach().cpu().contiguous().numpy() for x in xs],
                                     share_inputs=True, share_outputs=False)
        return self._outputs(results[i] for i in range(len(results)))


class Autocast(nn.Module):
    """Calls `inner` under bf16 CPU autocast and gives its floating outputs back as fp32."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.backend, self.precision = inner, "inductor", "bf16"

    def forward(self, *xs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.inner(*xs)
        if isinstance(out, tuple):
            return tuple(o.float() if o.is_floating_point() else o for o in out)
        return out.float()


def _inductor(exports: Exports, mode: str, precision: str) -> nn.Module:
    from .torch_compile import compile_module

    compiled = compile_module(exports.gm, mode)
    if precision == "bf16":
        return Autocast(compiled)
    compiled.backend, compiled.precision = "inductor", "fp32"
    return compiled


def compile_openvino(model, precision: str):
    """An OpenVINO model compiled for the CPU at `precision`; refuses a bf16 request that
    the CPU plugin turns into f32 (a CPU without bf16 instructions)."""
    from .openvino_cpu import compile_for_cpu

    compiled, got = compile_for_cpu(model, precision)
    if precision == "bf16" and "bf16" not in got and "bfloat16" not in got:
        raise BackendError(f"OpenVINO runs this model in {got} on this CPU, not bf16 (the "
                           "CPU has no avx512_bf16 or AMX); use precision='fp32'")
    return compiled


def _openvino(exports: Exports, mode: str, precision: str) -> nn.Module:
    import openvino as ov

    model = ov.convert_model(str(exports.onnx()))
    return OpenVinoModule(compile_openvino(model, precision), precision, exports.gm)


def onnxruntime_session(path: Path):
    """An ONNX Runtime CPU session with torch's thread count."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _onnxruntime(exports: Exports, mode: str, precision: str) -> nn.Module:
    return OnnxRuntimeModule(onnxruntime_session(exports.onnx()), exports.gm)


_EXPORT = ("onnx", "onnxscript")
BACKENDS = {b.name: b for b in (
    Backend("inductor", (), MODES, PRECISIONS, _inductor, "torch"),
    Backend("openvino", ("openvino", *_EXPORT), ("infer",), PRECISIONS, _openvino,
            "pip install 'linkc[openvino,export]'"),
    Backend("onnxruntime", ("onnxruntime", *_EXPORT), ("infer",), ("fp32",), _onnxruntime,
            "pip install 'linkc[export]'"),
)}


def check_request(backend: str, mode: str, precision: str) -> None:
    """A clear error for a backend, mode or precision that cannot run ('auto' passes)."""
    if mode not in MODES:
        raise BackendError(f"unknown mode '{mode}': use 'infer' or 'train'")
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision '{precision}': use one of {', '.join(PRECISIONS)}")
    if backend == "auto":
        return
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend '{backend}': use one of "
                           f"{', '.join([*BACKENDS, 'auto'])}")
    b = BACKENDS[backend]
    if mode not in b.modes:
        raise BackendError(f"backend '{backend}' runs inference only: use mode='infer', or "
                           "backend='inductor' to train")
    if precision not in b.precisions:
        raise BackendError(f"backend '{backend}' runs {', '.join(b.precisions)} only: use "
                           f"precision='fp32', or backend 'openvino' or 'inductor' for bf16")
    if not b.installed():
        raise BackendError(f"backend '{backend}' is not installed: {b.install}")


def candidates(mode: str, precision: str) -> list[str]:
    """The installed backends that can run `mode` at `precision`."""
    return [name for name, b in BACKENDS.items()
            if mode in b.modes and precision in b.precisions and b.installed()]


def build(gm: fx.GraphModule, backend: str, mode: str = "infer", precision: str = "fp32",
          exports: Exports | None = None) -> nn.Module:
    """`gm` run by `backend` (not 'auto': see backend_choice) in `mode` at `precision`."""
    check_request(backend, mode, precision)
    if backend == "auto":
        raise BackendError("build() takes one backend; 'auto' is chosen by linkc.optimize")
    gm.train(mode == "train")
    return BACKENDS[backend].build(exports or Exports(gm), mode, precision)
