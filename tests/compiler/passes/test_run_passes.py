"""run_passes: a pass, or the check after it, failing on a node is reported at the
node's spec position exactly as a SpecError prints (file:line:col, the YAML line, a
caret); a linkc pass's bug is an internal error (exit 1), a plugin op that
disagrees with its own shape rule is the plugin's (exit 2)."""

from __future__ import annotations

import pytest
from torch import nn

import linkc
from linkc.cli import main
from linkc.compiler import passes
from linkc.compiler.fxutil import NodeError
from linkc.compiler.passes import Pass, PassError, PassFailure, run_passes
from linkc.extend import Lowering, NoArgs, OpDef, register_op
from linkc.ops import OPS

SPEC = """linkc: 1
name: small
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: a, ops: [{conv: [8, 3]}]}
  c: {from: b, ops: [OP]}
output: c
"""
B_LINE = "    6 |   b: {from: a, ops: [{conv: [8, 3]}]}\n      |                      ^"
C_LINE = "    7 |   c: {from: b, ops: [OP]}\n      |                      ^"


def _stride_b(gm):
    """A broken pass: b's convolution now halves the map, its node meta says it does not."""
    gm.get_submodule("b.conv1").stride = (2, 2)
    return gm


def _refuse_b(gm):
    node = next(n for n in gm.graph.nodes if n.target == "b.conv1")
    raise NodeError(node, "no rule for this convolution")


def _swap_b(gm):
    """A broken pass: moves b's convolution before the node it reads."""
    b = next(n for n in gm.graph.nodes if n.target == "b.conv1")
    first = next(n for n in gm.graph.nodes if n.op == "call_module")
    first.prepend(b)
    return gm


@pytest.fixture
def broken_passes(monkeypatch):
    for fn in (_stride_b, _refuse_b, _swap_b):
        name = fn.__name__.lstrip("_")
        monkeypatch.setitem(passes.BY_NAME, name, Pass(name, fn, frozenset({"train", "infer"}),
                                                       frozenset(), None))


class Halve(nn.Module):
    """A plugin module whose op's shape rule says it keeps the shape: it does not."""

    def forward(self, x):
        return x[:, :, ::2, ::2]


class Fails(nn.Module):
    def forward(self, x):
        raise ValueError("this module cannot run")


@pytest.fixture
def plugin_ops():
    for name, cls in (("halve", "Halve"), ("fails", "Fails")):
        register_op(OpDef(name, NoArgs, lambda s, a: s, Lowering(f"{__name__}:{cls}"),
                          "a plugin op with a wrong shape rule"))
    yield
    for name in ("halve", "fails"):
        OPS.remove(name)


def _failure(pass_name: str, op: str = "relu") -> str:
    gm = linkc.compile(SPEC.replace("OP", op))
    with pytest.raises((PassError, PassFailure)) as info:
        run_passes(gm, [pass_name])
    return f"{type(info.value).__name__}: {info.value}"


def test_a_broken_shape_is_reported_at_the_node(broken_passes):
    assert _failure("stride_b") == (
        "PassFailure: <spec>:6:22: error: after pass 'stride_b': fx node b_conv1 (node b, "
        "op:conv) has shape [8, 4, 4], but [8, 8, 8] was inferred\n" + B_LINE)


def test_a_pass_failing_on_a_node_names_it(broken_passes):
    assert _failure("refuse_b") == (
        "PassFailure: <spec>:6:22: error: pass 'refuse_b' failed on fx node b_conv1 (node b, "
        "op:conv): no rule for this convolution\n" + B_LINE)


def test_a_graph_that_does_not_lint_is_reported_at_the_node(broken_passes):
    assert _failure("swap_b") == (
        "PassFailure: <spec>:6:22: error: after pass 'swap_b': the graph does not lint: "
        "Argument 'a_relu1' of Node 'b_conv1' was used before it has been defined! Please "
        "check that Nodes in the graph are topologically ordered\n" + B_LINE)


HINT = (f"  the op or merge here comes from module {__name__}, whose module, shape rule or "
        "traits disagree; fix it there, or run without it (--no-plugins)")


def test_a_plugin_op_against_its_shape_rule_is_the_plugins_fault(plugin_ops):
    assert _failure("drop_identity", "halve") == (
        "PassError: <spec>:7:22: error: fx node c_halve1 (node c, op:halve) has shape "
        "[8, 4, 4], but [8, 8, 8] was inferred (checking the graph after pass "
        "'drop_identity')\n" + C_LINE.replace("OP", "halve") + "\n" + HINT)
    assert _failure("drop_identity", "fails") == (
        "PassError: <spec>:7:22: error: fx node c_fails1 (node c, op:fails) fails when run: "
        "ValueError: this module cannot run (checking the graph after pass "
        "'drop_identity')\n" + C_LINE.replace("OP", "fails") + "\n" + HINT)


def test_cli_internal_error_names_the_spec_position(broken_passes, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.delenv("LINKC_DEBUG", raising=False)
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC.replace("OP", "relu"))
    assert main(["compile", str(spec), "--passes", "stride_b", "--dump-after", "lower"]) == 1
    out, err = capsys.readouterr()
    assert "def forward(self, x):" in out  # the graph as lowered, before the broken pass
    assert err == (
        f"linkc: internal error: PassFailure: {spec}:6:22: error: after pass 'stride_b': fx "
        "node b_conv1 (node b, op:conv) has shape [8, 4, 4], but [8, 8, 8] was inferred\n"
        f"{B_LINE}\nThis is a bug in linkc, not in your spec; run again with LINKC_DEBUG=1 "
        "for the traceback.\n")


def test_cli_plugin_fault_exits_2(plugin_ops, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC.replace("OP", "halve"))
    assert main(["compile", str(spec), "--passes", "drop_identity"]) == 2
    assert capsys.readouterr().err == (
        f"{spec}:7:22: error: fx node c_halve1 (node c, op:halve) has shape [8, 4, 4], but "
        "[8, 8, 8] was inferred (checking the graph after pass 'drop_identity')\n"
        + C_LINE.replace("OP", "halve") + "\n" + HINT + "\n")

