"""The JSON Schema of the spec language, for editors (`linkc schema`).

Generated from the pydantic models in `schema.py` (the source of truth for what a
spec may contain), then completed from the registries: an `ops:` item is
described op by op from `OPS` (each op's argument model, with its field
descriptions, in the three written forms: bare name, call text, one-key mapping),
and `merge:` lists the names and aliases of `MERGES` with their docs. Numbers
that linkc evaluates may also be written as expressions, so every numeric
argument accepts a string too. No torch here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..ops.merges import MERGES
from ..ops import OPS
from ..ops.registry import OpDef
from .schema import Spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXPRESSION = {"type": "string", "description": "an expression, e.g. `4*k` or `channels(d1)`"}


def _number_or_expression(prop: dict[str, Any]) -> dict[str, Any]:
    """A field schema that also accepts an expression where it accepts a number."""
    options = prop.get("anyOf", [prop])
    if not any(o.get("type") in ("integer", "number") for o in options):
        return prop
    out = {k: v for k, v in prop.items() if k in ("description", "default")}
    core = [{k: v for k, v in o.items() if k not in ("description", "default", "title")}
            for o in options]
    out["anyOf"] = core + [EXPRESSION]
    return out


def _op_value(op: OpDef) -> dict[str, Any]:
    """What may follow `name:` in an op mapping: a first positional, positionals, keywords."""
    args = op.args.model_json_schema()
    fields = {name: _number_or_expression(p) for name, p in args.get("properties", {}).items()}
    doc = f"{op.doc}. Signature: {op.signature()}"
    if not fields:
        return {"type": "null", "description": f"{doc} (no arguments: write `{op.name}` alone)"}
    ordered = list(fields.values())
    keywords = {"type": "object", "properties": fields, "additionalProperties": False,
                "description": "arguments by name"}
    if args.get("required"):
        keywords["required"] = args["required"]
    options = [
        {**{k: v for k, v in ordered[0].items() if k != "default"},
         "description": f"the first argument ({next(iter(fields))})"},
        {"type": "array", "prefixItems": ordered, "items": False, "minItems":
            len(args.get("required", [])), "description": "arguments in order"},
        keywords,
    ]
    if not args.get("required"):
        options.append({"type": "null", "description": "all defaults"})
    return {"description": doc, "anyOf": options}


def op_item_schema() -> dict[str, Any]:
    """An `ops:` item: `bn`, `"conv(64, 3, stride=2)"` or `{conv: [64, 3]}`."""
    bare = [name for name, op in OPS.items() if not op.args.model_json_schema().get("required")]
    names = "|".join(re.escape(n) for n in sorted(OPS.names(), key=len, reverse=True))
    return {
        "description": "an op: a bare name (`bn`), a call (`\"conv(64, 3, stride=2)\"`, "
                       "quoted inside [...]) or a one-key mapping (`{conv: [64, 3]}`)",
        "anyOf": [
            {"anyOf": [{"const": n, "description": f"{OPS[n].doc}. Signature: "
                                                    f"{OPS[n].signature()}"} for n in bare],
             "description": "an op without required arguments"},
            {"type": "string", "pattern": rf"^\s*({names})\s*\(.*\)\s*$",
             "description": "an op call, e.g. conv(64, 3, stride=2)"},
            {"type": "object", "minProperties": 1, "maxProperties": 1,
             "additionalProperties": False,
             "properties": {name: _op_value(op) for name, op in OPS.items()},
             "description": "an op name with its arguments"},
        ],
    }


def merge_schema(description: str) -> dict[str, Any]:
    options = [{"const": n, "description": MERGES[n].doc} for n in MERGES]
    options += [{"const": a, "description": f"alias of {t}: {MERGES[t].doc}"}
                for a, t in MERGES.aliases.items()]
    return {"description": description, "anyOf": options}


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a linkc spec."""
    schema = copy.deepcopy(Spec.model_json_schema(by_alias=True))
    node = schema["$defs"]["NodeSpec"]["properties"]
    node["ops"]["items"] = {"$ref": "#/$defs/OpItem"}
    node["merge"] = merge_schema(node["merge"].get("description", "how inputs are combined"))
    schema["$defs"]["OpItem"] = op_item_schema()
    # exactly one of `input`/`inputs` and one of `output`/`outputs`
    schema["allOf"] = [{"oneOf": [{"required": [one]}, {"required": [many]}]}
                       for one, many in (("input", "inputs"), ("output", "outputs"))]
    return {"$schema": DIALECT, "$id": "https://linkc.dev/schema/spec-1.json",
            **schema, "title": "linkc topology spec"}


def missing_descriptions(schema: dict[str, Any]) -> list[str]:
    """Paths of object properties without a description (a test keeps this empty)."""
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if isinstance(prop, dict) and "description" not in prop:
                    missing.append(f"{path}/properties/{name}")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema, "#")
    return missing
