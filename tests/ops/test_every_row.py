"""Every row of the op and merge registries, built-in and a plugin's, goes through every
stage: shapes and the parameter rule, lowering, a training step, the written model.py,
`analyze` and a drawing. A new row that some stage cannot take fails here, named."""

from __future__ import annotations

import importlib.util
import sys
import typing

import pytest
import torch
from pydantic import Field
from safetensors.torch import load_file
from torch import nn

import linkc
from linkc.analyze import analyze
from linkc.compiler.emit.codegen import write_artifacts
from linkc.compiler.lower import lower
from linkc.errors import SpecError
from linkc.extend import Args, Lowering, MergeDef, OpDef, register_merge, register_op
from linkc.ops import MERGES, OPS
from linkc.render import render_file


class Shift(nn.Module):
    """x + bias per channel: a learnable op defined outside linkc."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.bias = nn.Parameter(torch.randn(channels))

    def forward(self, x):
        return x + self.bias.view(-1, *([1] * (x.dim() - 2)))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def larger(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out


class ShiftArgs(Args):
    pass


@pytest.fixture(scope="module", autouse=True)
def plugin_rows():
    """One op and one merge registered as a plugin registers them, for this module."""
    op = register_op(OpDef("shift", ShiftArgs, lambda s, a: s,
                           Lowering(f"{__name__}:Shift", lambda s, a: dict(channels=s[0])),
                           "a learnable bias per channel", frozenset({"params", "fresh"}),
                           params=lambda s, a: s[0]))
    merge = register_merge(MergeDef("larger", MERGES["add"].infer, Lowering(f"{__name__}:larger"),
                                    "max", "elementwise maximum", associative=True))
    yield
    OPS.remove(op.name)
    MERGES.remove(merge.name)


def _example_value(annotation):
    """A small valid value for a required argument: 2 for counts and sizes, 0.25 for
    probabilities and rates."""
    for arg in typing.get_args(annotation) or (annotation,):
        if arg is float or typing.get_origin(arg) is typing.Annotated and \
                typing.get_args(arg)[0] is float:
            return 0.25
    return 2


def _op_calls(name: str) -> list[dict]:
    """The op with its required arguments filled in, then with its first argument as
    well (an op whose arguments are each optional but not all at once: upsample)."""
    fields = OPS[name].args.model_fields
    required = {k: _example_value(f.annotation) for k, f in fields.items() if f.is_required()}
    calls = [{name: required}]
    if fields:
        first, field = next(iter(fields.items()))
        calls.append({name: {**required, first: _example_value(field.annotation)}})
    return calls


def _spec(body: str, shape: list[int]) -> str:
    return f"linkc: 1\nname: row\ninput: {shape}\nnodes:\n{body}output: y\n"


def _build_op(name: str):
    """The op on a (4, 8, 8) map, or on a (4,) vector where it takes only vectors."""
    errors = []
    for call in _op_calls(name):
        for shape in ([4, 8, 8], [4]):
            try:
                return linkc.build(_spec(f"  y: {{from: input, ops: [{call}]}}\n", shape))
            except SpecError as exc:
                errors.append(str(exc))
    pytest.fail(f"op '{name}' builds on neither a map nor a vector:\n" + "\n".join(errors))


def _build_merge(name: str):
    return linkc.build(_spec(
        "  a: {from: input, ops: [relu]}\n  b: {from: input, ops: [tanh]}\n"
        f"  y: {{from: [a, b], merge: {name}}}\n", [4, 8, 8]))


def _through_every_stage(g, tmp_path):
    gm = lower(g)
    assert sum(p.numel() for p in gm.parameters()) == g.param_count, "the parameter rule"
    x = torch.randn(3, *g.input_shape, requires_grad=True)
    gm.train()
    gm(x).float().sum().backward()  # a training step's backward reaches the input
    assert x.grad is not None and x.grad.shape == x.shape
    x = x.detach()
    gm.eval()
    with torch.no_grad():
        expected = gm(x)
    assert tuple(expected.shape[1:]) == tuple(g.nodes[g.output].shape)
    paths = write_artifacts(gm, g, tmp_path / "out")
    spec = importlib.util.spec_from_file_location(f"row_model_{id(g)}", paths["model"])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        rebuilt = module.Model().eval()
        rebuilt.load_state_dict(load_file(paths["weights"]), strict=True)
        with torch.no_grad():
            assert torch.equal(rebuilt(x), expected), "model.py computes what the module does"
    finally:
        del sys.modules[spec.name]
    report = analyze(g)
    assert report["params"]["total"] == g.param_count
    render_file(g, tmp_path / "net.dot")
    assert (tmp_path / "net.dot").read_text().startswith("digraph")


def test_the_rows_include_a_plugins():
    assert OPS.origin("shift").name != "built-in" and MERGES.origin("larger").name != "built-in"


@pytest.mark.parametrize("name", sorted([*OPS, "shift"]))
def test_every_op_row_goes_through_every_stage(name, tmp_path):
    torch.manual_seed(0)
    _through_every_stage(_build_op(name), tmp_path)


@pytest.mark.parametrize("name", sorted([*MERGES, "larger"]))
def test_every_merge_row_goes_through_every_stage(name, tmp_path):
    torch.manual_seed(0)
    merge = MERGES[name]
    if merge.weighted:  # a weighted merge reads its references' weights
        g = linkc.build(_spec("  a: {from: input, ops: [relu]}\n  b: {from: input, ops: [tanh]}\n"
                              f"  y: {{from: [a, {{ref: b, weight: -1}}], merge: {name}}}\n",
                              [4, 8, 8]))
    else:
        g = _build_merge(name)
    _through_every_stage(g, tmp_path)
