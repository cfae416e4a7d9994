"""Draw a spec's DAG: merges as their glyph, op chains as boxes, edges labelled with shapes.

The format follows the extension of -o: .svg .png .pdf (Graphviz: `dot` from PATH,
else the bundled graphviz-pure), .dot, .mmd (Mermaid; neither needs Graphviz), and
.html: one self-contained page to explore in a browser (blocks open by click,
details on hover, search by name; --depth and --highlight say where it starts). Blocks and repeats are clusters. --depth 1
draws the top-level nodes (a block or repeat is one box), each level more opens
one level of nesting; --expand draws every node. Without either, the deepest view
that stays readable is drawn. --style paper draws a compact figure for a
publication (each repeat once, "× n", a legend of the merge glyphs).
--compare A B -o diff.html shows two specs side by side, the nodes that differ marked.
"""

from __future__ import annotations

import sys


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p, optional=True)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write: .svg .png .pdf .dot .mmd or .html")
    p.add_argument("--depth", type=int, metavar="N",
                   help="draw N levels of nesting; deeper blocks and repeats become one box")
    p.add_argument("--expand", action="store_true", help="draw every node")
    p.add_argument("--highlight", metavar="NODE",
                   help="mark a node (or block instance, e.g. d1.3) and every path through it")
    p.add_argument("--style", choices=("default", "paper"), default="default",
                   help="paper: a compact figure, each repeat drawn once, legend of merges")
    p.add_argument("--direction", choices=("TB", "LR"),
                   help="top to bottom (default) or left to right")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="two specs side by side in one .html page, differing nodes marked")
    p.add_argument("--no-counts", dest="counts", action="store_false",
                   help=".html without parameters and MACs (counting takes ~30 s at 10,000 nodes)")


def run(args) -> int:
    from ..render import RenderError, render_compare, render_file
    from ..frontend import build

    if args.compare:
        if args.spec:
            raise RenderError("give either SPEC or --compare A B, not both")
        counts = render_compare(build(args.compare[0]), build(args.compare[1]), args.output,
                                args.counts)
        print(f"wrote {args.output} ({counts['only_a']} nodes only in {args.compare[0]}, "
              f"{counts['only_b']} only in {args.compare[1]}, {counts['changed']} changed)")
        return 0
    if not args.spec:
        raise RenderError("linkc render needs a SPEC (or --compare A B)")
    if args.expand and args.depth is not None:
        raise RenderError("give --depth N or --expand, not both")
    g = build_spec(args)
    done = render_file(g, args.output, depth=args.depth, expand=args.expand,
                       highlight=args.highlight, style=args.style, direction=args.direction,
                       counts=args.counts)
    for note in done.notes:
        print(f"linkc: {note}", file=sys.stderr)
    if done.format == "html":
        print(f"wrote {done.path} ({done.boxes} boxes at first, {done.full_depth} levels)")
    else:
        print(f"wrote {done.path} ({done.boxes} boxes, depth {done.depth} of {done.full_depth})")
    return 0
