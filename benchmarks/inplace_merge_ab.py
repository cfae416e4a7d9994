"""Interleaved A/B: eager inference with the default inference passes, without and with
inplace_merge (the same weights; outputs checked bit-identical first).

    python benchmarks/inplace_merge_ab.py [ROUNDS] [SPEC ...]
        (batch 32, 2 threads; default 30 rounds of specs/dmrnet_cifar.yaml, specs/resnet_110.yaml)

Every round times one call of each variant back to back, the order alternating between
rounds, so background load and cache warmth fall on both alike. Reported per spec: each
variant's median and minimum time and the per-round ratio plain/inplace (above 1: the pass is
faster) as its median and its spread (quartiles, min, max), for wall-clock time and for
the process's CPU time (less moved by preemption on a loaded machine), and the median
minor page faults per call (deterministic: memory the allocator handed back to the
kernel and touched again).
"""
import copy
import json
import resource
import statistics
import sys
import time

import torch

import linkc
from linkc.compiler.passes import default_passes, run_passes

torch.set_num_threads(2)
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
SPECS = sys.argv[2:] or ["specs/dmrnet_cifar.yaml", "specs/resnet_110.yaml"]


def variants(spec):
    torch.manual_seed(0)
    passes = [p for p in default_passes("infer") if p != "inplace_merge"]
    plain = linkc.compile(spec, passes=passes, mode="infer").eval()
    inplace = run_passes(copy.deepcopy(plain), ["inplace_merge"], mode="infer").eval()
    return {"plain": plain, "inplace": inplace}


def timed(module, x):
    """(wall seconds, process CPU seconds, minor page faults) of one call."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        module(x)
    return (time.perf_counter() - wall, time.process_time() - cpu,
            resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)


def spread(ratios):
    ratios = sorted(ratios)
    q1, med, q3 = statistics.quantiles(ratios, n=4)
    return {"median": round(statistics.median(ratios), 4), "q1": round(q1, 4),
            "q3": round(q3, 4), "min": round(ratios[0], 4), "max": round(ratios[-1], 4)}


for spec in SPECS:
    calls = variants(spec)
    x = torch.randn(32, *calls["plain"].meta["linkc"]["input_shape"])
    with torch.no_grad():
        assert torch.equal(calls["plain"](x), calls["inplace"](x)), "outputs differ"
        for m in calls.values():  # warm-up
            m(x)
    times = {k: [] for k in calls}
    for r in range(ROUNDS):
        for k in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
            times[k].append(timed(calls[k], x))
    report = {"spec": spec, "batch": 32, "threads": 2, "rounds": ROUNDS}
    for i, clock in enumerate(("wall", "cpu")):
        report[f"{clock}_median_s"] = {k: round(statistics.median(t[i] for t in v), 4)
                                       for k, v in times.items()}
        report[f"{clock}_min_s"] = {k: round(min(t[i] for t in v), 4) for k, v in times.items()}
        report[f"{clock}_ratio_plain_over_inplace"] = spread(
            p[i] / q[i] for p, q in zip(times["plain"], times["inplace"]))
    report["page_faults_per_call"] = {k: statistics.median(t[2] for t in v)
                                      for k, v in times.items()}
    print(json.dumps(report), flush=True)
