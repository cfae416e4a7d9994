"""Train the variants of a topology family and tabulate them.

    linkc sweep specs/dmrnet_cifar.yaml --set L=12,24 --seeds 3 --epochs 5
    linkc sweep specs/resnet_mr_cifar.yaml specs/dilnet_cifar.yaml specs/dmrnet_cifar.yaml \\
        --set L=12,24 --seeds 3 -o sweeps/seed003
    linkc sweep --file sweep.yaml          # grid and random sampling (see linkc.sweep.plan)

`--set NAME=V1,V2` sweeps a top-level param of the specs (through string params,
also merge kinds and connect patterns) or a training setting; several `--set`
give their product. Each variant trains in its own process into OUT/runs/<id>/;
a re-run skips finished variants and resumes interrupted ones. OUT/table.csv
(and .jsonl) has one row per point with params, MACs and accuracy over seeds;
OUT/pareto.png and OUT/settings.png plot it. `--dry-run` lists the variants
with their params and MACs and trains nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SKIPPED_SETTINGS = {"run_dir", "progress"}


def add_arguments(p) -> None:
    from ..train.config import TrainConfig
    from .train import _is_bool

    p.add_argument("specs", nargs="*", help="spec files or zoo names (also from --file)")
    p.add_argument("--file", metavar="SWEEP.yaml", help="a sweep file with a sweep: section")
    p.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                   help="values of a param or training setting (repeatable: a grid)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="training seeds per point (default 1)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="variants trained at once; each gets cores/N threads (default 1)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local processes (default) or Ray tasks (pip install 'linkc[sweep]')")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("-o", "--out", default=None, metavar="DIR",
                   help="sweep directory (default: sweeps/<first spec's name>)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the variants with params and MACs; train nothing")
    group = p.add_argument_group("training settings shared by every variant")
    for name, fld in TrainConfig.model_fields.items():
        if name in SKIPPED_SETTINGS:
            continue
        flag = "--" + name.replace("_", "-")
        if _is_bool(fld.annotation):
            group.add_argument(flag, dest=f"train_{name}", action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=fld.description)
        else:
            group.add_argument(flag, dest=f"train_{name}", default=argparse.SUPPRESS,
                               metavar=name.split("_")[-1].upper(), help=fld.description)


def _plan(args):
    from ..errors import UsageError
    from ..sweep import SweepPlan, load_sweep_file, parse_set

    plan = load_sweep_file(args.file) if args.file else SweepPlan()
    plan.specs = [*plan.specs, *args.specs]
    if not plan.specs:
        raise UsageError("linkc sweep needs a spec (or a --file with sweep.specs)")
    for name, values in parse_set(args.set).items():
        if name in plan.grid or (plan.random and name in plan.random.space):
            raise UsageError(f"--set {name} is also swept in {args.file}; keep it in one place")
        plan.grid[name] = values
    if args.seeds is not None:
        if args.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
        plan.seeds = args.seeds
    for key, value in vars(args).items():
        if key.startswith("train_"):
            plan.train[key[len("train_"):]] = value
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    return plan


def _fmt(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def _print_points(points) -> None:
    width = max(len(Path(p["spec"]).stem) for p in points)
    for p in points:
        values = ", ".join(f"{k}={v}" for k, v in p["values"].items()) or "(as written)"
        print(f"  {Path(p['spec']).stem:<{width}}  {values:<30}  params {_fmt(p['params']):>12}"
              f"  MACs {_fmt(p['macs']):>15}")


def run(args) -> int:
    from ..sweep import prepare, run_sweep

    plan = _plan(args)
    out = Path(args.out or Path("sweeps") / Path(plan.specs[0]).stem)
    if args.dry_run:
        variants, points = prepare(plan)
        print(f"{len(variants)} variant(s): {len(points)} point(s) x {plan.seeds} seed(s)")
        _print_points(points)
        return 0
    report = run_sweep(plan, out, backend=args.backend, workers=args.workers,
                       address=args.address)
    print(f"{len(report.variants)} variant(s): {report.trained} trained, {report.skipped} "
          f"already done, {len(report.failures)} failed")
    for row in report.rows:
        acc = ("-" if row["acc_mean"] is None else
               f"{100 * row['acc_mean']:.2f}% ± {100 * row['acc_std']:.2f}")
        values = ", ".join(f"{k[4:]}={v}" for k, v in row.items() if k.startswith("set."))
        print(f"  {Path(row['spec']).stem}  {values}  params {_fmt(row['params'])}  "
              f"acc {acc} ({row['seeds_done']}/{row['seeds']} seeds)")
    print(f"table: {out / 'table.csv'}; plots: "
          + (", ".join(str(p) for p in report.plots) or "none (no variant finished)"))
    for variant, message in report.failures:
        print(f"\nfailed: {variant.label()} ({out / 'runs' / variant.id})\n{message}",
              file=sys.stderr)
    if report.failures:
        print(f"\nRe-run the same command to retry the {len(report.failures)} failed "
              "variant(s); finished ones are kept.", file=sys.stderr)
        return 1
    return 0
