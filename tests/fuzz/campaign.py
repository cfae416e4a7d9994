"""Fuzzing campaign runner: the targets of tests/fuzz/targets.py, in capped worker processes.

    python -m tests.fuzz.campaign --examples 100000 --out fuzz-out
    python -m tests.fuzz.campaign --budget 45 --targets zoo,cli     # CI: 45 seconds

Run from the repository root. The parent starts one worker process at a time per
`--workers`; each runs `--chunk` examples of every target under an address-space
cap (RLIMIT_AS, `--mem-mb`), so an allocation beyond it is a MemoryError the
worker reports instead of the kernel killing the machine, and a per-example
alarm (`--timeout`). Before each example the worker writes its input to
`OUT/current-PID`; a worker that dies or stops making progress is killed, and
that input is the failure. SIGTERM or Ctrl-C stops a campaign: the workers finish
their current example and report, and the summary covers what ran. Every failure is kept as `OUT/failures/N-TARGET.*`
(the input) with `.txt` (what happened); an example whose peak resident memory
grew by more than `--mem-report-mb` is kept under `OUT/memory/`. The summary
(examples, outcomes, time per example, peak memory) is printed and written to
`OUT/summary.json`. Exit status 1 when any example failed.

Examples are generated, never shrunk (no hypothesis database, generate phase
only): a failure is recorded with its input and the campaign goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from .targets import TARGETS

    p = argparse.ArgumentParser(prog="python -m tests.fuzz.campaign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="fuzz-out", help="output directory (default fuzz-out)")
    p.add_argument("--examples", type=int, default=0, help="stop after this many examples")
    p.add_argument("--budget", type=float, default=0, help="stop after this many seconds")
    p.add_argument("--targets", default=",".join(TARGETS),
                   help=f"comma-separated, of: {', '.join(TARGETS)} (default: all)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--chunk", type=int, default=200,
                   help="examples per target per worker process (default 200)")
    p.add_argument("--mem-mb", type=int, default=6144, help="address-space cap per worker")
    p.add_argument("--timeout", type=float, default=60, help="seconds per example")
    p.add_argument("--mem-report-mb", type=int, default=500,
                   help="keep inputs whose peak memory grew by more than this")
    p.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = set(args.targets.split(",")) - set(TARGETS)
    if unknown:
        p.error(f"unknown target(s) {', '.join(sorted(unknown))}; known: {', '.join(TARGETS)}")
    if not (args.examples or args.budget):
        p.error("give --examples N, --budget SECONDS, or both")
    return args


def _cap_memory(mb: int):
    def apply() -> None:
        limit = mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.nice(0)
    return apply


def _start(args, seed: int, chunk: int, deadline: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.fuzz.campaign", "--worker", "--out", args.out,
           "--targets", args.targets, "--chunk", str(chunk), "--seed", str(seed),
           "--timeout", str(args.timeout), "--mem-report-mb", str(args.mem_report_mb),
           "--deadline", str(deadline), "--examples", str(chunk)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = open(Path(args.out) / f"worker-{seed}.log", "w+")  # a file: a pipe could fill up
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=_cap_memory(args.mem_mb),
                            stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log = log
    return proc


def _reap(proc: subprocess.Popen, args, out: Path, totals: dict) -> None:
    """Fold a finished worker's report into `totals`; a worker that died is a failure."""
    stdout, _ = proc.communicate()
    proc.log.seek(0)
    stderr = proc.log.read()
    proc.log.close()
    Path(proc.log.name).unlink(missing_ok=True)
    report = None
    for line in stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
    if report is not None:
        from .worker import merge_report

        merge_report(totals, report)
    if proc.returncode != 0 or report is None:
        from .worker import record_failure

        current = out / f"current-{proc.pid}"
        payload = current.read_bytes() if current.exists() else b""
        record_failure(out, "worker", f"worker exited {proc.returncode}",
                       f"stderr (tail):\n{stderr[-4000:]}", payload, ".yaml", totals)
    for suffix in ("", ".meta", ".progress"):
        (out / f"current-{proc.pid}{suffix}").unlink(missing_ok=True)


def _stalled(proc: subprocess.Popen, out: Path, limit: float) -> bool:
    current = out / f"current-{proc.pid}"
    return current.exists() and time.time() - current.stat().st_mtime > limit


def run_campaign(args) -> dict:
    from .worker import empty_totals, write_summary

    out = Path(args.out)
    (out / "failures").mkdir(parents=True, exist_ok=True)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    start = time.time()
    deadline = start + args.budget if args.budget else 0
    totals = empty_totals(seed, args)
    per_worker = len(args.targets.split(","))
    running: dict[subprocess.Popen, int] = {}  # worker -> examples it was asked for
    launched = idle = 0
    stopping = [False]

    def stop(signum, frame):  # SIGTERM or Ctrl-C: finish the examples under way, then report
        stopping[0] = True
        for proc in running:
            proc.send_signal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def wanted(pending: int) -> bool:
        done = sum(totals["examples"].values())
        return not stopping[0] and (not args.examples or done + pending < args.examples) and \
            (not deadline or time.time() < deadline - 5)

    while idle < 3:  # three workers in a row that ran nothing: something is broken
        while wanted(sum(running.values())) and len(running) < args.workers:
            left = args.examples - sum(totals["examples"].values()) - sum(running.values())
            chunk = min(args.chunk, -(-left // per_worker)) if args.examples else args.chunk
            running[_start(args, seed + launched, max(1, chunk), deadline)] = chunk * per_worker
            launched += 1
        if not running:
            break
        time.sleep(0.5)
        for proc in list(running):
            if proc.poll() is None and _stalled(proc, out, 2 * args.timeout + 30):
                proc.kill()
            if proc.poll() is not None:
                del running[proc]
                before = sum(totals["examples"].values())
                _reap(proc, args, out, totals)
                totals["seconds"] = time.time() - start
                write_summary(out, totals)  # a look at a long campaign while it runs
                idle = idle + 1 if sum(totals["examples"].values()) == before else 0
        totals["seconds"] = time.time() - start
    totals["seconds"] = time.time() - start
    return write_summary(out, totals)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.worker:
        from .worker import work

        return work(args)
    summary = run_campaign(args)
    from .worker import format_summary

    print(format_summary(summary))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
