"""List every op and merge a spec can name: signature, one-line doc and origin
(built-in, or the distribution name of the plugin that registered it).

Never imports torch. With --no-plugins only the built-in entries are listed.
"""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the entries as JSON")


def _args(op) -> dict:
    fields = {}
    for name, f in op.args.model_fields.items():
        fields[name] = {"required": f.is_required(), "description": f.description or ""}
        if not f.is_required():
            fields[name]["default"] = f.default
    return fields


def op_rows() -> list[dict]:
    from ..ops import OPS

    return [{"name": name, "signature": op.signature(), "doc": op.doc,
             "origin": OPS.origin(name).name, "aliases": OPS.aliases_of(name),
             "traits": sorted(op.traits), "args": _args(op)}
            for name, op in sorted(OPS.items())]


def merge_rows() -> list[dict]:
    from ..ops.merges import MERGES

    return [{"name": name, "signature": m.signature(), "doc": m.doc,
             "origin": MERGES.origin(name).name, "aliases": MERGES.aliases_of(name),
             "glyph": m.glyph, "associative": m.associative, "weighted": m.weighted,
             "learnable": m.params, "pad": m.padded}
            for name, m in sorted(MERGES.items())]


def _table(title: str, rows: list[dict]) -> list[str]:
    def label(r):
        return r["signature"] + (f"  (also {', '.join(r['aliases'])})" if r["aliases"] else "")
    width = max(len(label(r)) for r in rows)
    origin = max(len(r["origin"]) for r in rows)
    lines = [f"{title}:"]
    lines += [f"  {label(r):<{width}}  {r['origin']:<{origin}}  {r['doc']}" for r in rows]
    return lines


def run(args) -> int:
    ops, merges = op_rows(), merge_rows()
    if args.json:
        print(json.dumps({"ops": ops, "merges": merges}, indent=1, default=str))
        return 0
    print("\n".join(_table("ops", ops) + [""] + _table("merges (merge: NAME)", merges)))
    return 0
