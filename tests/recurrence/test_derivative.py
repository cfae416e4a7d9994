"""dX_n/dX_{n-i} of recursion formulas against seed 002's statements and the DAG.

The expected expansions are built independently here: as sets of products read off
the paper's closed forms (Eq. 6, 11, 12) or by walking the ways a path can step
back through the formula (App. A.4, DenseNet), never by the code under test.
"""

from __future__ import annotations

import json
from fractions import Fraction
from itertools import combinations
from math import comb

import pytest

from linkc.analyze.derivative import expansions
from linkc.analyze.paths import path_polynomials
from linkc.cli import main
from linkc.frontend import build
from recurrence_canon import signatures

RESNET = "X[i] = X[i-1] + W[i](X[i-1])"
RESNET_S = "X[i] = X[i-1] + W[i](X[i-1]) - W[i-1](X[i-2])"
PLAIN = "X[i] = W[i](X[i-1])"
A41 = "X[i] = W[i](X[i-1]) + X[i-2]"
A42 = "X[i] = W[i](X[i-1]) + W[i-1](X[i-2])"
DENSE = "X[i] = W[i](cat(X[0:i]))"


def chain(formula: str, n: int, out: str | None = None) -> str:
    """X_0 is the input, every W_j one 3x3 conv: a path's length in the DAG is the
    number of W's it passes, as in the formula."""
    out_line = f"\n    out: \"{out}\"" if out else ""
    return f"""
linkc: 1
name: chain
input: [4, 8, 8]
nodes:
  body:
    from: input
    recurrence: "{formula}"
    steps: {n}{out_line}
    maps:
      W: {{ops: [{{conv: [4, 3]}}]}}
output: body
"""


def words(formula: str, n: int) -> tuple:
    g = build(chain(formula, n))
    return g, [{tuple(j for _, j in w): c for w, c in e.terms} for e in
               expansions(g, g.recurrences["body"])]


@pytest.mark.parametrize("n", [1, 3, 6])
def test_resnet_expansion_is_every_subset_of_blocks(n):
    """Eq. 10-11: (1 + W_n)...(1 + W_{n-i+1}) has one product per subset of the i
    blocks, C(i, k) of them through k blocks, all with coefficient 1."""
    g, polys = words(RESNET, n)
    for i, poly in enumerate(polys, start=1):
        blocks = range(n, n - i, -1)
        expected = {w: 1 for k in range(i + 1) for w in combinations(blocks, k)}
        assert poly == expected
    e = expansions(g, g.recurrences["body"])[-1]
    assert e.paths({("W", j) for j in range(1, n + 1)}) == {k: comb(n, k) for k in range(n + 1)}


def pell(i: int) -> int:
    a, b = 1, 2  # terms of dX/dX over 0 and 1 steps: 1; 1 + W
    for _ in range(i - 1):
        a, b = b, 2 * b + a
    return b


@pytest.mark.parametrize("n", [2, 4, 7])
def test_resnet_s_expansion_has_one_path_per_length(n):
    """Eq. 12 from the recursion (Eq. 18-20): dX_n/dX_{n-i} = 1 + W_n + W_n W_{n-1} +
    ... + W_n...W_{n-i+1}. Before cancelling, the products number the Pell numbers
    2, 5, 12, 29, ... (each step back has the two terms of (1 + W_i) plus -W_{i-1}
    over two states); all but one per length cancel."""
    g, polys = words(RESNET_S, n)
    for i, poly in enumerate(polys, start=1):
        assert poly == {tuple(range(n, n - k, -1)): 1 for k in range(i + 1)}
    for i, e in enumerate(expansions(g, g.recurrences["body"]), start=1):
        plus, minus = sum(e.plus.values()), sum(e.minus.values())
        assert plus + minus == pell(i)
        assert plus - minus == i + 1
        assert e.net == {k: 1 for k in range(i + 1)}


def test_plain_cnn_has_a_single_path():
    """Eq. 6: dX_n/dX_{n-i} = W_n W_{n-1} ... W_{n-i+1}, one path."""
    _, polys = words(PLAIN, 5)
    assert polys == [{tuple(range(5, 5 - i, -1)): 1} for i in range(1, 6)]


def steps_back(n: int, m: int, moves) -> dict:
    """Paths from X_n back to X_m: `moves(k)` gives (maps, k') for each term of X_k."""
    if n == m:
        return {(): 1}
    if n < m:
        return {}
    out: dict = {}
    for maps, k in moves(n):
        for w, c in steps_back(k, m, moves).items():
            out[maps + w] = out.get(maps + w, 0) + c
    return out


@pytest.mark.parametrize("formula, moves", [
    (A41, lambda k: [((k,), k - 1), ((), k - 2)]),
    (A42, lambda k: [((k,), k - 1), ((k - 1,), k - 2)]),
    (DENSE, lambda k: [((k,), j) for j in range(k)]),
])
def test_appendix_and_dense_expansions(formula, moves):
    n = 6
    g, polys = words(formula, n)
    for i, poly in enumerate(polys, start=1):
        # X_1's formula reads X_{-1} only in a vanished term: it has one move at k = 1
        expected = steps_back(n, n - i, lambda k: [mv for mv in moves(k) if mv[1] >= 0])
        assert poly == expected


