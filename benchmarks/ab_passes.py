"""Interleaved A/B of pass sets: robust to a shared, loaded machine.

    python -m benchmarks.ab_passes SPEC MODE BATCH ROUNDS SET [SET ...]

SET is a comma-separated pass list ('none' for none). Every round times one call of
each configuration back to back, so background load hits all of them alike; the
report is each configuration's median time and its median per-round ratio to the
first configuration.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

import linkc
from linkc.bench import infer_call, train_step


def main(spec, mode, batch, rounds, *sets):
    batch, rounds = int(batch), int(rounds)
    calls = {}
    for s in sets:
        passes = [] if s == "none" else s.split(",")
        torch.manual_seed(0)
        gm = linkc.compile(spec, passes=passes, mode=mode)
        x = torch.randn(batch, *gm.meta["linkc"]["input_shape"])
        y = torch.randint(0, gm.meta["linkc"]["output_shape"][0], (batch,))
        if mode == "infer":
            gm.eval()
            calls[s] = infer_call(gm, x)
        else:
            gm.train()
            calls[s] = train_step(gm, x, y)
        calls[s]()  # warm-up
    times = {s: [] for s in sets}
    for _ in range(rounds):
        for s, call in calls.items():
            start = time.perf_counter()
            call()
            times[s].append(time.perf_counter() - start)
    base = times[sets[0]]
    out = {s: {"median_s": statistics.median(t),
               "speedup_vs_first": statistics.median(b / v for b, v in zip(base, t))}
           for s, t in times.items()}
    print(json.dumps({"spec": spec, "mode": mode, "batch": batch, "rounds": rounds,
                      "results": out}, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
