"""checkpoint_dense on a DenseNet: peak training-step memory and step time vs naive.

    python -m benchmarks.checkpoint_memory [SPEC] [--batch 64] [--reps 3]

Each configuration runs in its own subprocess (a fresh heap, so one cannot inherit
another's freed memory); memory is linkc.bench.peak_step_memory_mb (VmHWM - VmRSS
of one training step with glibc's mmap threshold fixed; CUDA: max_memory_allocated).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CONFIGS = {"naive": [], "merge_nary": ["merge_nary"],
           "checkpoint_dense": ["checkpoint_dense"],
           "merge_nary+checkpoint_dense": ["merge_nary", "checkpoint_dense"]}


def child(spec: str, passes: list[str], batch: int, reps: int) -> dict:
    import torch

    import linkc
    from linkc.bench import _release_freed_memory_eagerly, peak_step_memory_mb, train_step

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gm = linkc.compile(spec, passes=passes, mode="train").to(dev).train()
    x = torch.randn(batch, *gm.meta["linkc"]["input_shape"], device=dev)
    y = torch.randint(0, gm.meta["linkc"]["output_shape"][0], (batch,), device=dev)
    step = train_step(gm, x, y)
    step()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    _release_freed_memory_eagerly()
    step()  # once more with the fixed mmap threshold, so the heap holds no freed slack
    return {"step_s": statistics.median(times), "peak_mb": peak_step_memory_mb(step, dev)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("spec", nargs="?", default="specs/densenet_bc_100.yaml")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is not None:
        print(json.dumps(child(a.spec, CONFIGS[a.child], a.batch, a.reps)))
        return
    results = {}
    for name in CONFIGS:
        out = subprocess.run([sys.executable, "-m", "benchmarks.checkpoint_memory", a.spec,
                              "--batch", str(a.batch), "--reps", str(a.reps), "--child", name],
                             check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(name, results[name], file=sys.stderr, flush=True)
    base = results["naive"]
    for r in results.values():
        r["peak_vs_naive"] = r["peak_mb"] / base["peak_mb"] if r["peak_mb"] else None
        r["time_vs_naive"] = r["step_s"] / base["step_s"]
    print(json.dumps({"spec": a.spec, "batch": a.batch, "results": results}, indent=1))


if __name__ == "__main__":
    main()
