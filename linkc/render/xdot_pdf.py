"""A vector PDF from Graphviz's own drawing, for an engine that cannot write PDF.

graphviz-pure writes SVG, PNG and JSON but not PDF. Its JSON carries the drawing
operations of the graph, every cluster, node and edge (xdot: polygons, Bézier
paths, ellipses, text with its position and the width Graphviz laid it out for),
and matplotlib, already a dependency, draws those onto a PDF page: vector shapes
and embedded TrueType text, so a figure stays sharp at any zoom and its text can
be selected. Text is shrunk where the font at hand is wider than the one Graphviz
measured, so it never spills out of its box.
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Ellipse, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextToPath

SANS = ("Helvetica", "Arial", "Liberation Sans", "Nimbus Sans", "DejaVu Sans")
ALIGN = {"l": "left", "c": "center", "r": "right"}
DRAW_KEYS = ("_draw_", "_ldraw_", "_hdraw_", "_tdraw_", "_hldraw_", "_tldraw_")


def _families() -> list[str]:
    """The first sans-serif font installed, then DejaVu Sans (matplotlib's own) for any
    glyph it lacks (‖, ×, −)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    first = next((f for f in SANS if f in installed), "DejaVu Sans")
    return [first] if first == "DejaVu Sans" else [first, "DejaVu Sans"]


def _colour(value: str) -> str:
    return "none" if value in ("transparent", "none") or value.endswith("00") and \
        len(value) == 9 else value


class _Painter:
    def __init__(self, ax, families: list[str]):
        self.ax, self.families = ax, families
        self.measure = TextToPath()

    def ops(self, ops: list[dict]) -> None:
        pen, fill, width, dash, font = "#000000", "none", 1.0, "solid", (14.0, None)
        for op in ops:
            kind = op["op"]
            if kind == "c":
                pen = _colour(op["color"])
            elif kind == "C":
                fill = _colour(op["color"])
            elif kind == "S":
                style = op["style"]
                if style.startswith("setlinewidth("):
                    width = float(style[len("setlinewidth("):-1])
                elif style in ("dashed", "dotted", "solid"):
                    dash = style
            elif kind == "F":
                font = (float(op["size"]), op.get("face"))
            elif kind == "T":
                self.text(op, pen, font[0])
            else:
                self.shape(op, pen, fill, width, dash)

    def shape(self, op: dict, pen: str, fill: str, width: float, dash: str) -> None:
        kind = op["op"]
        style = dict(edgecolor=pen, linewidth=width, linestyle=dash)
        if kind in "Ee":
            x, y, rx, ry = op["rect"]
            self.ax.add_patch(Ellipse((x, y), 2 * rx, 2 * ry, facecolor=fill if kind == "E"
                                      else "none", **style))
            return
        points = [tuple(p) for p in op["points"]]
        if kind in "Pp":
            codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
            path = MplPath(points + [points[0]], codes + [MplPath.CLOSEPOLY])
            filled = kind == "P"
        elif kind == "L":
            path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
            filled = False
        else:  # B, b: cubic Bézier; a closed outline is a shape's border, so it is filled
            path = MplPath(points, [MplPath.MOVETO] + [MplPath.CURVE4] * (len(points) - 1))
            filled = kind == "b" or points[0] == points[-1]
        self.ax.add_patch(PathPatch(path, facecolor=fill if filled else "none", **style))

    def text(self, op: dict, pen: str, size: float) -> None:
        text = op["text"]
        if not text.strip():
            return
        prop = FontProperties(family=self.families, size=size)
        drawn = self.measure.get_text_width_height_descent(text, prop, ismath=False)[0]
        if op.get("width") and drawn > op["width"] * 1.02:
            prop.set_size(size * op["width"] / drawn)
        x, y = op["pt"]
        self.ax.text(x, y, text, fontproperties=prop, color=pen, ha=ALIGN[op.get("align", "c")],
                     va="baseline")


def xdot_pdf(json_text: str, out: Path) -> None:
    """Draw Graphviz `-Tjson` output to a vector PDF at its natural size."""
    data = json.loads(json_text)
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    fig = Figure(figsize=(max(x1 - x0, 1) / 72, max(y1 - y0, 1) / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    painter = _Painter(ax, _families())
    clusters = data.get("_subgraph_cnt", 0)
    objects = data.get("objects", [])
    # background, clusters, edges, then nodes on top (as Graphviz paints them)
    for obj in [data, *objects[:clusters], *data.get("edges", []), *objects[clusters:]]:
        for key in DRAW_KEYS:
            painter.ops(obj.get(key, []))
    with rc_context({"pdf.fonttype": 42}):  # embedded TrueType: text stays text
        fig.savefig(out, format="pdf")
