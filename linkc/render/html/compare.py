"""Which nodes differ between two specs, for `linkc render --compare A B`.

Nodes are matched by flat id (`d1.3.h`), which is what an edit or a sweep keeps:
a node is *changed* when its ops, merge, output shape or parameter count differ,
and *only* on one side when the other spec has no node of that id.
"""

from __future__ import annotations

CHANGED, ONLY = 1, 2  # the codes the viewer script reads


def _facts(node: list) -> tuple:
    node_id, ops, merge, shape, params, _macs, _line = node
    return ops, merge, shape, params


def diff_marks(a: dict, b: dict) -> dict[str, int]:
    """Mark both payloads (their "diff": [[node index, code], ...]); return the counts."""
    index_a = {n[0]: k for k, n in enumerate(a["nodes"])}
    index_b = {n[0]: k for k, n in enumerate(b["nodes"])}
    marks_a, marks_b = [], []
    changed = 0
    for node_id, k in index_a.items():
        other = index_b.get(node_id)
        if other is None:
            marks_a.append([k, ONLY])
        elif _facts(a["nodes"][k]) != _facts(b["nodes"][other]):
            marks_a.append([k, CHANGED])
            marks_b.append([other, CHANGED])
            changed += 1
    marks_b += [[k, ONLY] for node_id, k in index_b.items() if node_id not in index_a]
    a["diff"], b["diff"] = marks_a, sorted(marks_b)
    return {"only_a": sum(1 for _, c in marks_a if c == ONLY),
            "only_b": sum(1 for _, c in marks_b if c == ONLY), "changed": changed}
