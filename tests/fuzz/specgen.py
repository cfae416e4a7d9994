"""Hypothesis strategies for random *valid* specs, built with their shapes tracked.

`valid_specs()` draws a spec as YAML text: a random DAG over a small image
input whose nodes use every merge kind (with slices to equalise widths and
`pad: zeros` where widths differ), op chains in all three written forms,
blocks with one and two ports, `channels()` expressions, `prev` references,
repeats in both connect modes, sometimes an auxiliary output and a second, named
vector input; and (specgen_lang) list params, `if:` with
fallbacks, `repeat: 0`, ops after a block and empty slices. The generator knows
each node's shape, so every spec it writes is valid (a SpecError on one is a bug
in linkc or here), and `valid_cases()` also gives the output shape it expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from hypothesis import strategies as st

from . import specgen_lang as lang

Shape = tuple[int, ...]

BLOCKS = {
    # shape-preserving residual block; its width comes from a channels() expression
    "res": {"in": "x", "nodes": {
        "f": {"from": "x", "ops": [{"conv": ["channels(x)", 3]}, "bn"]},
        "y": {"from": ["x", "f"], "merge": "add", "ops": ["relu"]}}, "out": "y"},
    # DenseNet layer: g new channels
    "grow": {"params": {"g": 2}, "in": "x", "nodes": {
        "h": {"from": "x", "ops": ["bn", "relu", {"conv": ["g", 3]}]}}, "out": "h"},
    # ResNet-s style memory: subtract the previous instance's branch (dropped in instance 0)
    "mem": {"in": "x", "nodes": {
        "f": {"from": "x", "ops": [{"conv": ["channels(x)", 1]}]},
        "y": {"from": ["f", {"ref": "prev.f", "optional": True, "weight": -1}],
              "merge": "wsum"}}, "out": "y"},
    # two streams (DMRNet): merge-and-run
    "duo": {"in": ["a", "b"], "nodes": {
        "p": {"from": ["a", "b"], "merge": "mean", "ops": ["relu"]},
        "q": {"from": ["b", "a"], "merge": "avg"}}, "out": ["p", "q"]},
}


@dataclass
class _Draft:
    draw: object
    input: Shape
    k: int
    widths: list = field(default_factory=list)
    nodes: dict = field(default_factory=dict)
    blocks: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)  # name a reference can use -> shape
    used: set = field(default_factory=set)  # names some node reads

    def pick(self, spatial: Shape | None = None, vector: bool = False) -> str:
        names = [n for n, s in self.shapes.items()
                 if (len(s) == 1) == vector and (spatial is None or s[1:] == spatial)]
        name = self.draw(st.sampled_from(sorted(names)))
        self.used.add(name)
        return name

    def block(self, name: str) -> None:
        self.blocks[name] = BLOCKS[name]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _conv(d: _Draft, shape: Shape) -> tuple[object, Shape]:
    draw = d.draw
    c, h, w = shape
    form = draw(st.integers(0, 3))
    out = 2 * d.k if form == 1 else draw(st.integers(1, 8))
    k = draw(st.sampled_from([1, 3]))
    if form == 1:  # an expression over the spec's params
        return {"conv": ["2*k", k]}, (out, h, w)
    groups = draw(st.sampled_from([g for g in _divisors(c) if out % g == 0]))
    stride = 2 if h >= 4 and draw(st.integers(0, 4)) == 0 else 1
    dilation = 2 if k == 3 and h >= 5 and draw(st.integers(0, 4)) == 0 else 1
    bias = draw(st.booleans())
    pad = dilation * (k - 1) // 2
    size = lambda s: (s + 2 * pad - dilation * (k - 1) - 1) // stride + 1  # noqa: E731
    new = (out, size(h), size(w))
    if form == 0 and groups == 1 and stride == 1 and dilation == 1 and not bias:
        return {"conv": [out, k]}, new
    if form == 2:
        return f"conv({out}, {k}, stride={stride}, groups={groups}, dilation={dilation}, " \
               f"bias={bias})", new
    return {"conv": {"out": out, "k": k, "stride": stride, "groups": groups,
                     "dilation": dilation, "bias": bias}}, new


def _ops(d: _Draft, shape: Shape, most: int = 3) -> tuple[list, Shape]:
    ops = []
    for _ in range(d.draw(st.integers(0, most))):
        kind = d.draw(st.sampled_from(["conv", "conv", "bn", "act", "pool", "dropout",
                                       "list_conv"]))
        if kind == "conv":
            op, shape = _conv(d, shape)
        elif kind == "list_conv" and len(shape) == 3:
            op, shape = lang.list_conv(d, shape)
        elif kind == "list_conv":
            continue
        elif kind == "bn":
            op = d.draw(st.sampled_from(["bn", {"bn": {"eps": 0.001}}]))
        elif kind == "act":
            op = d.draw(st.sampled_from(["relu", "sigmoid", "gelu", "silu", "tanh", "identity"]))
        elif kind == "dropout":
            op = {"dropout": 0.5}
        elif shape[1] >= 2 and shape[2] >= 2:
            op = {d.draw(st.sampled_from(["maxpool", "avgpool"])): 2}
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        else:
            continue
        ops.append(op)
    return ops, shape


def _equalised(d: _Draft, names: list[str], width: int) -> list:
    """References to `names` sliced down to `width` channels where they are wider."""
    refs = []
    for name in names:
        c = d.shapes[name][0]
        if c == width:
            refs.append(name)
            continue
        start = d.draw(st.integers(0, c - width))
        if d.draw(st.booleans()):
            refs.append(f"{name}[{start}:{start + width}]")
        else:
            refs.append({"ref": name, "slice": [start, start + width]})
    return refs


def _mapping(ref) -> dict:
    """A reference in the mapping form (`{ref: n, slice: [a, b]}`, not `{ref: 'n[a:b]'}`)."""
    if isinstance(ref, dict):
        return dict(ref)
    if "[" in ref:
        name, bounds = ref[:-1].split("[")
        return {"ref": name, "slice": [int(b) for b in bounds.split(":")]}
    return {"ref": ref}


def _merge_node(d: _Draft) -> tuple[dict, Shape]:
    first = d.pick()
    spatial = d.shapes[first][1:]
    names = [first]
    for _ in range(d.draw(st.integers(1, 2))):
        others = sorted(n for n, s in d.shapes.items()
                        if len(s) == 3 and s[1:] == spatial and n not in names)
        names.append(d.draw(st.sampled_from(others)) if others else first)
        d.used.add(names[-1])
    widths = [d.shapes[n][0] for n in names]
    merge = d.draw(st.sampled_from(["add", "+", "concat", "‖", "cat", "mean", "avg", "dwsum",
                                    "wsum", "mul"]))
    if merge in ("concat", "‖", "cat"):
        empty = lang.empty_slice(d, names) if d.draw(st.integers(0, 3)) == 0 else []
        return {"from": names + empty, "merge": merge}, (sum(widths), *spatial)
    if merge in ("add", "+", "mean", "avg", "wsum") and len(set(widths)) > 1 \
            and d.draw(st.booleans()):
        refs, width, extra = list(names), max(widths), {"pad": "zeros"}
    else:  # slice the wider inputs (and sometimes all of them) to a common width
        width = min(widths)
        if width > 1 and d.draw(st.booleans()):
            width = d.draw(st.integers(1, width - 1))
        refs, extra = _equalised(d, names, width), {}
    if merge == "wsum":
        weights = [d.draw(st.sampled_from([1, -1, 0.5, 2])) for _ in refs]
        refs = [r if w == 1 and isinstance(r, str) else {**_mapping(r), "weight": w}
                for r, w in zip(refs, weights)]
    return {"from": refs, "merge": merge, **extra}, (width, *spatial)


def _gate(d: _Draft, name: str) -> Shape:
    """Squeeze-and-excitation: x * sigmoid(linear(gap(x))), two nodes."""
    x = d.pick()
    c = d.shapes[x][0]
    d.nodes[f"{name}_se"] = {"from": x, "ops": ["gap", {"linear": c}, "sigmoid"]}
    d.shapes[f"{name}_se"] = (c,)
    d.nodes[name] = {"from": [x, f"{name}_se"], "merge": "mul"}
    d.used.add(f"{name}_se")
    return d.shapes[x]


def _repeat_count(d: _Draft) -> tuple[object, int]:
    return lang.repeat_count(d)


def _add_node(d: _Draft, name: str) -> None:
    kind = d.draw(st.sampled_from(["ops", "ops", "merge", "merge", "gate", "res", "mem",
                                   "grow_dense", "duo", "op_chain", "op_dense", "cond",
                                   "block_ops"]))
    if kind == "cond":
        shape, _ = lang.conditional(d, name, d.pick())
    elif kind == "block_ops":
        shape = lang.block_with_ops(d, name, d.pick())
    elif kind == "ops":
        x = d.pick()
        ops, shape = _ops(d, d.shapes[x])
        d.nodes[name] = {"from": x, "ops": ops or ["identity"]}
    elif kind == "merge":
        node, shape = _merge_node(d)
        ops, shape = _ops(d, shape, 2)
        d.nodes[name] = {**node, **({"ops": ops} if ops else {})}
    elif kind == "gate":
        shape = _gate(d, name)
    elif kind in ("res", "mem"):
        d.block(kind)
        repeat, _ = _repeat_count(d)
        x = d.pick()
        d.nodes[name] = {"from": x, "block": kind, "repeat": repeat}
        shape = d.shapes[x]
    elif kind == "grow_dense":
        d.block("grow")
        x = d.pick()
        c, *spatial = d.shapes[x]
        repeat, n = _repeat_count(d)
        merge = d.draw(st.sampled_from(["concat", "dwsum", "add", "mean"]))
        if merge == "concat":
            g = d.draw(st.integers(1, 4))
            with_i = d.draw(st.booleans())
            args = {"g": f"{g} + i" if with_i else g}
            grown = sum(g + (i if with_i else 0) for i in range(n))
            shape = (c + grown, *spatial)
            if n:
                d.shapes[f"{name}.0.h"] = (g, *spatial)  # a dotted path into instance 0
        else:
            args = {"g": "channels(%s)" % x}  # args are evaluated in the caller's scope
            shape = (c, *spatial)
        d.nodes[name] = {"from": x, "block": "grow", "repeat": repeat, "connect": "dense",
                         "merge": merge, "args": args}
    elif kind == "duo":
        d.block("duo")
        a = d.pick()
        b = d.draw(st.sampled_from(sorted(n for n, s in d.shapes.items()
                                          if s == d.shapes[a])))
        d.used.add(b)
        repeat, _ = _repeat_count(d)
        d.nodes[name] = {"from": [a, b], "block": "duo", "repeat": repeat}
        d.shapes[f"{name}.p"] = d.shapes[f"{name}.q"] = d.shapes[a]
        return
    elif kind == "op_chain":
        x = d.pick()
        c, *spatial = d.shapes[x]
        width = d.draw(st.integers(1, 6))
        repeat, _ = _repeat_count(d)
        d.nodes[name] = {"from": x, "repeat": repeat, "connect": "chain",
                         "ops": [{"conv": [width, 3]}, "relu"]}
        shape = (width, *spatial) if repeat != 0 else d.shapes[x]
    else:  # op_dense
        x = d.pick()
        c, *spatial = d.shapes[x]
        repeat, n = _repeat_count(d)
        merge = d.draw(st.sampled_from(["concat", "dwsum", "mean"]))
        g = d.draw(st.integers(1, 3)) if merge == "concat" else c
        d.nodes[name] = {"from": x, "repeat": repeat, "connect": "dense", "merge": merge,
                         "ops": ["bn", {"conv": [g, 1]}]}
        shape = (c + n * g, *spatial) if merge == "concat" else (c, *spatial)
    d.shapes[name] = shape


def _renamed_input(value, name: str):
    """Top-level nodes with the model input `input` called `name`: in references,
    slices, fallbacks and expressions alike (no op or key is called `input`)."""
    if isinstance(value, dict):
        return {k: _renamed_input(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed_input(v, name) for v in value]
    return re.sub(r"\binput\b", name, value) if isinstance(value, str) else value


def _interface(d: _Draft, spec: dict) -> list[str]:
    """Sometimes several outputs (an auxiliary head on a top-level node) and named
    inputs (the image renamed, plus a vector input that the auxiliary head reads).
    Returns the outputs; rewrites `spec` and the top-level nodes for named inputs."""
    outputs = ["head"]
    if not d.draw(st.booleans()):
        return outputs
    top = sorted(n for n in d.shapes if n != "input")  # any name a top-level node can read
    src = d.draw(st.sampled_from(top))
    pool = ["gap"] if len(d.shapes[src]) == 3 else ["identity"]
    d.nodes["aux"] = {"from": src, "ops": pool}
    outputs.append("aux")
    if d.draw(st.booleans()):
        d.nodes = _renamed_input(d.nodes, "image")
        meta = d.draw(st.integers(1, 4))
        del spec["input"]
        spec["inputs"] = {"image": list(d.input), "meta": [meta]}
        d.nodes["aux"] = {"from": ["aux_in", "meta"], "merge": "concat",
                          "ops": [{"linear": d.draw(st.integers(1, 3))}]}
        d.nodes["aux_in"] = {"from": src, "ops": pool}
    return outputs


def valid_specs():
    """YAML text of a random valid spec."""
    return valid_cases().map(lambda case: case[0])


@st.composite
def valid_cases(draw) -> tuple[str, Shape]:
    """(YAML text of a random valid spec, the shape of its output)."""
    c = draw(st.integers(1, 4))
    h = draw(st.sampled_from([4, 5, 8]))
    d = _Draft(draw, (c, h, h), k=draw(st.integers(1, 3)), widths=lang.widths(draw))
    d.shapes["input"] = d.input
    count = draw(st.integers(1, 6))
    for j in range(count):
        _add_node(d, f"n{j}")
    # Every node must reach the output, or it is left out of the model untested.
    sinks = [n for n in d.shapes if n != "input" and n not in d.used and ".0." not in n]
    out = draw(st.integers(1, 5))
    if len(sinks) == 1:
        head: dict = {"from": sinks[0]}
        sink = d.shapes[sinks[0]]
        if draw(st.booleans()):
            head["ops"], shape = ["gap", {"linear": out}], (out,)
        elif draw(st.booleans()):
            size = sink[0] * (sink[1] * sink[2] if sink[1:] else 1)
            head["ops"], shape = ["flatten"], (size,)
        else:
            head["ops"], shape = ["identity"], sink
    else:  # pool each to a vector, then concat vectors
        for j, sink in enumerate(sinks):
            d.nodes[f"pool{j}"] = {"from": sink, "ops": ["gap"]}
        head = {"from": [f"pool{j}" for j in range(len(sinks))], "merge": "concat",
                "ops": [{"linear": out}]}
        shape = (out,)
    d.nodes["head"] = head
    spec = {"linkc": 1, "name": "fuzz", "params": {"k": d.k, "widths": d.widths},
            "input": list(d.input)}
    outputs = _interface(d, spec)
    if d.blocks:
        spec["blocks"] = d.blocks
    spec["nodes"] = d.nodes
    spec.update({"output": "head"} if outputs == ["head"] else {"outputs": outputs})
    text = yaml.dump(spec, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     default_flow_style=None, allow_unicode=True, width=100)
    return text, shape
