"""Validate a spec: load, expand, check the DAG and infer every shape.

Prints a summary (nodes, parameters, output shape); `--expand` prints the flat
graph as YAML, `--json` a machine-readable summary. Warnings go to stderr.
"""

from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("spec", help="the spec file (YAML)")
    p.add_argument("--expand", action="store_true", help="print the expanded flat graph as YAML")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                   help="raise (or lower) a safety limit, e.g. max_params=500000000; "
                        "repeatable; see docs/fuzzing.md for the names")


def summary(g) -> dict:
    """Counts from shape inference: no torch, nothing lowered."""
    return {
        "name": g.name,
        "nodes": len(g.order),
        "ops": sum(len(g.nodes[n].ops) for n in g.order),
        "parameters": g.param_count,
        "input": list(g.input_shape),
        "output": g.output,
        "output_shape": list(g.nodes[g.output].shape),
        "warnings": [str(w) for w in g.diagnostics.warnings],
    }


def run(args) -> int:
    from ..topology import Limits, build
    from ..topology.show import expanded_yaml

    g = build(args.spec, limits=Limits().parse(args.limit))
    for w in g.diagnostics.warnings:
        print(w, file=sys.stderr)
    if args.expand:
        sys.stdout.write(expanded_yaml(g))
        return 0
    info = summary(g)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}: ok")
    print(f"  nodes       {info['nodes']} ({info['ops']} ops)")
    print(f"  parameters  {info['parameters']:,}")
    print(f"  input       {info['input']}")
    print(f"  output      {info['output']} {info['output_shape']}")
    return 0
