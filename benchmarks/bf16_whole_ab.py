"""inductor bf16 inference: autocast (linkc.optimize's bf16) against the whole module cast
to bf16 (weights and activations, as OpenVINO's bf16 runs), both frozen, interleaved.

    OMP_NUM_THREADS=1 python benchmarks/bf16_whole_ab.py SPEC ROUNDS

Prints each compile's time, both outputs' largest difference from fp32 over its scale,
the median ms per batch of 32 and the per-round speed-up of the whole-bf16 module.
"""

import statistics
import sys
import time

import torch

import linkc
from linkc.compiler.emit.torch_compile import compile_module
from linkc.compiler.passes import default_passes


def main(spec: str, rounds: int) -> None:
    torch.manual_seed(0)
    gm = linkc.compile(spec, passes=default_passes("infer"), mode="infer").eval()
    x = torch.randn(32, *gm.meta["linkc"]["input_shape"])
    with torch.no_grad():
        ref = gm(x)
    autocast = compile_module(gm, "infer")
    torch.manual_seed(0)
    whole = compile_module(linkc.compile(spec, passes=default_passes("infer"), mode="infer")
                           .eval().to(torch.bfloat16), "infer")

    def run_autocast():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return autocast(x).float()

    def run_whole():
        with torch.no_grad():
            return whole(x.to(torch.bfloat16)).float()
    calls = {"autocast": run_autocast, "whole": run_whole}
    scale = ref.abs().max().item()
    for name, call in calls.items():
        start = time.time()
        out = call()
        print(f"compile {name} {time.time() - start:.1f} s, max diff / scale "
              f"{(out - ref).abs().max().item() / scale:.4f}")
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            time.sleep(0.1)
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    ratios = [a / w for a, w in zip(times["autocast"], times["whole"])]
    print({k: round(statistics.median(v) * 1000, 1) for k, v in times.items()},
          f"whole speed-up median {statistics.median(ratios):.3f} "
          f"({min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
