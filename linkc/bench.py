"""`linkc bench`: a compiled spec against the hand-written PyTorch module of the same net.

Five variants, one process, the same input batch for all:

1. ``reference``      the hand-written eager module (linkc/references/, or the
                      user's own: ``--reference MODULE:CALLABLE``)
2. ``expert``         the same module, channels_last + torch.compile
3. ``linkc``          linkc without passes
4. ``linkc_passes``   linkc with the mode's default passes
5. ``linkc_compiled`` linkc with the default passes + torch.compile

6. ``onnxruntime``    (``--onnx``, inference only) linkc's ONNX export of (4) run by
                      ONNX Runtime with torch's thread count

For each: inference images/s (no_grad) and training-step images/s (forward,
cross-entropy, backward, SGD step). The timing is interleaved: every variant is
built first, and each of ``reps`` rounds times every variant once (inference
rounds, then training rounds), so a noisy neighbour slows all variants of a round
alike. Reported per variant: median / min / max over the rounds, and against (1)
and (2) the median of the per-round ratios with their min and max; a variant whose
own spread is over 25% is named in the warnings. Compile time (the first call of
a compiled module, minus one median call) is reported on its own and never enters
throughput; peak memory of one training step.

Peak memory. CUDA: ``torch.cuda.max_memory_allocated`` during one step minus what
was allocated before it. CPU: tracemalloc does not see torch's allocations, so the
bench measures the process's resident peak, in a fresh process per eager variant
(memory freed by one variant is not reliably returned before the next in one
process): it fixes glibc's mmap threshold (``mallopt``) so that every large tensor
is its own mapping and freed memory goes back to the OS at once, takes a warm-up
step, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), runs one
training step, and reports VmHWM minus the RSS before the step. That is the
activations and temporaries of a step, in bytes the OS really gave the process;
None where /proc does not allow it, and for compiled variants on the CPU.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

VARIANTS = {
    "reference": "hand-written eager (1)",
    "expert": "hand-written, channels_last + torch.compile (2)",
    "linkc": "linkc, no passes (3)",
    "linkc_passes": "linkc, default passes (4)",
    "linkc_compiled": "linkc, passes + torch.compile (5)",
    "onnxruntime": "linkc's ONNX export (4) in ONNX Runtime (6)",
}
#: A variant whose rounds spread more than this (max - min over the median) is flagged.
NOISY = 0.25
COMPILED = ("expert", "linkc_compiled")


class BenchError(Exception):
    """Bad bench request (no such reference, ...): exit 2."""


def load_references():
    """The hand-written references shipped with linkc (linkc/references)."""
    from . import references

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


@dataclass
class Timing:
    median: float  # images/s
    min: float
    max: float
    compile_s: float | None = None

    def as_dict(self) -> dict:
        return {"images_per_s": self.median, "min": self.min, "max": self.max,
                "spread": (self.max - self.min) / self.median if self.median else None,
                "compile_s": self.compile_s}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _warm_up(fn: Callable[[], object], warmup: int, device: torch.device,
             compiled: bool) -> float | None:
    """Untimed calls; for a compiled module the first one, which compiles, is returned."""
    first = None
    for i in range(max(warmup, 1 if compiled else 0)):
        t = _timed(fn, device)
        if i == 0:
            first = t
    return first


def _interleaved(calls: dict[str, Callable[[], object]], reps: int,
                 device: torch.device) -> dict[str, list[float]]:
    """Seconds per call, `reps` rounds, each round calling every variant once."""
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(reps):
        for key, fn in calls.items():
            times[key].append(_timed(fn, device))
    return times


def _timing(times: list[float], batch: int, first: float | None) -> Timing:
    med = statistics.median(times)
    compile_s = max(first - med, 0.0) if first is not None else None
    return Timing(batch / med, batch / max(times), batch / min(times), compile_s)


def _round_ratios(times: dict[str, list[float]], key: str, base: str) -> dict | None:
    """Throughput of `key` over `base`, round by round: median, min, max."""
    if key not in times or base not in times:
        return None
    per_round = [b / t for t, b in zip(times[key], times[base])]
    return {"median": statistics.median(per_round), "min": min(per_round),
            "max": max(per_round)}


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out  # several outputs: the main one
        loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
    return step


def _infer_call(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def call():
        with torch.no_grad():
            model(x)
    return call


# ------------------------------------------------------------------- memory
def _proc_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_freed_memory_eagerly() -> bool:
    """glibc: every allocation >= 64 KiB its own mmap, returned to the OS on free."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-3, 64 * 1024) == 1  # M_MMAP_THRESHOLD
        libc.malloc_trim(0)
        return ok
    except (OSError, AttributeError):
        return False


