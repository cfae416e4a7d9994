"""`bench()`: build every variant, time them in interleaved rounds, write the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import timing as t
from .memory import peak_in_child, peak_step_memory_mb
from .refs import BenchError, load_references, match_reference, reference_factory
from .report import device_name, fill_best_anchor, fill_ratios
from .variants import (Variant, amp_dtype, bf16_twins, compile_for, linkc_backend_variant,
                       linkc_model, onnx_call, openvino_anchor)

#: A variant whose rounds spread more than this (max - min over the median) is flagged.
NOISY = 0.25
MODES = ("infer", "train")


@dataclass
class Setup:
    spec: str
    dev: torch.device
    options: dict
    graph: object  # the FlatGraph
    x: torch.Tensor
    y: torch.Tensor
    passes: dict[str, list[str]]
    reference: str | None  # its name, or None


def bench(spec: str, batch: int = 64, reps: int = 5, warmup: int = 2,
          reference: str | None = None, compile: bool = True, device: str = "auto",
          onnx: bool = False, amp: bool = False, openvino: bool = False,
          backends: tuple[str, ...] = ("inductor",), modes: tuple[str, ...] = MODES,
          log: Callable[[str], None] = lambda s: None, max_memory: str | None = None,
          params: dict | None = None, include_path: list | tuple = ()) -> dict:
    """Build and time the variants (see linkc.bench) and return the JSON report.
    `backends` run linkc's row (5) (`linkc.optimize`'s names; inductor is the one that
    also trains); `modes` what is timed (inference, training steps or both: a mode left
    out is neither compiled nor timed); `params` and `include_path` are those of
    `linkc.build`."""
    from ..compiler.emit.backends import check_request

    for backend in backends:  # a clear error before minutes of building
        check_request(backend, "infer", "fp32")
    if "infer" not in modes:  # the engines other than inductor only infer
        backends, onnx, openvino = tuple(b for b in backends if b == "inductor"), False, False
    s = _setup(spec, batch, device, reference, max_memory, params, include_path)
    report = _header(s, reps, warmup, compile)
    dtype = amp_dtype(s.dev, log) if amp else None
    built = {v.key: v for v in _variants(s, compile, report, backends, dtype)}
    if dtype is not None:
        built.update((v.key, v) for v in bf16_twins(built, dtype))
    built.update((v.key, v) for v in _anchors(s, onnx, openvino, dtype, report))
    calls = {mode: {} for mode in MODES}
    firsts: dict[tuple[str, str], float | None] = {}
    for v in built.values():  # everything is built before anything is timed
        log(f"{s.graph.name}: {v.label}")
        cast = t.autocast_for(s.dev, v.dtype)
        if "infer" not in modes:
            pass
        elif "call" in v.models:  # an engine's own call (ONNX Runtime's session)
            calls["infer"][v.key] = v.models["call"]
        else:
            v.models["infer"].eval()
            calls["infer"][v.key] = t.infer_call(v.models["infer"], v.x, cast)
        if "train" in v.models and "train" in modes:
            v.models["train"].train()
            calls["train"][v.key] = t.train_step(v.models["train"], v.x, s.y, cast)
        for mode in MODES:
            if v.key in calls[mode]:
                firsts[v.key, mode] = t.warm_up(calls[mode][v.key], warmup, s.dev, v.compiled)
        chosen = getattr(v.models.get("infer"), "choice", None)
        if chosen:
            report.setdefault("auto_choice", {})[v.key] = chosen
            log(f"{s.graph.name}: {v.key} chose {chosen['backend']} ({chosen['source']})")
    log(f"{s.graph.name}: {reps} interleaved rounds of {len(built)} variants")
    times = {mode: t.interleaved(calls[mode], reps, s.dev) for mode in MODES}
    _timings(report, built, times, firsts, batch, reps)
    _memory(report, s, calls["train"], built, compile)
    fill_ratios(report, times, [b for b in ("reference", "expert", *_bf16_base(built),
                                            "onnxruntime") if b in built])
    fill_best_anchor(report, times, built)
    return report


def _anchors(s: Setup, onnx: bool, openvino: bool, dtype, report: dict):
    """The engines a user could run linkc's ONNX export of (4) in, exported once."""
    if not (onnx or openvino):
        return
    from ..compiler.emit.backends import Exports

    exports = Exports(linkc_model(s.spec, s.passes["infer"], "infer", torch.device("cpu"),
                                  s.options).eval())
    warn = report["warnings"].append
    if onnx:
        yield Variant("onnxruntime", {"call": onnx_call(exports, s.x, warn)}, s.x)
    if openvino:
        yield openvino_anchor(exports, "fp32", s.x, warn)
        if dtype is not None:
            yield openvino_anchor(exports, "bf16", s.x, warn)