def test_densenet_paths_through_k_layers():
    """X_n = H_n(X_0 ‖ ... ‖ X_{n-1}): a path from X_{n-i} passes H_n and any subset of
    the i-1 layers between, so C(i-1, k-1) paths pass k layers (2^(i-1) in all)."""
    g, polys = words(DENSE, 6)
    for i, poly in enumerate(polys, start=1):
        assert len(poly) == 2 ** (i - 1)
        by_k = {}
        for w in poly:
            by_k[len(w)] = by_k.get(len(w), 0) + 1
        assert by_k == {k: comb(i - 1, k - 1) for k in range(1, i + 1)}


@pytest.mark.parametrize("formula", [RESNET, RESNET_S, PLAIN, A41, A42, DENSE])
def test_formula_counts_agree_with_the_dag(formula):
    """dX_n/dX_0 term by term is the DAG from the input to X_n: products before
    cancelling are its paths, and the net coefficient per length is the signed count."""
    g = build(chain(formula, 5))
    e = expansions(g, g.recurrences["body"])[-1]
    dag = path_polynomials(g)
    signed = path_polynomials(g, signed=True)
    before = {k: e.plus.get(k, 0) + e.minus.get(k, 0) for k in range(len(dag))}
    assert before == {k: c for k, c in enumerate(dag)}
    assert e.net == {k: Fraction(c) for k, c in enumerate(signed) if c}


def prev_chain(n: int) -> str:
    """The ResNet-s chain written with `prev` (tests/analyze/test_paths.py)."""
    return f"""
linkc: 1
name: prev-chain
input: [4, 8, 8]
blocks:
  blk:
    in: x
    nodes:
      f: {{from: x, ops: [{{conv: [4, 3]}}]}}
      y: {{from: [x, f, {{ref: prev.f, weight: -1, optional: true}}], merge: wsum}}
    out: y
nodes:
  body: {{from: input, repeat: {n}, block: blk}}
output: body
"""


@pytest.mark.parametrize("n", [1, 2, 5])
def test_prev_based_resnet_s_is_the_recurrence(n):
    """The `prev.f` spelling of ResNet-s and the recursion formula build one network."""
    assert signatures(build(prev_chain(n))) == signatures(build(chain(RESNET_S, n)))


def test_cli_prints_the_expansion_cut_after_k_terms(capsys, tmp_path):
    spec = tmp_path / "rs.yaml"
    spec.write_text(chain(RESNET, 3))
    assert main(["analyze", str(spec), "--derivative", "--terms", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "body: X[i] = X[i-1] + W[i](X[i-1])   (i = 1..3; activations ignored)"
    assert out[1] == "  dX_3/dX_2 = 1 + W_3"
    assert out[3] == "  dX_3/dX_1 = 1 + W_3 + W_2 + ... (1 more)"
    assert out[4] == "      paths by weighted maps: 0: 1, 1: 2, 2: 1"
    assert out[-1] == "paths from the input to the output, by length (weighted layers): " \
                      "0: 1, 1: 3, 2: 3, 3: 1"
    spec.write_text(chain(RESNET_S, 3))
    assert main(["analyze", str(spec), "--derivative", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    last = data["recurrences"][0]["derivatives"][-1]
    assert last["expansion"] == "1 + W_3 + W_3 W_2 + W_3 W_2 W_1"
    assert last["paths"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert data["paths"]["signed_counts"] == {"0": 1, "1": 1, "2": 1, "3": 1}


def test_cli_derivative_of_a_spec_without_recurrence(capsys):
    assert main(["analyze", "specs/resnet_20.yaml", "--derivative"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "resnet-20: no recurrence node; the DAG's paths follow"
    # 9 blocks of 2 convs plus stem and FC: C(9, k) paths of length 2 + 2k
    assert out[1].endswith(", ".join(f"{2 + 2 * k}: {comb(9, k)}" for k in range(10)))


def test_projection_shortcuts_stop_the_cancellation():
    """ResNet-s-18 (stage starts 3, 5, 7 have projections S_i, T_i): S_7 and T_7 are
    different maps, so -T_7 W_6 no longer cancels S_7 W_6; between two stage starts
    the expansion is Eq. 12's."""
    g = build("specs/resnet_s_18_recur.yaml")
    es = expansions(g, g.recurrences["body"])
    text = {e.wrt[1]: {" ".join(f"{m}_{j}" for m, j in w): c for w, c in e.terms} for e in es}
    assert text[7] == {"": 1, "W_8": 1}
    assert text[6] == {"S_7": 1, "W_8 S_7": 1, "W_8 W_7": 1}
