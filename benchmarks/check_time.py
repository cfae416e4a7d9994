"""`linkc check` as a user runs it (a fresh process, start-up included), for two
checkouts interleaved: each round runs every spec under every checkout back to back.

    python benchmarks/check_time.py --checkout before=/path/to/old --checkout after=. \
        [--reps 3] [--nodes 10000] [--flat 20000] [SPEC ...]

Default specs: DenseNet-BC-100 from the zoo, a generated spec of `--nodes` nodes
(compile_time.generated_spec) and a flat file of `--flat` nodes
(compile_time.flat_spec, load limits raised to its size). Reports the median wall
time and CPU time (user + system of the child) per spec and checkout, and the
ratio to the first checkout. CPU time is the figure to compare on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compile_time import flat_spec, generated_spec  # noqa: E402

LIMITS = ["--limit", f"max_bytes={8 << 20}", "--limit", "max_items=2000000"]


def run_check(checkout: Path, spec: str) -> tuple[float, float]:
    """(wall s, CPU s) of one `python -m linkc check SPEC` with linkc from `checkout`."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "linkc", "check", spec, *LIMITS], env=env,
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: linkc check {spec} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--flat", type=int, default=20000)
    ap.add_argument("specs", nargs="*")
    args = ap.parse_args()
    checkouts = [(n, Path(p).resolve()) for n, _, p in (c.partition("=") for c in args.checkout)]
    tmp = Path(tempfile.mkdtemp())
    specs = [str(Path(s).resolve()) for s in args.specs] or [
        str(HERE.parent / "specs" / "densenet_bc_100.yaml")]
    if not args.specs:
        for name, text in ((f"generated_{args.nodes}", generated_spec(args.nodes)),
                           (f"flat_{args.flat}", flat_spec(args.flat))):
            (tmp / f"{name}.yaml").write_text(text)
            specs.append(str(tmp / f"{name}.yaml"))
    runs: dict = {(s, n): [] for s in specs for n, _ in checkouts}
    for _ in range(args.reps):
        for spec in specs:
            for name, path in checkouts:
                runs[spec, name].append(run_check(path, spec))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; median of {args.reps}")
    for spec in specs:
        base = None
        for name, _ in checkouts:
            wall = statistics.median(r[0] for r in runs[spec, name])
            cpu = statistics.median(r[1] for r in runs[spec, name])
            base = base or (wall, cpu)
            print(f"{Path(spec).name:<28} {name:<8} wall {wall:7.2f} s ({wall / base[0]:.2f}x)  "
                  f"cpu {cpu:7.2f} s ({cpu / base[1]:.2f}x)")


if __name__ == "__main__":
    main()
