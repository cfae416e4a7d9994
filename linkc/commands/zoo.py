"""List every spec of the model zoo with its parameter count next to the paper's
figure as printed, the relative difference, and a verdict: a count matches if it
rounds to the printed figure or is within 2% of it (exact where the paper's
count is exact). A mismatch is shown with the spec's note on why.

Exit 0 when every spec builds, 2 when one does not (the row says why).
"""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--dir", default=None, help="the specs directory (default: the zoo shipped with linkc)")


def run(args) -> int:
    from ..analyze.zoo import as_dicts, zoo_rows

    rows = zoo_rows(args.dir)
    failed = any(r.verdict == "error" for r in rows)
    if args.json:
        print(json.dumps(as_dicts(rows), indent=2))
        return 2 if failed else 0
    width = max([len(r.label) for r in rows] + [5])
    print(f"{'spec':<{width}}  {'params':>12}  {'paper':>10}  {'diff':>8}  verdict")
    for r in rows:
        count = f"{r.params:,}" if r.params is not None else "-"
        paper = r.paper or (f"{r.exact:,}" if r.exact is not None else "-")
        diff = f"{r.relative:+.2%}" if r.relative is not None else ""
        verdict = r.verdict if r.verdict != "error" else f"error: {r.error}"
        print(f"{r.label:<{width}}  {count:>12}  {paper:>10}  {diff:>8}  {verdict}")
        if r.verdict == "mismatch":
            print(f"{'':<{width}}    why: {r.note or 'NO NOTE: an unexplained mismatch'}")
    counts = {v: sum(r.verdict == v for r in rows) for v in ("match", "mismatch", "no figure",
                                                              "error")}
    print(", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return 2 if failed else 0