def _bf16_base(built: dict) -> list[str]:
    """The hand-written bf16 twin, the base of the bf16 ratios."""
    return [k for k in ("expert_bf16", "reference_bf16") if k in built][:1]


def _setup(spec, batch, device, reference, max_memory, params, include_path) -> Setup:
    import linkc
    from ..compiler.passes import default_passes

    from ..train.config import ConfigError
    from ..train.distributed import resolve_device

    try:
        dev = resolve_device(device)
    except ConfigError as exc:
        raise BenchError(str(exc)) from None
    options = {"params": dict(params or {}), "include_path": [str(p) for p in include_path]}
    graph = linkc.build(spec, **options)
    if len(graph.inputs) > 1:
        raise BenchError(f"linkc bench measures specs with one input; '{graph.name}' takes "
                         f"{len(graph.inputs)} ({', '.join(graph.inputs)})")
    _check_memory(graph, batch, dev, max_memory)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *graph.input_shape), generator=gen).to(dev)
    y = torch.randint(0, graph.nodes[graph.output].shape[0], (batch,), generator=gen).to(dev)
    ref = reference or match_reference(graph.name, load_references().REFERENCES)
    return Setup(str(spec), dev, options, graph, x, y,
                 {mode: default_passes(mode) for mode in MODES}, ref)


def _check_memory(graph, batch: int, dev: torch.device, max_memory: str | None) -> None:
    """A training step and an inference call at `batch`, checked before either exists."""
    from ..analyze.budget import check_memory, estimate_memory

    estimate = estimate_memory(graph, batch, training=True, eval_batch=batch)
    free = (torch.cuda.mem_get_info(dev)[0], f"the free memory of {dev}") \
        if dev.type == "cuda" else None
    check_memory(estimate, max_memory, f"benchmarking {graph.name}", "--batch", free)


def _make_reference(s: Setup):
    """The hand-written module's factory; 'lowered': linkc's module without passes."""
    if s.reference == "lowered":
        return lambda: linkc_model(s.spec, [], "train", torch.device("cpu"), s.options)
    return reference_factory(s.reference) if s.reference else None


def _header(s: Setup, reps: int, warmup: int, compile: bool) -> dict:
    report = {"spec": s.graph.name, "device": device_name(s.dev), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "batch": len(s.x),
              "input": list(s.graph.input_shape), "reps": reps, "warmup": warmup,
              "settle_s": t.SETTLE,
              "passes": s.passes, "compile": compile,
              "memory_method": "cuda max_memory_allocated" if s.dev.type == "cuda" else
              "VmHWM - VmRSS of one training step (mmap threshold fixed, peak reset)",
              "reference": None, "warnings": [], "variants": {}}
    make = _make_reference(s)
    if make is None:
        report["warnings"].append(
            f"no hand-written reference for '{s.graph.name}': comparing linkc's variants"
            + (" and torch.compile" if compile else "") + " only, (1) and (2) are not "
            "measured; --reference MODULE:CALLABLE benches against your own nn.Module")
        return report
    linkc_params = sum(p.numel() for p in linkc_model(s.spec, [], "train", torch.device("cpu"),
                                                      s.options).parameters())
    ref_params = sum(p.numel() for p in make().parameters())
    report["reference"] = {"name": s.reference, "params": ref_params,
                           "linkc_params": linkc_params, "params_equal": ref_params == linkc_params}
    if ref_params != linkc_params:
        report["warnings"].append(
            f"PARAMETER COUNTS DIFFER: reference '{s.reference}' has {ref_params:,}, the "
            f"spec '{s.graph.name}' {linkc_params:,}: the two are not the same network")
    return report


