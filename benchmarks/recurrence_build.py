"""CPU time of `build()` for the recurrence forms against their hand-written specs.

    python benchmarks/recurrence_build.py [--reps 15]

Interleaved (each round builds the recurrence form, then the hand-written spec) and
timed with `time.process_time`, so the ratio holds under background load.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from linkc.frontend import build

SPECS = Path(__file__).resolve().parents[1] / "specs"
PAIRS = [("resnet_20_recur", "resnet_20"), ("resnet_s_18_recur", "resnet_s_18"),
         ("densenet_40_k12_recur", "densenet_40_k12"), ("dmrnet_recur", "dmrnet_cifar")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=15)
    reps = parser.parse_args().reps
    print("| recurrence form | build | hand-written | build | ratio |")
    print("|---|---:|---:|---:|---:|")
    for recur, hand in PAIRS:
        times: dict[str, list[float]] = {recur: [], hand: []}
        for _ in range(reps):
            for name in (recur, hand):
                start = time.process_time()
                build(SPECS / f"{name}.yaml")
                times[name].append(time.process_time() - start)
        a, b = statistics.median(times[recur]), statistics.median(times[hand])
        print(f"| {recur} | {a * 1e3:.1f} ms | {hand} | {b * 1e3:.1f} ms | {a / b:.2f} |")


if __name__ == "__main__":
    main()
