"""`linkc bench --profile`: where one inference call's (or training step's) time goes,
by kind of op.

Inference: three builds of the spec's inference module with the same passes (the
inference defaults unless `passes` is given): ``eager``; ``compiled``, plain
torch.compile; and ``compiled_frozen``, linkc's inference compile stage (freezing, see
compiler/torch_compile.py). Training (`mode="train"`): ``eager`` and ``compiled``
(linkc's training compile stage) of the training module, each running the bench's SGD
step. Each is profiled with torch.profiler for `reps` calls; the self time of every
recorded op is charged to the outermost op above it that a rule below names (a
convolution's oneDNN call to the convolution, inductor's fused kernels by the ops
their names list, everything inside the optimizer step to the optimizer), so each
microsecond is counted once.

Throughput is timed apart from the profiler, interleaved with two large fp32 matmuls
of the same MACs, one through torch.mm (MKL) and one as a oneDNN 1x1 convolution; the
faster one's rate is the machine's fp32 peak as torch reaches it. Both are needed: on
AMD CPUs MKL keeps to its AVX2 kernels while oneDNN, which runs the convolutions, uses
AVX-512 (2-core EPYC: 67-80 against 93-99 G MAC/s), and the convolutions measured
against MKL alone came out above 100% of "the peak". "share of peak" is the
spec's MACs per image (`linkc analyze`) times images/s over that rate. A training step
counts three times the forward MACs: the forward, the input gradients and the weight
gradients each multiply the same pairs.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import torch

#: convolution op -> (index of its input, index of its weight) in the recorded shapes
CONV = {name: (0, 1) for name in (
    "aten::conv2d", "aten::convolution", "aten::_convolution", "aten::mkldnn_convolution",
    "mkldnn::_convolution_pointwise", "mkldnn::_convolution_pointwise_")}
CONV.update({name: (1, 2) for name in (  # (grad_output, input, weight, ...)
    "aten::convolution_backward", "aten::mkldnn_convolution_backward")})
#: (category, substrings of an op or kernel name), first match wins; conv is by shape.
RULES = (
    ("optimizer", ("Optimizer.",)),  # the record_function torch.optim wraps step() in
    ("loss", ("cross_entropy", "nll_loss", "log_softmax")),
    ("BN-ReLU", ("batch_norm", "relu", "threshold", "clamp_min")),
    ("concat / copy", ("aten::cat", "cat_", "_cat", "copy_", "aten::clone")),
    ("linear", ("aten::linear", "aten::addmm", "aten::mm")),
    ("pool", ("pool", "aten::mean")),
    ("add / mul", ("aten::add", "aten::mul", "aten::div", "add_", "mul_")),
)
#: The compiled graph's own frames (dynamo's guards, the AOT wrapper, inductor's Python
#: wrapper): they enclose the kernels, so only their self time, the Python between
#: kernels, is charged to them, and only when no named op encloses it.
GRAPH_RUNTIME = ("Call CompiledFxGraph", "TorchDynamo Cache Lookup", "CompiledFunction",
                 "Torch-Compiled Region", "AOTDispatcher", "Pregraph bytecode")
CATEGORIES = ("conv 1x1", "conv 3x3", "conv other", "BN-ReLU", "concat / copy", "linear",
              "pool", "add / mul", "loss", "optimizer", "graph runtime", "other")
#: MACs of one training step over those of one forward (see the module's docstring)
TRAIN_MACS = 3
MATMUL_N = 2048


#: the reference matmuls of the peak (see the module's docstring)
PEAK_CALLS = ("MKL", "oneDNN")


def _peak_calls() -> dict:
    """MATMUL_N^3 MACs through each library; under no_grad, as the inference calls."""
    n = MATMUL_N
    a = torch.randn(n, n)
    # the same product as a 1x1 convolution: n pixels of n channels, n filters
    x = torch.randn(1, n, 32, n // 32).contiguous(memory_format=torch.channels_last)
    w = torch.randn(n, n, 1, 1).contiguous(memory_format=torch.channels_last)

    def conv():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, w)
    return {"MKL": lambda: torch.mm(a, a), "oneDNN": conv}


def _conv_operands(event) -> tuple[int, int]:
    """(index of the input, index of the weight) among the event's recorded shapes."""
    shapes = event.input_shapes
    # oneDNN's convolution with a fused binary post-op (a frozen residual add) also takes
    # the other addend: (X, other, W, ...), in place (other, X, W, ...)
    if event.name.startswith("mkldnn::") and len(shapes) > 2 and len(shapes[2]) == 4:
        return (1 if event.name.endswith("_") else 0), 2
    return CONV[event.name]


def _conv_kind(event) -> str:
    shapes = event.input_shapes
    at_x, at_w = _conv_operands(event)
    if len(shapes) <= at_w or len(shapes[at_w]) != 4:
        return "conv other"
    x, w = shapes[at_x], shapes[at_w]
    if len(x) == 4 and x[1] != w[1]:
        return "conv other"  # grouped or depthwise
    return {(1, 1): "conv 1x1", (3, 3): "conv 3x3"}.get(tuple(w[2:]), "conv other")


