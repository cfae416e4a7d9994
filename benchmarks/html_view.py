"""The interactive view in headless Chromium: file size, time until the page is ready,
and the layout of open blocks against dagre's own compound layout (interleaved).

    python benchmarks/html_view.py --rounds 5

For DenseNet-BC-190 with every block open (192 boxes) and the 10,052-node residual
chain of tests/render/test_render_html.py with two levels open, each round lays out
the same drawn graph twice in the same page, back to back: once as the viewer does
(each open block by flat dagre, composed; layout.js) and once as one compound dagre
graph (nested clusters), the baseline. Ratios are medians per round.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linkc.render import render_file  # noqa: E402
from linkc.frontend import build  # noqa: E402

# The drawn graph of the first viewer laid out both ways; returns milliseconds.
COMPARE_JS = """(() => {
  const v = window.linkcViewers[0], vis = v.visible(v.open);
  for (const e of vis.edges.values()) e.text = e.labels.join(", ");
  let t = performance.now();
  window.linkcLayout(vis, v.clusters, (k) => v.size(k), { textWidth: () => 40 });
  const composed = performance.now() - t;
  t = performance.now();
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ nodesep: 16, ranksep: 26, edgesep: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const it of vis.items.values()) {
    g.setNode(it.key, v.size(it.key));
    let child = it.key;
    for (let c = it.parent; c >= 0; c = v.clusters[c].parent) {
      if (!g.hasNode("k" + c)) g.setNode("k" + c, {});
      g.setParent(child, "k" + c);
      child = "k" + c;
    }
  }
  for (const e of vis.edges.values()) g.setEdge(e.v, e.w, { weight: e.weight, minlen: 1 });
  dagre.layout(g);
  return [composed, performance.now() - t, vis.items.size];
})()"""


def browser_page():
    spec = importlib.util.spec_from_file_location(
        "render_conftest", ROOT / "tests" / "render" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.browser.__wrapped__()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from test_render_html import BIG

    out = Path(tempfile.mkdtemp())
    cases = []
    for name, spec, counts, opens in [
            ("DenseNet-BC-190 (k=40)", ROOT / "specs" / "densenet_bc_190_k40.yaml", True,
             ["open level", "open level"]),
            ("residual chain, 10,052 nodes", BIG, False, ['s', 's.0'])]:
        g = build(spec)
        path = out / f"{len(cases)}.html"
        t = time.perf_counter()
        render_file(g, path, counts=counts)
        cases.append((name, path, opens, time.perf_counter() - t, len(g.order)))
    pages = browser_page()
    page = next(pages)
    ready = {c[0]: [] for c in cases}
    ratios = {c[0]: [] for c in cases}
    layout = {c[0]: [] for c in cases}
    for _ in range(args.rounds):
        for name, path, opens, _, _ in cases:
            ready[name].append(page.open(path))
            for what in opens:
                if what == "open level":
                    page.click(".pane .bar button:nth-of-type(2)")
                else:
                    page.click(f'.box.collapsed[data-id="{what}"]')
            composed, compound, boxes = page.js(COMPARE_JS)
            layout[name].append((composed, compound, boxes))
            ratios[name].append(compound / composed)
    for name, path, opens, write_s, nodes in cases:
        composed = statistics.median(x[0] for x in layout[name])
        compound = statistics.median(x[1] for x in layout[name])
        print(f"| {name} | {nodes:,} | {path.stat().st_size / 1e6:.2f} MB | {write_s:.1f} s | "
              f"{statistics.median(ready[name]):.2f} s | {layout[name][0][2]} | "
              f"{composed:.0f} ms | {compound:.0f} ms | "
              f"{statistics.median(ratios[name]):.1f}x |")
    try:
        next(pages)
    except StopIteration:
        pass


if __name__ == "__main__":
    main()
