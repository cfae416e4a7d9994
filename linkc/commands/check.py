"""Validate a spec: load, expand, check the DAG and infer every shape.

Prints a summary (nodes, parameters, output shape); `--expand` prints the flat
graph as YAML, `--json` a machine-readable summary. Warnings go to stderr.
"""

from __future__ import annotations

import json
import sys


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("--expand", action="store_true", help="print the expanded flat graph as YAML")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


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
        "inputs": {k: list(v) for k, v in g.inputs.items()},
        "outputs": {name: list(g.nodes[o].shape) for name, o in zip(g.output_names, g.outputs)},
        "warnings": [str(w) for w in g.diagnostics.warnings],
    }


def run(args) -> int:
    from ..expand.as_text import expanded_yaml

    g = build_spec(args)
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
    for name, shape in info["inputs"].items():
        print(f"  input       {shape}" if name == "input" else f"  input       {name} {shape}")
    for name, shape in info["outputs"].items():
        print(f"  output      {name} {shape}")
    return 0