def peak_step_memory_mb(step: Callable[[], None], device: torch.device) -> float | None:
    """Peak extra memory of one training step, in MiB (see the module docstring)."""
    if device.type == "cuda":
        _sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _proc_kb("VmRSS")
    step()
    peak = _proc_kb("VmHWM")
    return None if before is None or peak is None else (peak - before) / 1024


def _peak_in_child(spec: str, key: str, ref_name: str | None, passes: list[str],
                   batch: int, options: dict) -> float | None:
    """One training step's peak extra memory (MiB), measured in a fresh process."""
    args = json.dumps([str(spec), key, ref_name, passes, batch, options])
    code = f"import json, linkc.bench as b; print(json.dumps(b._child_peak(*json.loads({args!r}))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=3600)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _child_peak(spec: str, key: str, ref_name: str | None, passes: list[str],
                batch: int, options: dict) -> float | None:
    """(In the child process.) Build one eager variant, take a warm-up step (so that
    gradients and one-time buffers exist), then measure the peak of the next step."""
    import linkc

    _release_freed_memory_eagerly()
    torch.manual_seed(0)
    if key == "reference":
        model = reference_factory(ref_name)()
    else:
        model = linkc.compile(spec, passes=passes if key == "linkc_passes" else [], mode="train",
                              **options)
    graph = linkc.build(spec, **options)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *graph.input_shape), generator=gen)
    y = torch.randint(0, graph.nodes[graph.output].shape[0], (batch,), generator=gen)
    model.train()
    step = _train_step(model, x, y)
    step()
    return peak_step_memory_mb(step, torch.device("cpu"))


# ------------------------------------------------------------------- variants
def _linkc_model(spec, passes, mode, device, options):
    import linkc

    gm = linkc.compile(spec, passes=passes, mode=mode, **options).to(device)
    gm.train(mode == "train")
    return gm


def _check_memory(graph, batch: int, dev: torch.device, max_memory: str | None) -> None:
    """A training step and an inference call at `batch`, checked before either exists."""
    from .analyze.budget import check_memory, estimate_memory

    estimate = estimate_memory(graph, batch, training=True, eval_batch=batch)
    free = (torch.cuda.mem_get_info(dev)[0], f"the free memory of {dev}") \
        if dev.type == "cuda" else None
    check_memory(estimate, max_memory, f"benchmarking {graph.name}", "--batch", free)


