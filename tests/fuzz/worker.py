"""One campaign worker (a process started by campaign.py), and the report it hands back.

The worker runs `--chunk` examples of each target through hypothesis (generate
phase only, no database: nothing is replayed or shrunk, and no failing example's
traceback is kept alive in hypothesis's cache), catches every failure itself and
records it with its input, then prints one JSON line: its totals.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import tempfile
import time
import traceback
import zlib
from contextlib import contextmanager
from pathlib import Path


class ExampleTimeout(Exception):
    """An example used more than --timeout seconds of CPU."""


STOP = [False]  # set by SIGTERM: the examples left are skipped and the totals reported


def _stop(signum, frame) -> None:
    STOP[0] = True


@contextmanager
def alarm(seconds: float):
    """Raise ExampleTimeout after `seconds` of this process's CPU time. CPU, not wall
    clock: on a loaded machine a worker at low priority may wait minutes for a core, and
    a wall-clock limit there reported a 6-second analysis as a hang. An example blocked
    without using CPU is the parent's to catch (no progress for 2 x timeout + 30 s)."""
    def fire(signum, frame):
        raise ExampleTimeout(f"still running after {seconds:g} s of CPU time")

    previous = signal.signal(signal.SIGPROF, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def empty_totals(seed: int, args=None) -> dict:
    return {"seed": seed, "examples": {}, "outcomes": {}, "seconds": 0.0,
            "target_seconds": {}, "failures": [], "memory_reports": [], "peak_rss_mb": 0.0,
            "workers": 0, "settings": {k: getattr(args, k) for k in
                                       ("targets", "chunk", "mem_mb", "timeout", "workers")}
            if args else {}}


def merge_report(totals: dict, report: dict) -> None:
    for target, n in report["examples"].items():
        totals["examples"][target] = totals["examples"].get(target, 0) + n
        totals["target_seconds"][target] = (totals["target_seconds"].get(target, 0.0)
                                            + report["target_seconds"][target])
    for target, outcomes in report["outcomes"].items():
        mine = totals["outcomes"].setdefault(target, {})
        for outcome, n in outcomes.items():
            mine[outcome] = mine.get(outcome, 0) + n
    totals["failures"] += report["failures"]
    totals["memory_reports"] += report["memory_reports"]
    totals["peak_rss_mb"] = max(totals["peak_rss_mb"], report["peak_rss_mb"])
    totals["workers"] += 1


def signature(kind: str) -> str:
    """A failure's kind without the numbers and paths that differ between inputs."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", kind))[:200]


def record_failure(out: Path, target: str, kind: str, detail: str, payload: str | bytes,
                   suffix: str, totals: dict, label: str = "") -> Path:
    folder = out / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{time.strftime('%H%M%S')}-{os.getpid()}-{len(totals['failures'])}-{target}"
    data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
    stem.with_suffix(suffix).write_bytes(data)
    stem.with_suffix(".txt").write_text(f"target: {target}\nfrom: {label}\nseed: {totals['seed']}"
                                        f"\nkind: {kind}\n\n{detail}\n")
    totals["failures"].append({"target": target, "kind": kind, "signature": signature(kind),
                               "input": str(stem.with_suffix(suffix)), "from": label})
    return stem


def _run_target(name: str, draw, args, out: Path, workdir: Path, totals: dict) -> None:
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    current = out / f"current-{os.getpid()}"
    counts = totals["outcomes"].setdefault(name, {})
    clock = [0.0]

    @settings(max_examples=args.chunk, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @seed(zlib.crc32(f"{args.seed}:{name}".encode()))
    @given(st.data())
    def one(data):
        t0 = time.perf_counter()
        try:
            case = draw(data, workdir)
        except Exception as exc:  # noqa: BLE001 - a bug in the fuzzer itself: keep going
            if isinstance(exc, HypothesisException):
                raise
            record_failure(out, name, f"generator: {type(exc).__name__}: {exc}"[:300],
                           traceback.format_exc(), b"", ".txt", totals)
            return
        if STOP[0] or (args.deadline and time.time() > args.deadline):
            return  # drawn all the same: hypothesis wants the same draws for the same choices
        raw = case.payload if isinstance(case.payload, bytes) else \
            case.payload.encode("utf-8", "surrogateescape")
        current.write_bytes(raw)
        Path(f"{current}.meta").write_text(f"{name}\n{case.label}\n")
        before = peak_rss_mb()
        try:
            with alarm(args.timeout):
                outcome = case.check()
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then we go on
            outcome = "FAILED"
            kind = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            record_failure(out, name, kind, traceback.format_exc(), case.payload, case.suffix,
                           totals, case.label)
        counts[outcome] = counts.get(outcome, 0) + 1
        totals["examples"][name] = totals["examples"].get(name, 0) + 1
        grew = peak_rss_mb() - before
        if grew > args.mem_report_mb:
            path = out / "memory" / f"{os.getpid()}-{len(totals['memory_reports'])}{case.suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(raw)
            totals["memory_reports"].append({"target": name, "from": case.label,
                                             "grew_mb": round(grew), "input": str(path)})
        clock[0] += time.perf_counter() - t0
        if sum(totals["examples"].values()) % 25 == 0:  # for a look at a long campaign
            Path(f"{current}.progress").write_text(json.dumps(totals["outcomes"]))

    totals["examples"].setdefault(name, 0)
    if not STOP[0]:
        one()
    totals["target_seconds"][name] = clock[0]


def work(args) -> int:
    import torch

    from .targets import TARGETS

    torch.set_num_threads(1)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # the campaign's Ctrl-C reaches the workers too
    out = Path(args.out).resolve()
    totals = empty_totals(args.seed)
    with tempfile.TemporaryDirectory(prefix="linkc-fuzz-") as tmp:
        os.chdir(tmp)  # a command that writes runs/ or model files writes them here
        for name in args.targets.split(","):
            _run_target(name, TARGETS[name], args, out, Path(tmp), totals)
    totals["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(totals), flush=True)
    return 0


def write_summary(out: Path, totals: dict) -> dict:
    done = sum(totals["examples"].values())
    totals["total_examples"] = done
    totals["seconds_per_example"] = totals["seconds"] / done if done else None
    (out / "summary.json").write_text(json.dumps(totals, indent=1))
    return totals


def format_summary(totals: dict) -> str:
    lines = [f"{'target':<14}{'examples':>10}{'s/example':>11}  outcomes"]
    for target, n in totals["examples"].items():
        per = totals["target_seconds"][target] / n if n else 0
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(totals["outcomes"][target].items()))
        lines.append(f"{target:<14}{n:>10}{per:>11.3f}  {outcomes}")
    lines.append(f"{totals['total_examples']} examples in {totals['seconds']:.0f} s "
                 f"({totals['workers']} worker processes, seed {totals['seed']}), "
                 f"peak worker memory {totals['peak_rss_mb']:.0f} MB, "
                 f"{len(totals['memory_reports'])} inputs kept for memory growth")
    kinds: dict[str, list] = {}
    for f in totals["failures"]:
        kinds.setdefault(f"{f['target']}: {f['signature']}", []).append(f)
    lines.append(f"{len(totals['failures'])} failures, {len(kinds)} distinct")
    for kind, found in kinds.items():
        lines.append(f"  {len(found):>5} x {kind}\n          e.g. {found[0]['input']}")
    return "\n".join(lines)
