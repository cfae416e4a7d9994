"""Draw a spec's DAG: merges as their glyph, op chains as boxes, edges labelled with shapes.

The format follows the extension of -o: .svg .png .pdf (Graphviz: `dot` from PATH,
else the bundled graphviz-pure), .dot, .mmd (Mermaid; neither needs Graphviz).
Blocks and repeats are clusters. --depth 1 draws the top-level nodes (a block or
repeat is one box), each level more opens one level of nesting; --expand draws
every node. Without either, the deepest view that stays readable is drawn.
"""

from __future__ import annotations

import sys


def add_arguments(p) -> None:
    p.add_argument("spec", help="the spec file (YAML)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write: .svg .png .pdf .dot or .mmd")
    p.add_argument("--depth", type=int, metavar="N",
                   help="draw N levels of nesting; deeper blocks and repeats become one box")
    p.add_argument("--expand", action="store_true", help="draw every node")
    p.add_argument("--highlight", metavar="NODE",
                   help="mark a node (or block instance, e.g. d1.3) and every path through it")


def run(args) -> int:
    from ..render import RenderError, render_file
    from ..topology import build

    if args.expand and args.depth is not None:
        raise RenderError("give --depth N or --expand, not both")
    g = build(args.spec)
    done = render_file(g, args.output, depth=args.depth, expand=args.expand,
                       highlight=args.highlight)
    for note in done.notes:
        print(f"linkc: {note}", file=sys.stderr)
    print(f"wrote {done.path} ({done.boxes} boxes, depth {done.depth} of {done.full_depth})")
    return 0