def bench(spec: str, batch: int = 64, reps: int = 5, warmup: int = 2,
          reference: str | None = None, compile: bool = True, device: str = "auto",
          onnx: bool = False,
          log: Callable[[str], None] = lambda s: None, max_memory: str | None = None,
          params: dict | None = None, include_path: list | tuple = ()) -> dict:
    """Run the five variants (three with compile=False) and return the JSON report.
    `params` and `include_path` are those of `linkc.build`."""
    import linkc
    from .compiler.passes import default_passes
    from .compiler.passes.torch_compile import compile_module

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    options = {"params": dict(params or {}), "include_path": [str(p) for p in include_path]}
    graph = linkc.build(spec, **options)
    if len(graph.inputs) > 1:
        raise BenchError(f"linkc bench measures specs with one input; '{graph.name}' takes "
                         f"{len(graph.inputs)} ({', '.join(graph.inputs)})")
    _check_memory(graph, batch, dev, max_memory)
    shape = tuple(graph.input_shape)
    classes = graph.nodes[graph.output].shape[0]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *shape), generator=gen).to(dev)
    y = torch.randint(0, classes, (batch,), generator=gen).to(dev)
    passes = {mode: default_passes(mode) for mode in ("infer", "train")}

    ref_name = reference or match_reference(graph.name, load_references().REFERENCES)
    make_reference = reference_factory(ref_name) if ref_name else None
    plain = _linkc_model(spec, [], "train", dev, options)
    report = {"spec": graph.name, "device": _device_name(dev), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "batch": batch, "input": list(shape),
              "reps": reps, "warmup": warmup, "passes": passes, "compile": compile,
              "memory_method": "cuda max_memory_allocated" if dev.type == "cuda" else
              "VmHWM - VmRSS of one training step (mmap threshold fixed, peak reset)",
              "reference": None, "warnings": [], "variants": {}}
    linkc_params = sum(p.numel() for p in plain.parameters())
    if make_reference is None:
        report["warnings"].append(
            f"no hand-written reference for '{graph.name}': comparing linkc's variants"
            + (" and torch.compile" if compile else "") + " only, (1) and (2) are not "
            "measured; --reference MODULE:CALLABLE benches against your own nn.Module")
    else:
        ref_params = sum(p.numel() for p in make_reference().parameters())
        report["reference"] = {"name": ref_name, "params": ref_params,
                               "linkc_params": linkc_params,
                               "params_equal": ref_params == linkc_params}
        if ref_params != linkc_params:
            report["warnings"].append(
                f"PARAMETER COUNTS DIFFER: reference '{ref_name}' has {ref_params:,}, the "
                f"spec '{graph.name}' {linkc_params:,}: the two are not the same network")

    def variants():  # key -> (mode -> module); built lazily, one at a time
        if make_reference is not None:
            torch.manual_seed(0)
            ref = make_reference().to(dev)
            yield "reference", {m: ref for m in ("infer", "train")}, x
            if compile:
                torch.manual_seed(0)
                expert = make_reference().to(dev, memory_format=torch.channels_last)
                fast = compile_module(expert)
                yield "expert", {m: fast for m in ("infer", "train")}, \
                    x.contiguous(memory_format=torch.channels_last)
        yield "linkc", {"infer": plain, "train": plain}, x
        fused = {m: _linkc_model(spec, passes[m], m, dev, options) for m in ("infer", "train")}
        yield "linkc_passes", fused, x
        if compile:
            yield "linkc_compiled", {m: compile_module(fused[m]) for m in fused}, x

    infer_calls, train_calls, firsts, steps = {}, {}, {}, {}
    for key, models, inp in variants():  # everything is built before anything is timed
        log(f"{graph.name}: {VARIANTS[key]}")
        compiled = key in COMPILED
        models["infer"].eval()
        infer_calls[key] = _infer_call(models["infer"], inp)
        firsts[key, "infer"] = _warm_up(infer_calls[key], warmup, dev, compiled)
        models["train"].train()
        steps[key] = train_calls[key] = _train_step(models["train"], inp, y)
        firsts[key, "train"] = _warm_up(train_calls[key], warmup, dev, compiled)
    if onnx:
        infer_calls["onnxruntime"] = _onnx_call(spec, passes["infer"], options, x)
        _warm_up(infer_calls["onnxruntime"], warmup, dev, False)
    log(f"{graph.name}: {reps} interleaved rounds of {len(infer_calls)} variants")
    times = {"infer": _interleaved(infer_calls, reps, dev),
             "train": _interleaved(train_calls, reps, dev)}
    for key in infer_calls:
        entry = {"label": VARIANTS[key]}
        for mode in ("infer", "train"):
            entry[mode] = (_timing(times[mode][key], batch, firsts.get((key, mode))).as_dict()
                           if key in times[mode] else None)
            spread = entry[mode] and entry[mode]["spread"]
            if spread and spread > NOISY:
                report["warnings"].append(
                    f"NOISY: {key} {mode} spread {spread:.0%} over {reps} rounds (max - min "
                    "over the median); rerun with more --reps on a quieter machine")
        report["variants"][key] = entry
    report["round_ratios"] = {
        base: {key: {mode: _round_ratios(times[mode], key, base) for mode in ("infer", "train")}
               for key in infer_calls} for base in ("reference", "expert")}
    if onnx:  # inference only: no training step, no memory figure
        report["variants"]["onnxruntime"]["train_peak_mb"] = None
    for key, step in steps.items():
        if dev.type == "cuda":
            report["variants"][key]["train_peak_mb"] = peak_step_memory_mb(step, dev)
        else:
            # On the CPU freed memory is not reliably returned between variants in one
            # process, so each eager variant is measured in a fresh one.
            report["variants"][key]["train_peak_mb"] = (
                None if key in COMPILED else
                _peak_in_child(spec, key, ref_name, passes["train"], batch, options))
    if dev.type == "cpu" and compile:
        report["warnings"].append("CPU peak memory of the compiled variants is not measured "
                                  "(it would mean compiling again in a fresh process)")
    for base, per_key in report["round_ratios"].items():
        for key, modes in per_key.items():
            for mode, r in modes.items():
                if report["variants"][key][mode] is not None:
                    report["variants"][key][mode].setdefault("round_ratio", {})[base] = \
                        r["median"] if r else None
    _ratios(report["variants"])
    return report


