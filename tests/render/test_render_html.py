"""linkc render -o net.html, and --compare: the page in a real headless Chromium.

Expected box counts come from the static renderer's views (depth 1: every block
and repeat one box; depth 2: one level open), numbers in the side panel from
`linkc analyze` and from hand counts.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from linkc.analyze import analyze
from linkc.cli import main
from linkc.render import RenderError, build_view, render_file
from linkc.frontend import build

SPECS = Path(__file__).resolve().parents[2] / "specs"

# 67 stages of 50 residual blocks of 3 nodes: 10,052 flat nodes.
BIG = """
linkc: 1
name: deep-resnet-10k
input: [3, 16, 16]
blocks:
  basic:
    in: x
    nodes:
      f: {from: x, ops: [{conv: [8, 3]}, bn, relu]}
      g: {from: f, ops: [{conv: [8, 3]}, bn]}
      y: {from: [x, g], merge: add, ops: [relu]}
    out: y
  stage:
    in: x
    nodes:
      b: {from: x, repeat: 50, block: basic}
    out: b
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  s: {from: stem, repeat: 67, block: stage}
  head: {from: s, ops: [gap, {linear: 10}]}
output: head
"""


def boxes(page) -> int:
    shown = int(page.js("document.querySelector('.pane').dataset.boxes"))
    assert page.js("document.querySelectorAll('.pane .box').length") == shown
    return shown


def panel(page, field: str) -> str:
    return page.js(f"document.querySelector('.pane .panel [data-field={field}]').textContent")


def number(text: str) -> int:
    return int(text.replace(",", ""))


def requests(page, own: Path) -> list[str]:
    urls = [e["request"]["url"] for e in page.named("Network.requestWillBeSent")]
    return [u for u in urls if u != own.resolve().as_uri() and not u.startswith("data:")]


@pytest.fixture(scope="module")
def densenet_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "densenet.html"
    assert main(["render", str(SPECS / "densenet_bc_100.yaml"), "-o", str(out)]) == 0
    return out


def test_page_is_one_file_with_nothing_to_fetch(densenet_page):
    text = densenet_page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=|<link[^>]*stylesheet", text)
    assert "dagre" in text and '<script type="application/json"' in text


def test_densenet_opens_closed_and_blocks_open_by_click(browser, densenet_page):
    g = build(SPECS / "densenet_bc_100.yaml")
    page = browser
    page.open(densenet_page)
    top = build_view(g, depth=1)
    assert boxes(page) == len(top.boxes) == 9  # input, stem, d1, t1, d2, t2, d3, head, output
    two = build_view(g, depth=2)
    in_d1 = [b for b in two.boxes.values() if b.cluster == "d1"]  # 16 layers and the final ‖
    assert len(in_d1) == 17
    page.click('.box.collapsed[data-id="d1"]')
    assert boxes(page) == len(top.boxes) - 1 + len(in_d1)
    assert page.js("document.querySelectorAll('.pane .frame').length") == 1
    glyphs = page.js("[...document.querySelectorAll('.pane .box.merge text')].map(t => t.textContent)")
    assert glyphs == ["‖"]  # the dense block's concat, drawn as in the static render
    page.click('.box.collapsed[data-id="d1.3"]')  # one layer: its concat port and h
    assert boxes(page) == len(top.boxes) - 1 + len(in_d1) - 1 + 2
    page.click('.frame[data-id="d1"] text')  # closing d1 closes d1.3 too
    assert boxes(page) == len(top.boxes)
    assert page.errors() == []
    assert requests(page, densenet_page) == []


def test_wheel_zooms_and_drag_pans(browser, densenet_page):
    page = browser
    page.open(densenet_page)
    scene = "document.querySelector('.pane .scene').getAttribute('transform')"

    def view():
        x, y, k = re.match(r"translate\(([-\d.e]+),([-\d.e]+)\) scale\(([-\d.e]+)\)",
                           page.js(scene)).groups()
        return float(x), float(y), float(k)

    x0, y0, k0 = view()
    page.call("Input.dispatchMouseEvent", type="mouseWheel", x=700, y=400, deltaX=0, deltaY=-300)
    x1, y1, k1 = view()
    assert k1 > 1.5 * k0  # zoomed in, around the cursor: the point under it stays put
    assert abs((700 - x0) / k0 - (700 - x1) / k1) < 1e-6
    for kind, x in (("mousePressed", 300), ("mouseMoved", 350), ("mouseReleased", 350)):
        page.call("Input.dispatchMouseEvent", type=kind, x=x, y=500, button="left",
                  buttons=1 if kind == "mouseMoved" else 0, clickCount=1)
    x2, y2, k2 = view()
    assert (x2 - x1, y2 - y1, k2) == (50, 0, k1)  # dragged 50 px right
    assert boxes(page) == 9  # a drag is not a click
    assert page.errors() == []


def test_screenshot_is_a_drawing(browser, densenet_page):
    from PIL import Image

    page = browser
    page.open(densenet_page)
    page.click('.box.collapsed[data-id="d1"]')
    page.click('.box.collapsed[data-id="d1.1"]')  # its input port: a ‖ of stem and d1.0.h
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert image.width >= 1000 and image.height >= 600
    colours = image.getcolors(maxcolors=1 << 20)
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert white < 0.97 * image.width * image.height  # something is drawn
    present = {c for n, c in colours if n >= 20}
    for hex_colour in ("#e4e9f2", "#fff4d6", "#dff0d8"):  # closed block, merge, input
        rgb = tuple(int(hex_colour[k:k + 2], 16) for k in (1, 3, 5))
        assert rgb in present, hex_colour


def test_panel_shows_shape_params_macs_and_yaml_line(browser, tmp_path):
    spec = SPECS / "resnet_20.yaml"
    g = build(spec)
    out = tmp_path / "resnet.html"
    render_file(g, out)
    page = browser
    page.open(out)
    page.js("(() => { const s = document.querySelector('.pane .search');"
            " s.value = 'stage2.0.f'; s.dispatchEvent(new Event('change')); })()")
    assert boxes(page) > 7  # stage2 and stage2.0 were opened to show it
    page.hover('.box[data-id="stage2.0.f"]')
    nodes = {n["id"]: n for n in analyze(g)["nodes"]}
    reference = nodes["stage2.0.f"]
    assert panel(page, "name") == "stage2.0.f"
    assert panel(page, "shape") == "32×16×16" == "×".join(map(str, reference["shape"]))
    # conv 16->32 3x3 (4608) + bn (64) + conv 32->32 3x3 (9216) + bn (64)
    assert number(panel(page, "params")) == reference["params"] == 4608 + 64 + 9216 + 64
    # each conv's MACs: weights x output pixels (16x16)
    assert number(panel(page, "macs")) == reference["macs"] == (4608 + 9216) * 16 * 16
    assert panel(page, "where") == f"resnet_20.yaml:{g.nodes['stage2.0.f'].loc.line}"
    page.click(".pane .bar button")  # fit, so that every box is in the window
    page.hover('.box.collapsed[data-id="stage3"]')  # a closed repeat: its totals
    stage3 = sum(n["params"] for i, n in nodes.items() if i.startswith("stage3."))
    assert number(panel(page, "params")) == stage3
    assert panel(page, "shape") == "64×8×8"
    assert page.errors() == []


def test_page_cannot_fetch_anything(browser, densenet_page):
    page = browser
    page.open(densenet_page)
    assert requests(page, densenet_page) == []
    # even a script that tried would be refused by the page's own policy
    assert page.errors() == []
    refused = page.js("fetch('http://127.0.0.1:9/x').then(() => 'fetched', () => 'refused')")
    assert refused == "refused"
    assert requests(page, densenet_page) == []  # refused before any request was made
    assert any("violates the following Content Security Policy" in e for e in page.errors())


def test_ten_thousand_nodes_stay_quick(browser, tmp_path):
    g = build(BIG)
    assert len(g.order) == 10052
    out = tmp_path / "big.html"
    render_file(g, out, counts=False)  # counts are tested above; here only size matters
    assert out.stat().st_size < 3_000_000
    page = browser
    page.open(out)
    assert boxes(page) == 5  # input, stem, s, head, output
    page.click('.box.collapsed[data-id="s"]')
    assert boxes(page) == 4 + 67
    page.js("(() => { const s = document.querySelector('.pane .search');"
            " s.value = 's.40.b.17.g'; s.dispatchEvent(new Event('change')); })()")
    # s, s.40, s.40.b and s.40.b.17 open: 66 + 49 closed boxes, f, g, the merge and y
    assert boxes(page) == 4 + 66 + 49 + 4
    assert page.js("document.querySelector('.pane .panel [data-field=name]').textContent") \
        == "s.40.b.17.g"
    assert "params" not in page.js("document.querySelector('.pane .panel').textContent")
    page.click(".pane .bar button:nth-of-type(2)")  # open level: each s.k shows its repeat
    assert boxes(page) == 4 + 66 + 49 * 4 + 4  # and each closed residual block its 4 boxes
    page.click(".pane .bar button:nth-of-type(2)")  # the next level would draw 66 x 50 more
    assert boxes(page) == 4 + 66 + 49 * 4 + 4  # refused, with a word on what to do instead
    assert "open blocks one by one" in page.js("document.querySelector('.pane .status').textContent")
    assert page.errors() == []


def test_compare_marks_the_nodes_that_differ(browser, tmp_path):
    a = SPECS / "resnet_20.yaml"
    b = tmp_path / "resnet_20_wide.yaml"
    b.write_text(a.read_text(encoding="utf-8").replace(
        "stage3: {from: stage2, repeat: blocks_per_stage, block: basic, args: {width: 64",
        "stage3: {from: stage2, repeat: blocks_per_stage, block: basic, args: {width: 96"),
        encoding="utf-8")
    out = tmp_path / "diff.html"
    assert main(["render", "--compare", str(a), str(b), "-o", str(out)]) == 0
    page = browser
    page.open(out)
    assert page.js("document.querySelectorAll('.pane').length") == 2
    summary = page.js("document.querySelector('.summary').textContent")
    # stage3 is wider: all its nodes but the first shortcut (a pool of stage2) change,
    # and so does the head (its linear layer has more inputs)
    assert "0 only on the left" in summary and "9 changed" in summary
    marked = page.js("[...document.querySelectorAll('.pane-a .box.diff1')]"
                     ".map(e => e.dataset.id)")
    assert marked == ["stage3", "head"]
    page.click('.pane-a .box.collapsed[data-id="stage3"]')  # opens on both sides
    counts = page.js("[...document.querySelectorAll('.pane')].map(p => +p.dataset.boxes)")
    assert counts == [7 - 1 + 3, 7 - 1 + 3]
    assert page.errors() == []


def test_markup_in_a_spec_stays_text(browser, tmp_path):
    name = "<!--<script></script><script>document.title='owned'</script>"
    spec = (SPECS / "resnet_20.yaml").read_text(encoding="utf-8").replace(
        "name: resnet-20", f'name: "{name}"')
    out = tmp_path / "markup.html"
    render_file(build(spec), out, counts=False)
    assert name not in out.read_text(encoding="utf-8")
    page = browser
    page.open(out)
    assert page.js("document.querySelector('.pane .bar .title').textContent") == name
    assert page.js("document.title") == name
    assert page.errors() == []


def test_depth_and_highlight_say_where_the_page_starts(browser, tmp_path):
    g = build(SPECS / "densenet_bc_100.yaml")
    out = tmp_path / "two.html"
    done = render_file(g, out, depth=2, counts=False)
    page = browser
    page.open(out)
    assert boxes(page) == done.boxes == len(build_view(g, depth=2).boxes)
    done = render_file(g, out, expand=True, counts=False)
    page.open(out)
    assert boxes(page) == done.boxes == len(build_view(g, expand=True).boxes)
    render_file(g, out, highlight="d2.7.h", counts=False)
    page.open(out)
    assert panel(page, "name") == "d2.7.h"  # opened down to it and selected
    assert page.js("document.querySelector('.pane .box.selected').dataset.id") == "d2.7.h"
    for key in ("/", "Escape"):  # "/" is the search box, Escape lets go of the selection
        page.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key[:1] * (key == "/"))
        page.call("Input.dispatchKeyEvent", type="keyUp", key=key)
        if key == "/":
            assert page.js("document.activeElement.className") == "search"
    assert page.js("document.querySelectorAll('.pane .selected').length") == 0
    assert page.errors() == []


def test_html_options_are_checked(tmp_path):
    g = build(SPECS / "resnet_20.yaml")
    with pytest.raises(RenderError, match="--depth must be 1 or more"):
        render_file(g, tmp_path / "x.html", depth=0)
    with pytest.raises(RenderError, match="did you mean 'stage2.1.y'"):
        render_file(g, tmp_path / "x.html", highlight="stage2.1.yy")
    with pytest.raises(RenderError, match="--style applies to the static formats"):
        render_file(g, tmp_path / "x.html", style="paper")
    with pytest.raises(RenderError, match="give -o a .html file"):
        from linkc.render import render_compare

        render_compare(g, g, tmp_path / "x.svg")
    assert main(["render", "--compare", str(SPECS / "resnet_20.yaml"), str(SPECS / "resnet_20.yaml"),
                 str(SPECS / "resnet_20.yaml"), "-o", str(tmp_path / "x.html")]) == 2


def test_every_family_opens_fully_to_the_static_full_view(browser, tmp_path):
    # "open level" until nothing is closed: the drawn boxes are the static renderer's
    # fully expanded view, box for box, and nothing in the page fails on the way
    for family in ("densenet_bc_100", "resnet_s_18", "dmrnet_wide", "mixnet", "dpn_mixed_100",
                   "delugenet", "micro_dense", "a41_20_recur"):
        g = build(SPECS / f"{family}.yaml")
        out = tmp_path / f"{family}.html"
        render_file(g, out, counts=False)
        page = browser
        page.open(out)
        for _ in range(8):
            if not page.js("document.querySelectorAll('.pane .box.collapsed').length"):
                break
            page.click(".pane .bar button:nth-of-type(2)")  # open level
        full = build_view(g, expand=True)
        drawn = page.js("[...document.querySelectorAll('.pane .box')].map(b => b.dataset.id)")
        assert sorted(drawn) == sorted(full.boxes), family
        assert page.errors() == [], family
