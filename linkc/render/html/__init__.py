"""The interactive view: `linkc render SPEC -o net.html`, and `--compare A B`.

One self-contained HTML file (no network access when opened) shows the DAG
with every block and repeat closed to one box; a click opens a block, a click
on its frame closes it, down to single ops. Hovering or selecting a box shows
its ops, output shape, parameters and MACs (counted as `linkc analyze` counts
them) and its line in the YAML; a search box finds a node or block by name.

Layout is dagre (@dagrejs/dagre 3.1.3, MIT, vendored in `vendor/`), run in the
browser on what is drawn at the moment: Graphviz could only lay out a fixed
set of open blocks ahead of time, and the number of such sets grows
exponentially with the number of blocks. Each open block is laid out on its
own and the results are nested (`layout.js`): dagre's compound layout took
seconds for DenseNet-BC-190 with its blocks open (benchmarks/RESULTS.md).
The page's scripts: `common.js` (helpers), `layout.js`, `panel.js` (details
and search), `viewer.js` (state, drawing, mouse); `page.html` puts them,
`viewer.css` and the data together.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from ...expand.flat_graph import FlatGraph
from .compare import diff_marks
from .page import page
from .payload import graph_payload

__all__ = ["write_compare", "write_html"]


def write_html(g: FlatGraph, path: str | os.PathLike, counts: bool = True, depth: int = 1,
               select: str | None = None) -> int:
    """Write the view of `g`, open `depth` levels deep (1: every block closed) and
    showing `select`; returns how many boxes it draws when opened."""
    payload = graph_payload(g, counts)
    payload["start"] = {"depth": depth, "select": select}
    Path(path).write_text(page(g.name, [payload]), encoding="utf-8")
    return boxes_at(payload, depth)


def boxes_at(payload: dict, depth: int) -> int:
    """Boxes drawn with the clusters of the first `depth - 1` levels open: a box inside
    `depth` or more clusters is drawn as its cluster at level `depth`."""
    clusters = payload["clusters"]
    level = []  # nesting level of each cluster, parents come first
    for c in clusters:
        level.append(1 if c[1] < 0 else level[c[1]] + 1)
    drawn = set()
    for k, box in enumerate(payload["boxes"]):
        c = box[1]
        while c >= 0 and level[c] > depth:
            c = clusters[c][1]
        drawn.add(("c", c) if c >= 0 and level[c] == depth else ("b", k))
    return len(drawn)


def write_compare(a: FlatGraph, b: FlatGraph, path: str | os.PathLike,
                  counts: bool = True) -> dict[str, int]:
    """Both specs side by side, nodes that differ marked; returns the counts."""
    pa, pb = graph_payload(a, counts), graph_payload(b, counts)
    counts = diff_marks(pa, pb)
    summary = (f'<div class="summary"><b>{html.escape(pa["source"])}</b> vs '
               f'<b>{html.escape(pb["source"])}</b>: '
               f'<span class="removed">{counts["only_a"]} only on the left</span>, '
               f'<span class="added">{counts["only_b"]} only on the right</span>, '
               f'<span class="changed">{counts["changed"]} changed</span> '
               f'(of {len(pa["nodes"])} and {len(pb["nodes"])} nodes)</div>')
    Path(path).write_text(page(f"{a.name} vs {b.name}", [pa, pb], summary), encoding="utf-8")
    return counts