def _ratios(variants: dict) -> None:
    """`vs_reference` / `vs_expert`: the median per-round throughput ratio per mode (see
    `round_ratios` in the report for their min and max), and peak training memory."""
    for entry in variants.values():
        for base in ("reference", "expert"):
            if base not in variants:
                entry[f"vs_{base}"] = None
                continue
            ratio = {mode: (entry[mode]["round_ratio"][base] if entry[mode] else None)
                     for mode in ("infer", "train")}
            mine, theirs = entry.get("train_peak_mb"), variants[base].get("train_peak_mb")
            ratio["train_peak_mem"] = mine / theirs if mine and theirs else None
            entry[f"vs_{base}"] = ratio


def _onnx_call(spec: str, passes: list[str], options: dict, x: torch.Tensor):
    """linkc's own ONNX export of the inference module, run by ONNX Runtime."""
    import tempfile

    import linkc
    from .compiler.export import ExportError, _export_onnx

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
    session = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.cpu().numpy()}
    return lambda: session.run(None, feed)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    import platform
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def format_table(report: dict) -> str:
    lines = [f"{report['spec']} on {report['device']}, batch {report['batch']}, "
             f"{report['reps']} reps after {report['warmup']} warm-up (torch {report['torch']})"]
    ref = report["reference"]
    if ref:
        lines.append(f"reference {ref['name']}: {ref['params']:,} params, linkc "
                     f"{ref['linkc_params']:,}" + ("" if ref["params_equal"] else "  <-- DIFFER"))
    lines.append(f"default passes: infer {','.join(report['passes']['infer']) or 'none'}; "
                 f"train {','.join(report['passes']['train']) or 'none'}")
    head = (f"{'variant':48} {'infer img/s':>12} {'spread':>7} {'train img/s':>12} "
            f"{'spread':>7} {'peak MiB':>9} {'x(1) inf/tr':>12} {'x(2) inf/tr':>12} "
            f"{'compile s':>10}")
    lines.append(head)
    for key, v in report["variants"].items():
        def ratio(base):
            r = v.get(f"vs_{base}")
            if not r:
                return "-"
            return "/".join("-" if r[m] is None else f"{r[m]:.2f}" for m in ("infer", "train"))

        def rate(mode):
            t = v[mode]
            return f"{t['images_per_s']:12.1f} {t['spread']:7.1%}" if t else f"{'-':>12} {'':7}"
        comp = [v[m]["compile_s"] for m in ("infer", "train")
                if v[m] and v[m]["compile_s"] is not None]
        mem = v.get("train_peak_mb")
        lines.append(
            f"{v['label']:48} {rate('infer')} {rate('train')} "
            f"{(f'{mem:9.0f}' if mem is not None else '        -')} {ratio('reference'):>12} "
            f"{ratio('expert'):>12} {('/'.join(f'{c:.0f}' for c in comp) or '-'):>10}")
    lines.append("ratios: the median of per-round ratios (rounds interleave every variant)")
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)
