"""Lowering + the default passes of each mode (with the check after each pass) on one
spec: the least of 3 in-process runs per mode. Run it alternately under two trees for
an interleaved A/B (benchmarks/RESULTS.md):

    PYTHONPATH=TREE python benchmarks/compile_passes_ab.py specs/densenet_bc_100.yaml
"""
import sys, time, statistics
import linkc
from linkc.frontend import build
from linkc.compiler import compile_graph
from linkc.compiler.passes import default_passes
spec = sys.argv[1]
g = build(spec)
times = {}
for mode in ("infer", "train"):
    passes = default_passes(mode)
    ts = []
    for _ in range(3):
        t = time.perf_counter(); compile_graph(g, passes, mode=mode); ts.append(time.perf_counter() - t)
    times[mode] = min(ts)
print(linkc.__file__, times["infer"], times["train"])
