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
    from ..compiler.passes import default_passes

    p.add_argument("--mode", choices=("train", "infer"), default="train",
                   help="which default passes apply (default: train)")
    p.add_argument("--passes", help="comma-separated passes to run, in order ('none' for "
                                    "none; default: the mode's defaults, train: "
                                    f"{','.join(default_passes('train'))}; infer: "
                                    f"{','.join(default_passes('infer'))})")
    p.add_argument("--dump-after", metavar="PASS",
                   help="print the graph's code after this pass ('lower' for before any)")
    p.add_argument("--list-passes", action="store_true", help="list the passes and exit")
    p.add_argument("--verify", action="store_true", default=None,
                   help="run the module before and after each pass on a random batch and "
                        "stop (exit 2) at a pass that changed values beyond what it declares "
                        "(also: LINKC_VERIFY_PASSES=1)")


def run(args) -> int:
    from ..compiler import compile_graph
    from ..compiler.emit.codegen import write_artifacts
    from ..compiler.emit.rebuild import check_written_model
    from ..compiler.passes import default_passes

    if args.list_passes:
        _list_passes()
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
    gm = compile_graph(g, passes, mode=args.mode, dump_after=args.dump_after,
                       verify=args.verify)
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


def _list_passes() -> None:
    """The pass table in run order: modes, defaults, what each keeps; then the pairs."""
    from ..compiler.passes import PAIRS, PASSES

    print(f"{'pass':16} {'modes':12} {'default in':12} {'keeps':8} {'weights':8} what it does")
    for p in PASSES:
        print(f"{p.name:16} {','.join(sorted(p.modes)):12} "
              f"{','.join(sorted(p.defaults)) or '-':12} {p.keeps:8} "
              f"{'new' if p.new_weights else 'kept':8} {p.doc}")
    print("\nkeeps: exact = outputs and gradients bit-identical; <=B = equal in real arithmetic, "
          "within relative error B in float64 (rounding only)")
    for name, halves in PAIRS.items():
        print(f"{name} = {' + '.join(halves)} (the pair, in this order; "
              "either half by its own name)")
