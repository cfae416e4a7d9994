"""Check + compile time of linkc itself (no passes): DenseNet-BC-190 and generated
specs of growing size, to show the time grows about linearly with node count.

    python benchmarks/compile_time.py [--sizes 1000,2500,5000,10000]
                                      [--flat-sizes 5000,10000,20000] [--reps 3] [--json]

Each figure is the median of `--reps` runs of `build` (load, expand, infer
shapes) and `lower` (fx graph + modules). The flat specs (every node written out,
as `linkc import` writes them) are checked only (`build`, which is `linkc check`
without start-up), with the load limits raised to their size. Record results in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from linkc.compiler.lower import lower
from linkc.frontend import Limits, build

ROOT = Path(__file__).resolve().parent.parent


def generated_spec(nodes: int) -> str:
    """A chain of residual units, each 4 flat nodes (two convs, a BN-ReLU, a merge),
    written with one repeat so the YAML stays a page long: `nodes` flat nodes in all."""
    units = max(1, nodes // 3)
    return f"""
linkc: 1
name: generated-{nodes}
input: [8, 8, 8]
blocks:
  unit:
    in: x
    nodes:
      a: {{from: x, ops: [{{conv: [8, 1]}}, bn, relu]}}
      b: {{from: a, ops: [{{conv: [8, 1]}}]}}
      y: {{from: [x, b], merge: add, ops: [relu]}}
    out: y
nodes:
  body: {{from: input, repeat: {units}, block: unit}}
  head: {{from: body, ops: [gap, {{linear: 10}}]}}
output: head
"""


def flat_spec(nodes: int) -> str:
    """The same residual chain with every node written out (what `linkc import` and
    search tools write): `nodes` flat nodes, no blocks or repeats, one line each."""
    lines = ["linkc: 1", f"name: flat-{nodes}", "input: [8, 8, 8]", "nodes:"]
    prev = "input"
    for i in range((nodes - 1) // 3):
        lines += [f"  a{i}: {{from: {prev}, ops: [{{conv: [8, 1]}}, bn, relu]}}",
                  f"  b{i}: {{from: a{i}, ops: [{{conv: [8, 1]}}]}}",
                  f"  y{i}: {{from: [{prev}, b{i}], merge: add, ops: [relu]}}"]
        prev = f"y{i}"
    lines += [f"  head: {{from: {prev}, ops: [gap, {{linear: 10}}]}}", "output: head", ""]
    return "\n".join(lines)


def time_once(spec) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    g = build(spec)
    t1 = time.perf_counter()
    lower(g)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(g.order)


def measure(spec, reps: int) -> dict:
    runs = [time_once(spec) for _ in range(reps)]
    check = statistics.median(r[0] for r in runs)
    compile_ = statistics.median(r[1] for r in runs)
    return {"nodes": runs[0][2], "check_s": round(check, 4), "lower_s": round(compile_, 4),
            "total_s": round(check + compile_, 4)}


FLAT_LIMITS = Limits().with_(max_bytes=8 << 20, max_items=2_000_000)


def measure_flat(nodes: int, reps: int) -> dict:
    text = flat_spec(nodes)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        g = build(text, limits=FLAT_LIMITS)
        times.append(time.perf_counter() - t0)
    return {"nodes": len(g.order), "bytes": len(text), "check_s": round(statistics.median(times), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2500,5000,10000")
    ap.add_argument("--flat-sizes", default="5000,10000,20000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {"machine": f"{platform.processor() or platform.machine()}, "
                          f"{torch.get_num_threads()} torch thread, torch {torch.__version__}",
               "densenet_bc_190": measure(ROOT / "specs" / "densenet_bc_190_k40.yaml", args.reps),
               "generated": [measure(generated_spec(int(s)), args.reps)
                             for s in args.sizes.split(",")]}
    results["flat"] = [measure_flat(int(s), args.reps) for s in args.flat_sizes.split(",")]
    gen = results["generated"]
    first, last = gen[0], gen[-1]
    results["growth"] = round((last["total_s"] / first["total_s"]) /
                              (last["nodes"] / first["nodes"]), 3)  # 1.0 = exactly linear
    flat = results["flat"]
    results["flat_growth"] = round((flat[-1]["check_s"] / flat[0]["check_s"]) /
                                   (flat[-1]["nodes"] / flat[0]["nodes"]), 3)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {results['machine']}")
    d = results["densenet_bc_190"]
    print(f"DenseNet-BC-190: {d['nodes']} nodes, check {d['check_s']:.3f} s + lower "
          f"{d['lower_s']:.3f} s = {d['total_s']:.3f} s")
    for r in gen:
        print(f"generated {r['nodes']:>6} nodes: check {r['check_s']:.3f} s + lower "
              f"{r['lower_s']:.3f} s = {r['total_s']:.3f} s  "
              f"({1e6 * r['total_s'] / r['nodes']:.0f} us/node)")
    print(f"growth (time ratio / node ratio, 1.0 = linear): {results['growth']}")
    for r in flat:
        print(f"flat file {r['nodes']:>6} nodes ({r['bytes']:,} bytes): check {r['check_s']:.3f} s "
              f"({1e6 * r['check_s'] / r['nodes']:.0f} us/node)")
    print(f"flat growth (time ratio / node ratio): {results['flat_growth']}")


if __name__ == "__main__":
    main()