def _category(event) -> str | None:
    if event.name in CONV:
        return _conv_kind(event)
    for name, keys in RULES:
        if any(k in event.name for k in keys):
            return name
    return None


def _charge(events) -> dict[str, float]:
    """Self microseconds per category, each event charged to its outermost named op."""
    out: dict[str, float] = defaultdict(float)
    for e in events:
        kind, up = None, e
        while up is not None:
            kind = _category(up) or kind
            up = up.cpu_parent
        if kind is None:
            kind = "graph runtime" if any(k in e.name for k in GRAPH_RUNTIME) else "other"
        out[kind] += e.self_cpu_time_total
    return out


def _profiled(call, reps: int) -> dict[str, float]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(reps):
            call()
    return {k: v / reps / 1000 for k, v in _charge(prof.events()).items()}  # ms per call


def _builds(spec, passes, options, mode):
    import linkc
    from ..compiler.emit.torch_compile import compile_module

    def fresh():
        torch.manual_seed(0)
        gm = linkc.compile(spec, passes=passes, mode=mode, **options)
        return gm.train(mode == "train")
    yield "eager", fresh()
    if mode == "train":
        yield "compiled", compile_module(fresh(), "train")
        return
    yield "compiled", torch.compile(fresh(), dynamic=False)
    yield "compiled_frozen", compile_module(fresh(), "infer")


def profile_spec(spec: str, batch: int = 32, reps: int = 3, passes: list[str] | None = None,
                 log=lambda s: None, params: dict | None = None,
                 include_path: list | tuple = (), mode: str = "infer") -> dict:
    """The report: per build, ms per call by category, images/s and share of the peak;
    `mode` "train" profiles a training step (forward, loss, backward, SGD step)."""
    import linkc
    from ..analyze.macs import count_macs
    from ..analyze.params import lower_meta
    from ..compiler.passes import default_passes
    from .timing import infer_call, interleaved, train_step

    options = {"params": dict(params or {}), "include_path": [str(p) for p in include_path]}
    graph = linkc.build(spec, **options)
    macs, _ = count_macs(graph, lower_meta(graph))
    passes = default_passes(mode) if passes is None else passes
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *graph.input_shape), generator=gen)
    y = torch.randint(0, graph.nodes[graph.output].shape[0], (batch,), generator=gen)
    calls = _peak_calls()
    # inductor's kernels say their names to the profiler (one check per call otherwise)
    with torch._inductor.config.patch({"cpp.enable_kernel_profile": True}):
        for name, model in _builds(spec, passes, options, mode):
            log(f"{graph.name}: {name}")
            calls[name] = train_step(model, x, y) if mode == "train" else \
                infer_call(model, x)
            calls[name]()  # compiles
    times = interleaved(calls, max(reps, 3), torch.device("cpu"))  # as bench times
    peaks = {name: MATMUL_N ** 3 / statistics.median(times.pop(name)) for name in PEAK_CALLS}
    peak = max(peaks.values())
    work = macs * (TRAIN_MACS if mode == "train" else 1)
    report = {"spec": graph.name, "mode": mode, "batch": batch,
              "threads": torch.get_num_threads(), "passes": passes, "macs_per_image": macs,
              "macs_per_call_image": work, "peak_macs_per_s": peak,
              "peak_by_library": peaks, "builds": {}}
    for name, ts in times.items():
        rate = batch / statistics.median(ts)
        report["builds"][name] = {"images_per_s": rate, "share_of_peak": work * rate / peak,
                                  "ms_per_call": _profiled(calls[name], reps)}
    return report


def format_profile(report: dict) -> str:
    builds = report["builds"]
    step = report["mode"] == "train"
    lines = [f"{report['spec']}: {'training step' if step else 'inference'}, batch "
             f"{report['batch']}, {report['threads']} threads, fp32, passes "
             f"{','.join(report['passes']) or 'none'}",
             f"{report['macs_per_image'] / 1e6:.1f} M MACs/image"
             + (f" forward, x{TRAIN_MACS} per training step" if step else "")
             + f"; fp32 peak (the faster {MATMUL_N}^3 matmul in the same run: "
             + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in report["peak_by_library"].items())
             + ") " + f"{report['peak_macs_per_s'] / 1e9:.1f} G MAC/s",
             f"{'ms per call (share)':20}" + "".join(f"{name:>24}" for name in builds)]
    for cat in CATEGORIES:
        row = [b["ms_per_call"].get(cat, 0.0) for b in builds.values()]
        if any(row):
            lines.append(f"{cat:20}" + "".join(
                f"{ms:15.1f} ({ms / sum(b['ms_per_call'].values()):5.1%})"
                for ms, b in zip(row, builds.values())))
    lines.append(f"{'profiled total':20}" + "".join(
        f"{sum(b['ms_per_call'].values()):24.1f}" for b in builds.values()))
    lines.append(f"{'images/s (untraced)':20}" + "".join(
        f"{b['images_per_s']:24.1f}" for b in builds.values()))
    lines.append(f"{'share of fp32 peak':20}" + "".join(
        f"{b['share_of_peak']:24.1%}" for b in builds.values()))
    return "\n".join(lines)