def _variants(s: Setup, compile: bool, report: dict, backends=("inductor",), dtype=None):
    """key -> Variant, built lazily one at a time: fp32, and with `dtype` the bf16 rows
    of linkc's other backends (bf16_twins makes the autocast ones)."""
    make = _make_reference(s) if report["reference"] else None
    if make is not None:
        yield Variant("reference", _per_mode(lambda m: make().to(s.dev)), s.x)
        if compile:
            yield Variant("expert", _per_mode(lambda m: compile_for(
                "expert", make().to(s.dev, memory_format=torch.channels_last))),
                s.x.contiguous(memory_format=torch.channels_last), compiled=True)
    yield Variant("linkc", _per_mode(lambda m: linkc_model(s.spec, [], m, s.dev, s.options)),
                  s.x)
    fused = {m: linkc_model(s.spec, s.passes[m], m, s.dev, s.options) for m in MODES}
    yield Variant("linkc_passes", fused, s.x)
    if not compile:
        return
    for backend in backends:
        if backend == "inductor":
            yield Variant("linkc_compiled", {m: compile_for(m, fused[m]) for m in MODES}, s.x,
                          compiled=True)
            continue
        precisions = ("fp32", "bf16") if dtype is not None else ("fp32",)
        for precision in precisions:
            if backend == "onnxruntime" and precision == "bf16":
                continue  # fp32 only (backends.BACKENDS)
            yield linkc_backend_variant(backend, precision, linkc_model(
                s.spec, s.passes["infer"], "infer", s.dev, s.options), s.x)


def _per_mode(build) -> dict:
    """One module per mode, each with the same initial weights. One module shared by
    both would be left in the mode set last (train), and its inference would then be
    timed with batch statistics instead of eval-mode BN."""
    out = {}
    for mode in MODES:
        torch.manual_seed(0)
        out[mode] = build(mode)
    return out


def _timings(report, built, times, firsts, batch: int, reps: int) -> None:
    for key, v in built.items():
        entry = {"label": v.label, "dtype": v.precision, "precision": v.precision}
        for mode in MODES:
            entry[mode] = (t.timing(times[mode][key], batch, firsts.get((key, mode))).as_dict()
                           if key in times[mode] else None)
            spread = entry[mode] and entry[mode]["spread"]
            if spread and spread > NOISY:
                report["warnings"].append(
                    f"NOISY: {key} {mode} spread {spread:.0%} over {reps} rounds (max - min "
                    "over the median); rerun with more --reps on a quieter machine")
        report["variants"][key] = entry


def _memory(report, s: Setup, steps: dict, built: dict, compile: bool) -> None:
    """Peak memory of a training step per variant: fp32 eager ones only on the CPU."""
    for key, entry in report["variants"].items():
        v = built[key]
        if key not in steps:  # ONNX Runtime: inference only
            entry["train_peak_mb"] = None
        elif s.dev.type == "cuda":
            entry["train_peak_mb"] = peak_step_memory_mb(steps[key], s.dev)
        else:
            # On the CPU freed memory is not reliably returned between variants in one
            # process, so each eager variant is measured in a fresh one.
            entry["train_peak_mb"] = (
                None if v.compiled or v.dtype is not None else
                peak_in_child(s.spec, key, s.reference, s.passes["train"], len(s.x), s.options))
    if s.dev.type == "cpu" and compile:
        report["warnings"].append("CPU peak memory of the compiled variants is not measured "
                                  "(it would mean compiling again in a fresh process)")
