"""Parameters (per node, per block, total), multiply-accumulates, activation memory
for a batch, and path statistics of the DAG from input to output.

A path's length is the number of weighted layers (convolutions and linear
layers) on it: identity shortcuts count 0. Path counts are exact integers found
by dynamic programming, never by enumerating paths. `--set L=12` overrides a
top-level param of the spec (another row of a paper's table).
"""

from __future__ import annotations

import json


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.add_argument("--batch", type=int, default=1, metavar="B",
                   help="batch size for activation memory (default 1)")
    p.add_argument("--nodes", action="store_true", help="also list every node (text output)")
    p.add_argument("--derivative", action="store_true",
                   help="expand dX_n/dX_(n-i) of each recurrence node into its paths, and give "
                        "the DAG's paths per length")
    p.add_argument("--terms", type=int, default=8, metavar="K",
                   help="with --derivative: show at most K products of each expansion")


def _big(n) -> str:
    if not isinstance(n, int):  # "p/q": a signed count under weights that are not integers
        return n
    return f"{n:,}" if abs(n) < 10**15 else f"{n:.3e}"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def run(args) -> int:
    from ..analyze import analyze
    from ..errors import UsageError

    if args.batch < 1:
        raise UsageError(f"--batch must be a positive integer, got {args.batch}")
    g = build_spec(args)
    if args.derivative:
        return derivative(g, args)
    info = analyze(g, args.batch)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    paths, mem = info["paths"], info["memory"]
    ins = info.get("inputs", info["input"])
    outs = info.get("outputs", info["output_shape"])
    print(f"{info['name']}: input{'s' if 'inputs' in info else ''} {ins} -> "
          f"output{'s' if 'outputs' in info else ''} {outs}")
    print(f"  parameters   {info['params']['total']:,}")
    print(f"  MACs         {info['macs']:,} per sample")
    print(f"  activations  {_mib(mem['stored_bytes'])} stored for backward, "
          f"{_mib(mem['peak_inference_bytes'])} peak in inference (batch {mem['batch']}, fp32)")
    print(f"  paths        {_big(paths['total'])}, length (weighted layers) "
          f"{paths['shortest']}..{paths['longest']}, mean {paths['mean']:.4f}"
          + (f" (to {next(iter(info['outputs']))})" if "outputs" in info else ""))
    for name, other in list(info.get("paths_by_output", {}).items())[1:]:
        print(f"               {_big(other['total'])} to {name}, length "
              f"{other['shortest']}..{other['longest']}, mean {other['mean']:.4f}")
    top = {k: v for k, v in info["params"]["blocks"].items() if "." not in k}
    if top:
        print("  parameters per block:")
        for name, count in top.items():
            print(f"    {name:<24} {count:>14,}")
    if args.nodes:
        print("  nodes:")
        for n in info["nodes"]:
            print(f"    {n['id']:<32} {str(n['shape']):<16} {n['params']:>12,} params "
                  f"{n['macs']:>16,} MACs")
    print("  paths per length:")
    for k, c in paths["counts"].items():
        print(f"    {k:>5} {_big(c)}")
    return 0


def derivative(g, args) -> int:
    """`--derivative`: the recurrence expansions (seed 002) and the DAG's path counts."""
    from ..analyze.derivative import recurrence_report, report_lines
    from ..analyze.paths import path_stats
    from ..errors import UsageError

    if args.terms < 1:
        raise UsageError(f"--terms must be a positive integer, got {args.terms}")
    reports = [recurrence_report(g, info, args.terms) for info in g.recurrences.values()]
    paths = path_stats(g).as_dict()
    if args.json:
        print(json.dumps({"recurrences": reports, "paths": paths}, indent=2))
        return 0
    if not reports:
        print(f"{g.name}: no recurrence node; the DAG's paths follow")
    for report in reports:
        print("\n".join(report_lines(report)))
    print(f"paths from the input to the output, by length (weighted layers): "
          f"{', '.join(f'{k}: {_big(v)}' for k, v in paths['counts'].items())}")
    if paths["signed_counts"] != paths["counts"]:
        print(f"  signed by the wsum weights: "
              f"{', '.join(f'{k}: {_big(v)}' for k, v in paths['signed_counts'].items())}")
    return 0
