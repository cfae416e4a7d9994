"""`linkc sweep`: train the variants of a topology family and tabulate them.

    plan = SweepPlan(specs=["specs/dmrnet_cifar.yaml"], grid={"L": [12, 24]}, seeds=3,
                     train={"epochs": 5})
    report = run_sweep(plan, "sweeps/dmrnet")

Every point (spec + swept values) is built and counted (params, MACs) before
anything trains, so an invalid variant stops the sweep with its SpecError up
front. Each variant then trains in its own process into `OUT/runs/<id>/`, a
normal run directory; a finished one is skipped on a re-run and an interrupted
one resumes from its checkpoint. The table and plots are rewritten as variants
finish, so a sweep stopped half-way still leaves what it measured.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .plan import SweepError, SweepPlan, Variant, load_sweep_file, parse_set, plan_variants
from .plan import shared_settings

__all__ = ["SweepError", "SweepPlan", "SweepReport", "Variant", "load_sweep_file",
           "parse_set", "prepare", "run_sweep"]


@dataclass
class SweepReport:
    out: Path
    points: list[dict[str, Any]]
    variants: list[Variant]
    rows: list[dict[str, Any]] = field(default_factory=list)
    trained: int = 0
    skipped: int = 0
    failures: list[tuple[Variant, str]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)


def _spec_param_names(spec_path: str) -> set[str]:
    from ..spec.load import load
    from ..spec.load import LDict

    params = load(spec_path).root.get("params")
    return set(params) if isinstance(params, LDict) else set()


def prepare(plan: SweepPlan, resolve: Callable[[str], str] = str) -> tuple[list[Variant],
                                                                          list[dict[str, Any]]]:
    """The variants and one counted point per (spec, values); SpecErrors of invalid
    points are collected and raised together as one SweepError."""
    from ..analyze.macs import count_macs
    from ..analyze.params import lower_meta
    from ..train.config import field_names
    from ..frontend import SpecError, build

    paths = {spec: resolve(spec) for spec in plan.specs}
    names = {spec: _spec_param_names(paths[spec]) for spec in plan.specs}
    variants = plan_variants(plan, names, set(field_names()) - {"run_dir", "progress"})
    points, problems, seen = [], [], set()
    for v in variants:
        if v.point in seen:
            continue
        seen.add(v.point)
        try:
            g = build(paths[v.spec], params=v.params)
        except SpecError as exc:
            problems.append(f"{v.label().rsplit(' seed', 1)[0]}:\n{exc}")
            continue
        gm = lower_meta(g)
        macs, _ = count_macs(g, gm)
        points.append({"point": v.point, "spec": v.spec, "values": {**v.params, **v.settings},
                       "params": sum(p.numel() for p in gm.parameters()), "macs": macs,
                       "seeds": plan.seeds})
    if problems:
        raise SweepError(f"{len(problems)} variant(s) do not build:\n\n" + "\n\n".join(problems))
    return variants, points


def run_sweep(plan: SweepPlan, out: str | Path, backend: str = "local", workers: int = 1,
              address: str | None = None, resolve: Callable[[str], str] = str,
              progress: bool | None = None) -> SweepReport:
    """Train every variant not yet finished under `out`, then write the table and plots."""
    from tqdm import tqdm

    from .backends import cpu_share, outcomes
    from .table import aggregate, write_plots, write_table
    from .worker import finished_result

    out = Path(out)
    variants, points = prepare(plan, resolve)
    report = SweepReport(out, points, variants)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    threads = cpu_share(workers)
    results, jobs = [], []
    for v in variants:
        run_dir = out / "runs" / v.id
        done = finished_result(run_dir)
        if done is not None:
            results.append(done)
            report.skipped += 1
            continue
        jobs.append({"variant": v.as_dict(), "run_dir": str(run_dir),
                     "spec_path": resolve(v.spec), "shared": shared_settings(plan),
                     "threads": threads})

    def refresh() -> None:
        report.rows = aggregate(points, results)
        write_table(out, report.rows, results)

    refresh()
    quiet = (not sys.stderr.isatty()) if progress is None else not progress
    bar = tqdm(total=len(variants), initial=report.skipped, unit="variant", desc="sweep",
               disable=quiet)
    by_id = {v.id: v for v in variants}
    for outcome in outcomes(jobs, backend, workers, address, threads):
        variant = by_id[outcome.job["variant"]["id"]]
        done = finished_result(Path(outcome.job["run_dir"]))
        if outcome.returncode == 0 and done is not None:
            results.append(done)
            report.trained += 1
        else:
            report.failures.append((variant, outcome.stderr.strip() or
                                    f"worker exited with status {outcome.returncode}"))
        refresh()
        bar.update(1)
    bar.close()
    report.plots = write_plots(out, report.rows)
    return report
