"""OpenVINO's CPU plugin with linkc's settings, shared by `linkc.optimize(backend=
"openvino")` and the IR export's check: the precision pinned (on CPUs with AMX or
avx512_bf16 the plugin otherwise runs an fp32 model in bf16, silently) and torch's
thread count."""

from __future__ import annotations

import torch

#: OpenVINO's names for linkc's precisions (its property reads back as a Type).
OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}


def openvino_config(precision: str) -> dict:
    return {"INFERENCE_PRECISION_HINT": OV_PRECISION[precision],
            "INFERENCE_NUM_THREADS": torch.get_num_threads()}


def compile_for_cpu(model, precision: str):
    """(compiled model, the precision the plugin reports) for an OpenVINO model or IR path."""
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", openvino_config(precision))
    return compiled, str(compiled.get_property("INFERENCE_PRECISION_HINT"))
