"""Human-readable views of the flat graph: op calls as text, the expanded YAML."""

from __future__ import annotations

from typing import Any

import yaml

from .flat_graph import FlatGraph, FlatNode, OpCall


def op_text(call: OpCall) -> str:
    """`conv(48, 1)`, `conv(64, 3, stride=2)`, `bn`: required args positionally,
    others only where they differ from the default."""
    if call.args is None:
        return call.op.name
    fields = call.op.args.model_fields
    values = call.args.model_dump()
    positional, keyword = [], []
    in_prefix = True  # positional while every earlier field was written too
    for name, f in fields.items():
        shown = f.is_required() or values[name] != f.default
        in_prefix = in_prefix and shown
        if in_prefix:
            positional.append(_num(values[name]))
        elif shown:
            keyword.append(f"{name}={_num(values[name])}")
    inner = ", ".join(positional + keyword)
    return f"{call.op.name}({inner})" if inner else call.op.name


def _num(v: Any) -> str:
    return repr(v) if not isinstance(v, float) or not v.is_integer() else str(int(v))


def _ref_text(node: FlatNode, i: int) -> Any:
    x = node.inputs[i]
    text = x.src if x.slice is None else f"{x.src}[{x.slice[0]}:{x.slice[1]}]"
    if node.merge is not None and node.merge.weighted and x.weight != 1:
        return {"ref": text, "weight": x.weight}
    return text


def expanded(g: FlatGraph) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for node_id in g.order:
        node = g.nodes[node_id]
        refs = [_ref_text(node, i) for i in range(len(node.inputs))]
        entry: dict[str, Any] = {"from": refs[0] if len(refs) == 1 else refs}
        merge = node.effective_merge()
        if merge is not None:
            entry["merge"] = merge.name
        if node.pad and merge is not None:
            entry["pad"] = node.pad
        if node.ops:
            entry["ops"] = [op_text(c) for c in node.ops]
        entry["shape"] = list(node.shape)
        nodes[node_id] = entry
    io = g.interface()
    inputs = {k: v for k, v in io.items() if k.startswith("input")}
    outputs = {k: v for k, v in io.items() if k.startswith("output")}
    return {"linkc": 1, "name": g.name, **inputs, "nodes": nodes, **outputs}


def expanded_yaml(g: FlatGraph) -> str:
    """The flat graph as a spec without blocks or repeats (`linkc check --expand`):
    one node per line, in topological order."""
    data = expanded(g)

    def flow(value: Any) -> str:
        # dumped inside a list so a scalar gets no document-end marker
        text = yaml.safe_dump([value], default_flow_style=True, width=float("inf"),
                              allow_unicode=True).strip()
        return text[1:-1]

    io = g.interface()
    lines = ["linkc: 1", f"name: {flow(data['name'])}"]
    lines += [f"{key}: {flow(value)}" for key, value in io.items() if key.startswith("input")]
    lines.append("nodes:")
    lines += [f"  {flow(name)}: {flow(entry)}" for name, entry in data["nodes"].items()]
    lines += [f"{key}: {flow(value)}" for key, value in io.items() if key.startswith("output")]
    return "\n".join(lines) + "\n"
