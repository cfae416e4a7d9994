"""A `View` as a Mermaid flowchart (for Markdown on GitHub, GitLab, docs sites).

Mermaid ids must be plain words, so boxes are `n0`, `n1`, ... in view order and
clusters `c0`, `c1`, ...; the flat id is kept in each label. Merges are circles
with their glyph, collapsed clusters are subroutine boxes `[[...]]`.
"""

from __future__ import annotations

from .diagram import View

SHAPES = {  # kind -> (open, close)
    "ops": ('["', '"]'),
    "merge": ('(("', '"))'),
    "pass": ('["', '"]'),
    "collapsed": ('[["', '"]]'),
    "input": ('(["', '"])'),
    "output": ('(["', '"])'),
}
CLASSES = {
    "merge": "fill:#fff4d6,stroke:#c69214",
    "collapsed": "fill:#e4e9f2,stroke:#44546a",
    "target": "fill:#ffd54f,stroke:#d84315,stroke-width:3px",
    "path": "stroke:#d84315,stroke-width:2px",
    "dim": "fill:#f7f7f7,stroke:#c8c8c8,color:#a0a0a0",
}


def _text(text: str) -> str:
    """Mermaid label text inside double quotes."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def to_mermaid(view: View) -> str:
    ids = {box_id: f"n{k}" for k, box_id in enumerate(view.boxes)}
    cids = {cid: f"c{k}" for k, cid in enumerate(view.clusters)}
    children, boxes = view.nesting()

    def body(parent: str | None, indent: str) -> list[str]:
        lines = []
        for b in boxes.get(parent, ()):
            left, right = SHAPES[b.kind]
            lines.append(f"{indent}{ids[b.id]}{left}{'<br/>'.join(map(_text, b.lines))}{right}")
        for c in children.get(parent, ()):
            lines.append(f'{indent}subgraph {cids[c.id]} ["{_text(c.label)}"]')
            lines += body(c.id, indent + "  ")
            lines.append(f"{indent}end")
        return lines

    lines = ["---", f"title: {view.title} (depth {view.depth} of {view.full_depth})", "---",
             "flowchart TB"]
    lines += body(None, "  ")
    for e in view.edges:
        label = f'|"{_text(e.label)}"|' if e.label else ""
        lines.append(f"  {ids[e.src]} -->{label} {ids[e.dst]}")
    lines += [f"  classDef {name} {style}" for name, style in CLASSES.items()]
    for name in ("merge", "collapsed"):
        members = [ids[b.id] for b in view.boxes.values() if b.kind == name and not b.mark]
        if members:
            lines.append(f"  class {','.join(members)} {name}")
    for mark in ("target", "path", "dim"):
        members = [ids[b.id] for b in view.boxes.values() if b.mark == mark]
        if members:
            lines.append(f"  class {','.join(members)} {mark}")
    path_edges = [str(k) for k, e in enumerate(view.edges) if e.mark == "path"]
    if path_edges:
        lines.append(f"  linkStyle {','.join(path_edges)} stroke:#d84315,stroke-width:2px")
    return "\n".join(lines) + "\n"
