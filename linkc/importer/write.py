"""Spec text from the importer's nodes and blocks: YAML a person would write.

One node per line in flow style (`name: {from: x, ops: [bn, relu, {conv: 16}]}`),
op arguments that equal the op's defaults left out, the first argument written
alone when it is the only one given (`{conv: 64}`), channel slices quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..ops import OPS

__all__ = ["format_value", "op_item", "spec_text"]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def format_value(value: Any) -> str:
    """A scalar or list in YAML flow style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.match(text) and text not in ("true", "false", "null", "yes", "no", "on", "off"):
        return text
    return json.dumps(text)


def op_item(name: str, args: dict[str, Any]) -> str:
    """`bn`, `{conv: 16}`, `{conv: {out: 16, stride: 2}}`: the shortest faithful form."""
    fields = OPS[name].args.model_fields
    given = {k: args[k] for k in fields  # in the op's own argument order
             if k in args and (fields[k].is_required() or args[k] != fields[k].default)}
    if not given:
        return name
    first = next(iter(fields))
    if list(given) == [first] and not isinstance(given[first], (list, dict)):
        return f"{{{name}: {format_value(given[first])}}}"
    inner = ", ".join(f"{k}: {format_value(v)}" for k, v in given.items())
    return f"{{{name}: {{{inner}}}}}"


def node_line(name: str, fields: dict[str, Any], indent: str) -> str:
    parts = []
    for key, value in fields.items():
        if value is None or value == [] and key != "from":
            continue
        if key == "ops":
            parts.append(f"ops: [{', '.join(value)}]")
        elif key == "from":
            parts.append(f"from: {value}")
        elif key == "args":
            inner = ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
            parts.append(f"args: {{{inner}}}")
        else:
            parts.append(f"{key}: {format_value(value)}")
    return f"{indent}{name}: {{{', '.join(parts)}}}"


def spec_text(name: str, header: str, params: dict[str, Any], inputs: dict[str, tuple],
              blocks: dict[str, dict], nodes: list[tuple[str, dict]],
              outputs: list[str]) -> str:
    """The whole spec file. `blocks[name] = {params, in, out, nodes}`; nodes as
    (name, fields) with `from` already written as text."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += ["linkc: 1", f"name: {format_value(name)}"]
    if params:
        lines.append("params: {" + ", ".join(f"{k}: {format_value(v)}"
                                             for k, v in params.items()) + "}")
    if list(inputs) == ["input"]:
        lines.append(f"input: {format_value(list(inputs['input']))}")
    else:
        lines.append("inputs: {" + ", ".join(f"{k}: {format_value(list(v))}"
                                             for k, v in inputs.items()) + "}")
    if blocks:
        lines.append("blocks:")
        for bname, block in blocks.items():
            lines.append(f"  {bname}:")
            if block["params"]:
                lines.append(f"    params: [{', '.join(block['params'])}]")
            lines.append(f"    in: {format_value(block['in'] if len(block['in']) > 1 else block['in'][0])}")
            lines.append("    nodes:")
            lines += [node_line(n, f, "      ") for n, f in block["nodes"]]
            lines.append(f"    out: {format_value(block['out'] if len(block['out']) > 1 else block['out'][0])}")
    lines.append("nodes:")
    lines += [node_line(n, f, "  ") for n, f in nodes]
    if len(outputs) == 1:
        lines.append(f"output: {outputs[0]}")
    else:
        lines.append(f"outputs: {format_value(outputs)}")
    return "\n".join(lines) + "\n"
