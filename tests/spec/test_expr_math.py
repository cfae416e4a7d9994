"""`log`, `log2` and `exp` in expressions (RegNet's width formula in the spec), and
values that are no finite real number (`(-4)**0.5`, `1e400`, `.nan`) as located errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkc.frontend import SpecError, build

REGNET = """linkc: 1
name: regnetx-200mf-widths
params: {w0: 24, wa: 36.44, wm: 2.49, depth: 13, q: 8}
input: [3, 8, 8]
blocks:
  unit:
    in: x
    nodes:
      # RegNet: u = w0 + wa*i, s = round(log(u/w0) / log(wm)), w0 * wm**s to a multiple of q
      y:
        from: x
        ops:
          - conv(int(round(w0 * wm ** round(log((w0 + wa * i) / w0) / log(wm)) / q) * q), 1)
    out: y
nodes:
  body: {from: input, repeat: depth, block: unit}
output: body
"""


def generate_regnet(w_a, w_0, w_m, d, q=8):
    """pycls's generate_regnet (Radosavovic et al. 2020), as published."""
    ws_cont = np.arange(d) * w_a + w_0
    ks = np.round(np.log(ws_cont / w_0) / np.log(w_m))
    ws = w_0 * np.power(w_m, ks)
    ws = np.round(np.divide(ws, q)) * q
    return ws.astype(int).tolist()


def test_regnet_widths_from_the_formula_in_the_spec():
    g = build(REGNET)
    widths = [g.nodes[f"body.{i}.y"].shape[0] for i in range(13)]
    assert widths == generate_regnet(36.44, 24, 2.49, 13)
    # RegNetX-200MF as the paper tabulates it: widths 24, 56, 152, 368, depths 1, 1, 4, 7
    stages = sorted(set(widths))
    assert stages == [24, 56, 152, 368]
    assert [widths.count(w) for w in stages] == [1, 1, 4, 7]


def _spec(expr: str, params: str = "{a: 2}") -> str:
    return (f"linkc: 1\nname: t\nparams: {params}\ninput: [4, 6, 6]\nnodes:\n"
            f"  a: {{from: input, ops: [{{conv: \"{expr}\"}}]}}\noutput: a\n")


@pytest.mark.parametrize("expr, channels", [
    ("round(log2(64))", 6), ("round(log(1000, 10))", 3), ("round(exp(log(7)))", 7),
    ("round(exp(2))", round(math.exp(2))), ("2 ** round(log2(a * 30))", 64)])
def test_log_log2_exp_compute(expr, channels):
    assert build(_spec(expr)).nodes["a"].shape[0] == channels


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        build(text)
    return info.value


@pytest.mark.parametrize("expr, col, message", [
    ("log(0)", 34, "log() in 'log(0)': takes positive numbers, got 0"),
    ("log2(a - 3)", 34, "log2() in 'log2(a - 3)': takes positive numbers, got -1"),
    ("log(8, 1)", 34, "log() in 'log(8, 1)': a logarithm to base 1 is undefined"),
    ("exp(a * 20)", 34, "exp() in 'exp(a * 20)': the result is over 1e+15"),
])
def test_log_and_exp_outside_their_domain_are_located(expr, col, message):
    e = _error(_spec(expr))
    assert (e.loc.line, e.loc.col, e.message) == (6, col, message)


def test_a_complex_value_is_a_located_error_not_a_crash():
    # it used to pass the bounds check and crash the comparison as an internal error
    e = _error(_spec("4 if (-4)**0.5 > 1 else 2"))
    assert (e.loc.line, e.loc.col) == (6, 39)  # at the power
    assert e.message == "'(-4) ** 0.5' is a complex number, not a real one " \
                        "('4 if (-4)**0.5 > 1 else 2')"
    assert "fractional power" in e.hint


@pytest.mark.parametrize("params, expr, where, message", [
    ("{a: 2}", "a * 1e400", (6, 38), "'a * 1e400' holds a number beyond floating point "
                                     "(it reads as infinity)"),
    ("{a: .nan}", "a", (3, 13), "a value is a finite number, got nan"),
    ("{a: [1, .inf]}", "a[0]", (3, 17), "a value is a finite number, got inf"),
])
def test_non_finite_values_are_located_errors(params, expr, where, message):
    e = _error(_spec(expr, params))
    assert ((e.loc.line, e.loc.col), e.message) == (where, message)
