"""Benchmark a spec against the hand-written PyTorch module of the same network.

Measures, on one input batch: (1) the hand-written eager module from
linkc/references/ (matched by the spec's name, parameter count checked) or your
own (`--reference MODULE:CALLABLE`, e.g. `mynets:make_resnet`; without any, the
linkc variants and torch.compile are compared alone, and the report says so),
(2) the same with channels_last + torch.compile, (3) linkc without passes,
(4) linkc with the default passes, (5) linkc with passes + torch.compile, and with
`--onnx` (6) linkc's ONNX export in ONNX Runtime (inference), with `--openvino` (7) the
same export in OpenVINO (f32 pinned), with `--backend` linkc's row (5) run by other
backends of linkc.optimize (auto: the fastest installed), with `--amp` every bf16 row:
(2b) and (5b), the bf16 autocast twins of (2) and (5) ((1b), (4b) with `--no-compile`),
(7b) OpenVINO's bf16 hint, and linkc's other backends at precision bf16. Every row says
its precision, and its ratio to the best anchor of that precision (the fastest of the
hand-written module's, ONNX Runtime and OpenVINO). Every variant is built
first; each round then times every variant once, so the ratios (medians of
per-round ratios) hold up on a noisy machine, and a variant whose rounds spread
over 25% is flagged. Inference and training-step images/s (median, min, max), peak
memory of a training step, ratios to (1) and (2), compile time separately. `--no-compile`
drops (2) and (5), for a quick run (CI uses `--reps 1 --batch 4 --no-compile`); `--mode
infer` or `--mode train` times one mode only.
`--profile` instead profiles one inference call (`--mode train`: one training step)
per kind of op (linkc.bench.profile).
"""

from __future__ import annotations

import json
import sys


from .specargs import add_spec_arguments, spec_options


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up calls (default 2)")
    p.add_argument("--reference", metavar="NAME|MODULE:CALLABLE",
                   help="the hand-written module to compare with: a shipped reference "
                        "(default: by spec name), your own zero-argument callable "
                        "returning an nn.Module, or 'lowered': linkc's own module without "
                        "passes (for specs that have no hand-written one)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip the torch.compile variants (2) and (5)")
    p.add_argument("--device", default="auto",
                   help="auto (cuda if present), cpu, cuda or cuda:N")
    p.add_argument("--onnx", action="store_true",
                   help="also time linkc's ONNX export in ONNX Runtime (inference; needs "
                        "the export extra; exporting a large spec takes minutes)")
    p.add_argument("--openvino", action="store_true",
                   help="also time linkc's ONNX export of (4) in OpenVINO (inference, CPU; "
                        "its precision pinned to f32, and bf16 with --amp; needs the "
                        "openvino and export extras)")
    p.add_argument("--backend", default="inductor", metavar="NAME[,NAME]",
                   help="the backends of linkc.optimize that run linkc's row (5): inductor "
                        "(default; the one that also trains), openvino, onnxruntime, auto "
                        "(the fastest installed, timed and cached); several are rows side by "
                        "side, e.g. inductor,auto")
    p.add_argument("--amp", action="store_true",
                   help="also every backend's bf16 row: (2) and (5) under bf16 autocast, "
                        "OpenVINO's bf16 precision hint, optimize(precision='bf16') (CPU: "
                        "where it has avx512_bf16/amx_bf16, else one line says so and they "
                        "are skipped)")
    p.add_argument("--profile", action="store_true",
                   help="instead: where one inference call's time goes (--mode train: a "
                        "training step's), per kind of op "
                        "(torch.profiler; eager, compiled, compiled with freezing), and the "
                        "share of the fp32 peak (MACs vs the faster of two large matmuls, MKL and "
                        "oneDNN, in the same run)")
    p.add_argument("--mode", choices=("infer", "train"), default=None,
                   help="time inference only or training steps only (default: both); "
                        "with --profile, profile an inference call (default) or a training "
                        "step (eager and compiled; forward, loss, backward and SGD step)")
    p.add_argument("--passes", metavar="P1,P2",
                   help="(--profile) the passes to profile (default: the mode's "
                        "defaults; 'none' for none)")
    p.add_argument("--max-memory", metavar="SIZE",
                   help="refuse a batch estimated to need more memory: bytes or 16G, 512M, "
                        "off (default: $LINKC_MAX_MEMORY, else the memory available)")


def run(args) -> int:
    from ..bench import BenchError, bench, format_table

    if args.batch < 1 or args.reps < 1 or args.warmup < 0:
        print("linkc bench: --batch and --reps must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    if args.profile:
        return _profile(args)
    try:
        options = spec_options(args)
        report = bench(args.spec, params=options["params"], include_path=options["include_path"],
                       batch=args.batch, reps=args.reps, warmup=args.warmup,
                       reference=args.reference, compile=not args.no_compile,
                       device=args.device, onnx=args.onnx, amp=args.amp,
                       openvino=args.openvino,
                       modes=(args.mode,) if args.mode else ("infer", "train"),
                       backends=tuple(b for b in args.backend.split(",") if b),
                       log=lambda s: print(s, file=sys.stderr),
                       max_memory=args.max_memory)
    except BenchError as exc:
        print(f"linkc bench: {exc}", file=sys.stderr)
        return 2
    for warning in report["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    return 0


def _profile(args) -> int:
    from ..bench.profile import format_profile, profile_spec
    from ..compiler.passes import PassError

    if args.device not in ("auto", "cpu"):  # its categories are the CPU's kernels
        print(f"linkc bench --profile: profiles on the CPU only; drop --device "
              f"{args.device} (on a GPU, time the variants with plain `linkc bench`)",
              file=sys.stderr)
        return 2

    passes = None if args.passes is None else [
        p for p in args.passes.split(",") if p and p != "none"]
    options = spec_options(args)
    try:
        report = profile_spec(args.spec, batch=args.batch, reps=args.reps, passes=passes,
                              log=lambda s: print(s, file=sys.stderr),
                              params=options["params"], include_path=options["include_path"],
                              mode=args.mode or "infer")
    except PassError as exc:
        print(f"linkc bench --profile: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1) if args.json else format_profile(report))
    return 0
