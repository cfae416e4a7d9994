"""The variants a bench times, each built once before any is timed.

A variant is the module it calls per mode, the input it feeds, and the precision
it runs in. The bf16 twins (``--amp``) call the same modules as their fp32
originals under ``torch.autocast(dtype=bfloat16)`` (a compiled module compiles
again for the autocast state, under its own guard).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
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
    "reference_bf16": "hand-written eager, bf16 autocast (1b)",
    "expert_bf16": "hand-written, channels_last + compile, bf16 (2b)",
    "linkc_passes_bf16": "linkc, default passes, bf16 autocast (4b)",
    "linkc_compiled_bf16": "linkc, passes + compile, bf16 (5b)",
}
#: The fp32 variant each bf16 twin runs, in order of preference (compiled first).
BF16_OF = {"hand": ("expert", "reference"), "linkc": ("linkc_compiled", "linkc_passes")}
COMPILED = ("expert", "linkc_compiled")


@dataclass
class Variant:
    key: str
    models: dict[str, nn.Module]  # mode -> module
    x: torch.Tensor
    dtype: torch.dtype | None = None  # autocast dtype; None: fp32
    compiled: bool = False
    label: str = field(default="")

    def __post_init__(self):
        self.label = self.label or VARIANTS[self.key]


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


def onnx_call(spec: str, passes: list[str], options: dict, x: torch.Tensor,
              warn: Callable[[str], None] = lambda s: None):
    """linkc's own ONNX export of the inference module, run by ONNX Runtime on the device
    of `x`: its CUDA provider for a GPU where the installed build has one, else the CPU
    (and `warn` says so, since the other variants then run on another device)."""
    import tempfile

    import linkc
    from ..compiler.emit.export import ExportError, _export_onnx

    try:
        import onnxruntime
    except ImportError:
        raise BenchError("--onnx needs onnxruntime: pip install 'linkc[export]'") from None
    gm = linkc.compile(spec, passes=passes, mode="infer", **options).eval()
    path = Path(tempfile.mkdtemp(prefix="linkc-bench-")) / "model.onnx"
    try:
        # a batch of 1 would be specialised by torch.export; the file keeps a dynamic batch
        sample = x.cpu() if len(x) > 1 else x.cpu().expand(2, *x.shape[1:]).contiguous()
        _export_onnx(gm, (sample,), path)
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
