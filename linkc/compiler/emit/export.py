"""GraphModule -> deployable artifacts: ONNX, OpenVINO IR, torch.export (.pt2), TorchScript.

Every artifact takes the spec's inputs in order, each of shape (batch, *sample
shape) with one dynamic batch dimension shared by all; in ONNX they are named
`input` (a spec with `input:`) or by their names in `inputs:`, and the outputs
`output` (one) or by the names in `outputs:` (several). Each artifact is checked
after writing: it is loaded back (ONNX through onnxruntime, the IR through OpenVINO's
CPU plugin with its precision pinned to f32) and run on batches of 1 and 3, and every
output must match the module's to `RTOL`/`ATOL`. The module is exported in eval mode
(BatchNorm uses its running statistics, dropout is off). When an export fails, each op of
the graph is exported on its own to name the ones that cannot be.
"""

from __future__ import annotations

from ...errors import UserError

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import fx, nn

from .export_probe import Format, failing_ops
from ..signature import as_tuple, example_inputs, input_shapes, output_names

RTOL, ATOL = 1e-4, 1e-5
CHECK_BATCHES = (1, 3)


class ExportError(UserError):
    """The module cannot be exported, or the artifact does not match it: exit 2."""


# ------------------------------------------------------------------ exporters
def _dynamic_batch(xs: tuple) -> tuple:
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    return tuple({0: batch} for _ in xs)


def _export_onnx(model: fx.GraphModule, xs: tuple, path: Path) -> None:
    try:
        import onnxscript  # noqa: F401 - the exporter needs it; fail here with the fix
    except ImportError:
        raise ExportError("ONNX export needs the onnx and onnxscript packages: "
                          "pip install 'linkc[export]'") from None
    torch.onnx.export(model, xs, str(path), input_names=list(input_shapes(model)),
                      output_names=output_names(model), dynamic_shapes=_dynamic_batch(xs),
                      dynamo=True, external_data=False, verbose=False, report=False)


def _run_onnx(path: Path) -> Callable[..., tuple]:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("checking an ONNX file needs onnxruntime: "
                          "pip install 'linkc[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(*xs):
        feeds = {name: x.numpy() for name, x in zip(names, xs)}
        return tuple(torch.from_numpy(y) for y in session.run(None, feeds))
    return run


def _export_openvino(model: fx.GraphModule, xs: tuple, path: Path) -> None:
    """linkc's ONNX export, read by OpenVINO's converter and saved as IR: `path` (.xml,
    the network) and the .bin beside it (the weights, kept in fp32)."""
    import tempfile

    if path.suffix != ".xml":
        raise ExportError(f"OpenVINO IR is a .xml file with a .bin beside it: write to "
                          f"'{path.with_suffix('.xml')}', not '{path}'")
    try:
        import openvino as ov
    except ImportError:
        raise ExportError("OpenVINO export needs openvino: pip install 'linkc[openvino]'") \
            from None
    with tempfile.TemporaryDirectory(prefix="linkc-export-") as tmp:
        onnx = Path(tmp) / "model.onnx"
        _export_onnx(model, xs, onnx)
        ov.save_model(ov.convert_model(str(onnx)), str(path), compress_to_fp16=False)


def _run_openvino(path: Path) -> Callable[..., tuple]:
    from .openvino_cpu import compile_for_cpu

    request = compile_for_cpu(str(path), "fp32")[0].create_infer_request()

    def run(*xs):
        results = request.infer([x.numpy() for x in xs], share_outputs=False)
        return tuple(torch.from_numpy(results[i]) for i in range(len(results)))
    return run


def _export_program(model: nn.Module, xs: tuple, path: Path) -> None:
    program = torch.export.export(model, xs, dynamic_shapes=_dynamic_batch(xs))
    torch.export.save(program, str(path))


def _run_program(path: Path) -> Callable[..., tuple]:
    module = torch.export.load(str(path)).module()
    return lambda *xs: as_tuple(module(*xs))


def _export_script(model: nn.Module, xs: tuple, path: Path) -> None:
    # Tracing, not scripting: the merges take *inputs, which TorchScript cannot
    # compile. Sizes are traced symbolically, so the batch stays dynamic (checked).
    traced = torch.jit.trace(model, xs, check_trace=False)
    torch.jit.save(traced, str(path))


def _run_script(path: Path) -> Callable[..., tuple]:
    module = torch.jit.load(str(path))
    return lambda *xs: as_tuple(module(*xs))


FORMATS = {f.name: f for f in (
    Format("onnx", ".onnx", _export_onnx, _run_onnx),
    Format("openvino", ".xml", _export_openvino, _run_openvino),
    Format("torch-export", ".pt2", _export_program, _run_program),
    Format("torchscript", ".pt", _export_script, _run_script),
)}


# -------------------------------------------------------------------- weights
def load_weights(gm: nn.Module, path: str | os.PathLike) -> None:
    """Load a safetensors file into `gm` strictly: every key present, none extra,
    every shape equal, or an ExportError that lists the differences."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        weights = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ExportError(f"cannot read weights '{path}': {exc}") from None
    expected = gm.state_dict()
    problems = []
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. {', '.join(extra[:3])})")
    shapes = [f"{k}: file {list(weights[k].shape)}, model {list(v.shape)}"
              for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if shapes:
        problems.append(f"{len(shapes)} with another shape ({'; '.join(shapes[:3])})")
    if problems:
        raise ExportError(f"weights '{path}' do not fit this spec: " + ", ".join(problems)
                          + ". Keys are the module's state_dict names, as `linkc compile` "
                            "writes them")
    gm.load_state_dict(weights, strict=True)


# --------------------------------------------------------------------- export
@dataclass
class Exported:
    path: Path
    format: str
    max_abs_diff: float  # over the checked batches


def export_module(gm: fx.GraphModule, fmt: str, path: str | os.PathLike,
                  check: bool = True) -> Exported:
    """Write `gm` as `fmt` (onnx, openvino, torch-export, torchscript) to `path`, then load the
    artifact back and check it against `gm` on batches of 1 and 3."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}': use one of {', '.join(FORMATS)}")
    spec_format = FORMATS[fmt]
    path = Path(path)
    model = gm.eval()
    example = example_inputs(gm, 2)
    try:
        with torch.no_grad():
            spec_format.write(model, example, path)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - turned into a message naming the ops
        culprits = failing_ops(gm, spec_format)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        detail = ("; ops that fail on their own:\n" + "\n".join(culprits)) if culprits else \
            "; every op exports on its own, so the failure is in how they are combined"
        raise ExportError(f"{fmt} export of {gm.meta['linkc'].get('name', 'the model')} "
                          f"failed: {first}{detail}") from None
    diff = check_artifact(gm, spec_format, path) if check else float("nan")
    return Exported(path, fmt, diff)


