"""The variants a bench times, each built once before any is timed.

A variant is the module it calls per mode, the input it feeds, and the precision
it runs in. The bf16 twins (``--amp``) call the same modules as their fp32
originals under ``torch.autocast(dtype=bfloat16)`` (a compiled module compiles
again for the autocast state, under its own guard).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .refs import BenchError

VARIANTS = {
    "reference": "hand-written eager (1)",
    "expert": "hand-written, channels_last + torch.compile (2)",
    "linkc": "linkc, no passes (3)",
    "linkc_passes": "linkc, default passes (4)",
    "linkc_compiled": "linkc, passes + torch.compile (5)",
    "onnxruntime": "linkc's ONNX export (4) in ONNX Runtime (6)",
    "openvino": "linkc's ONNX export (4) in OpenVINO, f32 pinned (7)",
    "openvino_bf16": "linkc's ONNX export (4) in OpenVINO, bf16 hint (7b)",
    "reference_bf16": "hand-written eager, bf16 autocast (1b)",
    "expert_bf16": "hand-written, channels_last + compile, bf16 (2b)",
    "linkc_passes_bf16": "linkc, default passes, bf16 autocast (4b)",
    "linkc_compiled_bf16": "linkc, passes + compile, bf16 (5b)",
}
#: Per precision, what a user could run instead of linkc: the hand-written module's
#: fastest variant, and the engines reading linkc's ONNX export. Every row's ratio is
#: also taken to the fastest of these in its precision (report.fill_best_anchor).
ANCHORS = {"fp32": (("expert", "reference"), ("onnxruntime",), ("openvino",)),
           "bf16": (("expert_bf16", "reference_bf16"), ("openvino_bf16",))}
#: The fp32 variant each bf16 twin runs, in order of preference (compiled first).
BF16_OF = {"hand": ("expert", "reference"), "linkc": ("linkc_compiled", "linkc_passes")}
COMPILED = ("expert", "linkc_compiled")


@dataclass
class Variant:
    key: str
    models: dict[str, nn.Module]  # mode -> module
    x: torch.Tensor
    dtype: torch.dtype | None = None  # autocast dtype; None: no autocast
    compiled: bool = False
    label: str = field(default="")
    #: the arithmetic it runs: bf16 under autocast, or as its engine reports it
    precision: str = ""

    def __post_init__(self):
        self.label = self.label or VARIANTS.get(self.key) or self.key
        if not self.precision:
            engine = getattr(self.models.get("infer"), "precision", None)
            self.precision = "bf16" if self.dtype is torch.bfloat16 else engine or "fp32"


def linkc_backend_variant(backend: str, precision: str, infer: nn.Module, x) -> Variant:
    """linkc's inference module (after the passes) run by `linkc.optimize(backend=...)`:
    an inference-only row (training has one backend, inductor: row (5))."""
    import linkc

    key = f"linkc_{backend}" + ("_bf16" if precision == "bf16" else "")
    mark = "5" + {"auto": "a", "openvino": "o", "onnxruntime": "r"}.get(backend, "") + \
        ("b" if precision == "bf16" else "")
    label = f"linkc, passes + optimize({backend}) ({mark})"
    model = linkc.optimize(infer.eval(), "infer", backend=backend, precision=precision)
    return Variant(key, {"infer": model}, x, compiled=True, label=label, precision=precision)


def openvino_anchor(exports, precision: str, x, warn: Callable[[str], None]) -> Variant:
    """OpenVINO on linkc's ONNX export of (4), its precision pinned (on the CPU: OpenVINO
    runs no CUDA device)."""
    from ..compiler.emit.backends import BackendError, build

    if x.device.type != "cpu":
        warn("OpenVINO runs on the CPU: the openvino variants ran there, the others on "
             f"{x.device}")
    try:
        model = build(exports.gm, "openvino", "infer", precision, exports)
    except BackendError as exc:
        raise BenchError(f"--openvino: {exc}") from None
    key = "openvino" + ("_bf16" if precision == "bf16" else "")
    return Variant(key, {"infer": model}, x.cpu(), precision=model.precision)


def amp_dtype(device: torch.device, log: Callable[[str], None]) -> torch.dtype | None:
    """The autocast dtype of the bf16 variants here, or None (said in one line)."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        log("--amp: this GPU has no bf16; the bf16 variants are skipped")
        return None
    from ..train.model_setup import cpu_bf16_supported

    if cpu_bf16_supported():
        return torch.bfloat16
    print("--amp: this CPU has no bf16 instructions (avx512_bf16/amx_bf16); the bf16 "
          "variants are skipped", file=sys.stderr)
    return None


def bf16_twins(built: dict[str, Variant], dtype: torch.dtype) -> list[Variant]:
    """The bf16 twin of the fastest hand-written and the fastest linkc variant built."""
    twins = []
    for candidates in BF16_OF.values():
        base = next((built[k] for k in candidates if k in built), None)
        if base is not None:
            twins.append(Variant(f"{base.key}_bf16", base.models, base.x, dtype, base.compiled))
    return twins


def linkc_model(spec, passes, mode, device, options) -> nn.Module:
    import linkc

    gm = linkc.compile(spec, passes=passes, mode=mode, **options).to(device)
    gm.train(mode == "train")
    return gm


def compile_for(mode: str, module: nn.Module) -> nn.Module:
    """linkc's compile stage for `mode` (see compiler/torch_compile.py); the expert's
    (mode "expert") is torch.compile with its defaults and static shapes."""
    from ..compiler.emit.torch_compile import compile_module

    if mode == "expert":
        return torch.compile(module, dynamic=False)
    return compile_module(module, mode)


def onnx_call(exports, x: torch.Tensor, warn: Callable[[str], None] = lambda s: None):
    """linkc's own ONNX export of the inference module (`exports`, a backends.Exports),
    run by ONNX Runtime on the device of `x`: its CUDA provider for a GPU where the
    installed build has one, else the CPU (and `warn` says so, since the other variants
    then run on another device)."""
    from ..compiler.emit.export import ExportError

    try:
        import onnxruntime
    except ImportError:
        raise BenchError("--onnx needs onnxruntime: pip install 'linkc[export]'") from None
    try:
        path = exports.onnx()
    except ExportError as exc:
        raise BenchError(str(exc)) from None
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if x.device.type == "cuda":
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        else:
            warn("ONNX Runtime here has no CUDA provider (it is in onnxruntime-gpu): the "
                 "onnxruntime variant ran on the CPU, the others on the GPU")
    session = onnxruntime.InferenceSession(str(path), opts, providers=providers)
    if providers[0] == "CUDAExecutionProvider":  # the input stays where the others' is
        import numpy as np

        binding = session.io_binding()
        x = x.contiguous()
        binding.bind_input(session.get_inputs()[0].name, "cuda", x.device.index or 0,
                           np.float32, list(x.shape), x.data_ptr())
        for output in session.get_outputs():
            binding.bind_output(output.name, "cuda", x.device.index or 0)
        return lambda held=x: session.run_with_iobinding(binding)  # held: the bound input
    feed = {session.get_inputs()[0].name: x.cpu().numpy()}
    return lambda: session.run(None, feed)
