"""Interleaved A/B: torch.compile with and without inductor freezing, inference.

    python benchmarks/freezing_ab.py SPEC      (batch 32, 6 rounds, the inference default passes)
"""
import copy
import statistics
import sys
import time

import torch

import linkc
from linkc.compiler.passes import default_passes
torch.set_num_threads(2)
spec = sys.argv[1]
torch.manual_seed(0)
gm = linkc.compile(spec, passes=default_passes("infer"), mode="infer").eval()
x = torch.randn(32, *gm.meta["linkc"]["input_shape"])
with torch.no_grad():
    ref = gm(x)
a = torch.compile(gm, dynamic=False)
gm2 = copy.deepcopy(gm)
b = torch.compile(gm2, dynamic=False, options={"freezing": True})
calls = {}
for k, m in (("plain", a), ("freeze", b)):
    t = time.perf_counter()
    with torch.no_grad():
        out = m(x)
    print(k, "compile", time.perf_counter() - t, "maxdiff", (out - ref).abs().max().item(), flush=True)
    calls[k] = m
times = {k: [] for k in calls}
for r in range(6):
    for k, m in calls.items():
        t = time.perf_counter()
        with torch.no_grad():
            m(x)
        times[k].append(time.perf_counter() - t)
print({k: statistics.median(v) for k, v in times.items()})
print("ratio", statistics.median([p / f for p, f in zip(times["plain"], times["freeze"])]))