def check_artifact(gm: fx.GraphModule, fmt: Format, path: Path) -> float:
    """Largest difference between the artifact and `gm` on each checked batch size,
    over every output."""
    run = fmt.load(path)
    names = output_names(gm)
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for batch in CHECK_BATCHES:
        xs = example_inputs(gm, batch, generator=generator)
        with torch.no_grad():
            wants = as_tuple(gm(*xs))
            try:
                gots = run(*xs)
            except Exception as exc:  # noqa: BLE001
                raise ExportError(f"the {fmt.name} artifact fails on a batch of {batch}: "
                                  f"{str(exc).strip().splitlines()[0][:300]}") from None
        if len(gots) != len(wants):
            raise ExportError(f"the {fmt.name} artifact gives {len(gots)} outputs, the module "
                              f"{len(wants)}")
        for name, got, want in zip(names, gots, wants):
            what = "" if len(names) == 1 else f" output '{name}'"
            if tuple(got.shape) != tuple(want.shape):
                raise ExportError(f"the {fmt.name} artifact{what} gives shape {list(got.shape)} "
                                  f"for a batch of {batch}, the module {list(want.shape)}")
            diff = (got - want).abs().max().item()
            if not torch.allclose(got, want, rtol=RTOL, atol=ATOL):
                raise ExportError(f"the {fmt.name} artifact{what} differs from the module by "
                                  f"{diff:.3g} on a batch of {batch} (tolerance rtol={RTOL}, "
                                  f"atol={ATOL})")
            worst = max(worst, diff)
    return worst


def export_spec(spec, fmt: str, path: str | os.PathLike,
                weights: str | os.PathLike | None = None, check: bool = True) -> Exported:
    """Spec path, YAML text or built graph -> artifact (lowered without passes, so
    `--weights` keys are those `linkc compile` writes)."""
    from ...frontend import FlatGraph, build
    from ..lower import lower

    gm = lower(spec if isinstance(spec, FlatGraph) else build(spec))
    if weights is not None:
        load_weights(gm, weights)
    return export_module(gm, fmt, path, check=check)
