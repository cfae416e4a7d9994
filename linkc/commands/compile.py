"""Lower a spec to a torch.fx GraphModule, run passes, and write the artifacts.

`-o DIR` writes DIR/model.py (standalone, imports only torch),
DIR/weights.safetensors and DIR/graph.json (the expanded graph with shapes), then runs
model.py beside the compiled module on a random input: the outputs must be equal.
"""

from __future__ import annotations

import sys


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("-o", "--out", help="output directory for model.py, weights, graph.json")
    p.add_argument("--mode", choices=("train", "infer"), default="train",
                   help="which default passes apply (default: train)")
    p.add_argument("--passes", help="comma-separated passes to run, in order "
                                    "('none' for none; default: the mode's defaults)")
    p.add_argument("--dump-after", metavar="PASS",
                   help="print the graph's code after this pass ('lower' for before any)")
    p.add_argument("--list-passes", action="store_true", help="list the passes and exit")


def run(args) -> int:
    from ..compiler import compile_graph
    from ..compiler.emit.codegen import write_artifacts
    from ..compiler.emit.rebuild import check_written_model
    from ..compiler.passes import PASSES, default_passes

    if args.list_passes:
        default_passes(args.mode)  # loads them all
        for p in PASSES.values():
            print(f"{p.name:18} {','.join(sorted(p.modes)):12} {p.doc}")
        return 0
    g = build_spec(args)
    for w in g.diagnostics.warnings:
        print(w, file=sys.stderr)
    if args.passes is None:
        passes = default_passes(args.mode)
    elif args.passes.strip() in ("", "none"):
        passes = []
    else:
        passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    gm = compile_graph(g, passes, mode=args.mode, dump_after=args.dump_after)
    if args.mode == "infer":
        gm.eval()
    params = sum(p.numel() for p in gm.parameters())
    if args.out:
        paths = write_artifacts(gm, g, args.out, spec_name=str(args.spec))
        check_written_model(gm, paths["model"])  # model.py computes what was compiled
        print(f"{g.name}: {params:,} parameters, passes: {', '.join(passes) or 'none'}")
        for kind, path in paths.items():
            print(f"  {kind:8} {path}")
    elif args.dump_after is None:
        print(gm.code)
    return 0
