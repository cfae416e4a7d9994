"""Interleaved A/B of compiled training steps: linkc's training module with its default
passes, without pool_first, and with inductor's pointwise concatenation widened, against
the hand-written module (channels_last + torch.compile, the bench's expert).

    python benchmarks/compiled_train_ab.py [ROUNDS]      (DenseNet-BC-100, batch 32, 2 threads)

inductor fuses a concatenation into its readers only up to `max_pointwise_cat_inputs`
inputs (8 by default); linkc lowers each dense layer's input as one concatenation of all
earlier features (up to 17 in DenseNet-BC-100), the hand-written module as a chain of
two-input ones.
"""
import statistics
import sys
import time

import torch

import linkc
from linkc.bench import train_step
from linkc.bench.timing import interleaved
from linkc.compiler.passes import default_passes
from linkc.references.densenet import densenet_bc

SPEC = "specs/densenet_bc_100.yaml"


def build(rounds):
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (32,), generator=gen)
    defaults = default_passes("train")
    configs = {
        "linkc_default": (defaults, {}),
        "linkc_no_pool_first": ([p for p in defaults if p != "pool_first"], {}),
        "linkc_wide_cat": (defaults, {"max_pointwise_cat_inputs": 128}),
    }
    steps = {}
    torch.manual_seed(0)
    expert = densenet_bc(100, 12, 10).to(memory_format=torch.channels_last).train()
    steps["expert"] = train_step(torch.compile(expert, dynamic=False),
                                 x.contiguous(memory_format=torch.channels_last), y)
    for name, (passes, options) in configs.items():
        torch.manual_seed(0)
        gm = linkc.compile(SPEC, passes=passes, mode="train").train()
        steps[name] = train_step(torch.compile(gm, dynamic=False, options=options or None), x, y)
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        step()
        print(f"{name}: first two steps (compile) {time.perf_counter() - start:.1f} s", flush=True)
    times = interleaved(steps, rounds, torch.device("cpu"))
    for k, t in times.items():
        ratios = [e / v for e, v in zip(times["expert"], t)]
        print(f"{k}: median {statistics.median(t):.4f} s/step, x expert {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    build(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
