"""The merge-and-run, DelugeNet, MixNet/DPN and Micro-Dense specs against the papers
and against independent counts (compact torch modules written here, not linkc)."""

import contextlib
import io
import json
import math
from decimal import Decimal

import pytest
import torch
from torch import nn

from linkc.analyze.zoo import matches, parse_figure
from linkc.cli import main
from tests.conftest import SPECS, zoo_specs

MINE = {"dmrnet_cifar.yaml", "dilnet_cifar.yaml", "resnet_mr_cifar.yaml", "dmrnet_wide.yaml",
        "delugenet.yaml", "mixnet.yaml", "dpn_mixed_100.yaml", "micro_dense.yaml"}


@pytest.fixture(scope="module")
def zoo():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["zoo", "--json"])
    return rc, json.loads(out.getvalue())


def test_match_rule():
    f = parse_figure("0.4M")
    assert (f.low, f.high) == (Decimal(350000), Decimal(450000))
    assert matches(350_000, f) and not matches(349_999, f) and not matches(450_000, f)
    assert matches(1_549_999, parse_figure("1.5M")) and not matches(1_550_000, parse_figure("1.5M"))
    g = parse_figure("24.8M")  # 2% is looser than rounding here
    assert matches(24_304_000, g) and not matches(24_303_999, g)
    assert parse_figure("11.39M").low == Decimal(11_385_000)


def test_zoo_lists_every_spec_with_counts(zoo):
    rc, rows = zoo
    assert {r["file"] for r in rows} == {p.name for p in zoo_specs()}
    assert rc == (2 if any(r["verdict"] == "error" for r in rows) else 0)
    for r in rows:
        if r["verdict"] != "error":
            assert isinstance(r["params"], int) and r["params"] > 0


def test_my_rows_match_or_say_why(zoo):
    _, rows = zoo
    mine = [r for r in rows if r["file"] in MINE]
    assert {r["file"] for r in mine} == MINE
    assert len(mine) == 8 + 8 + 8 + 2 + 3 + 3 + 1 + 2
    for r in mine:
        assert r["verdict"] in ("match", "mismatch", "no figure"), r
        if r["verdict"] == "mismatch":
            assert r["note"] and len(r["note"]) > 40, r["label"]
        if r["paper"]:
            ok = matches(r["params"], parse_figure(r["paper"]))
            assert (r["verdict"] == "match") == ok


# ------------------------------------------------------------ independent counts
def _conv(i, o, k=3, s=1, g=1):
    return nn.Conv2d(i, o, k, s, k // 2 if k % 2 else 1, groups=g, bias=False)


def _cbn(i, o, k=3, s=1, g=1):
    return [_conv(i, o, k, s, g), nn.BatchNorm2d(o)]


def _count(build):
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def zhao(kind, L, widths=(16, 32, 64), classes=10):
    """Seed 003: conv0 16; ResNet L/3 blocks per stage, DIL/DMR L/6 two-branch blocks;
    1x1+BN projections where the width changes (DMR: one per stream)."""
    mods, c = _cbn(3, 16), 16
    per = L // 3 if kind == "resnet" else L // 6
    branches = 1 if kind == "resnet" else 2
    projections = 2 if kind == "dmr" else 1
    for w in widths:
        for j in range(per):
            s = 2 if (j == 0 and w != widths[0]) else 1
            for _ in range(branches):
                mods += _cbn(c, w, 3, s) + _cbn(w, w)
            if c != w:
                for _ in range(projections):
                    mods += _cbn(c, w, 1, s)
            c = w
    return nn.Sequential(*mods, nn.Linear(c, classes))


def mixnet(depth, k1, k2, classes=10):
    n, c = (depth - 4) // 6, max(2 * k2, k1)
    mods = [_conv(3, c)]
    for b in range(3):
        for _ in range(n):
            for k in (k1, k2):
                mods += [nn.BatchNorm2d(c), _conv(c, 4 * k, 1), nn.BatchNorm2d(4 * k),
                         _conv(4 * k, k)]
            c += k2
        if b < 2:
            mods += [nn.BatchNorm2d(c), _conv(c, max(c // 2, k1), 1)]
            c = max(c // 2, k1)
    return nn.Sequential(*mods, nn.BatchNorm2d(c), nn.Linear(c, classes))


def delugenet_closed_form(layers, width, classes=100):
    """Bottleneck 2f -> f -> f -> 2f with pre-BNs; CLDC over N inputs = N*C + C."""
    f1 = int(32 * width)

    def comp(cin, f):
        return 2 * cin + cin * f + 2 * f + 9 * f * f + 2 * f + f * 2 * f

    def cldc(n, c):
        return n * c + c if n > 1 else 0

    total = 27 * f1 + comp(f1, f1)
    c, count = 2 * f1, 1
    for j in range(1, layers):
        total += cldc(j, c) + comp(c, f1)
    count = layers
    for stage, m in ((2, 2), (3, 3)):
        f = f1 * 2 ** (stage - 1)
        total += cldc(count, c) + 2 * c + 9 * c * 2 * f  # CLDC, BN, conv3x3/2
        c = 2 * f
        for j in range(1, m * layers + 1):
            total += cldc(j, c) + comp(c, f)
        count = m * layers + 1
    return total + cldc(count, c) + 2 * c + c * classes + classes


def micro_dense(N, alpha, classes=10):
    """Reading R1 of micro_dense.yaml."""
    mods, c, per = _cbn(3, 16), 16, N // 3
    for k in range(1, N + 1):
        if k > 1 and (k - 1) % per == 0:
            mods += _cbn(c, c, 4, 2)
        w = math.floor(16 + k * alpha / N)
        c0 = max(4, (c // 16) * 4)
        mods += _cbn(c, c0, 1)
        widths = [c0]
        for l in (1, 2, 3):
            mods += _cbn(sum(widths), (l + 1) * c0, 1) + _cbn((l + 1) * c0, (l + 1) * c0, 3, 1, l + 1)
            widths.append((l + 1) * c0)
        mods += _cbn(sum(widths), w, 1)
        c = w
    return nn.Sequential(*mods, nn.Linear(c, classes))


def _row(rows, file, **sizes):
    found = [r for r in rows if r["file"] == file and r["set"] == sizes]
    assert len(found) == 1, (file, sizes)
    return found[0]["params"]


@pytest.mark.parametrize("L", [12, 18, 24, 30, 36, 48, 54, 96])
def test_merge_and_run_family_independent(zoo, L):
    _, rows = zoo
    assert _row(rows, "resnet_mr_cifar.yaml", L=L) == _count(lambda: zhao("resnet", L))
    assert _row(rows, "dilnet_cifar.yaml", L=L) == _count(lambda: zhao("dil", L))
    assert _row(rows, "dmrnet_cifar.yaml", L=L) == _count(lambda: zhao("dmr", L))


def test_dmrnet_wide_independent(zoo):
    _, rows = zoo
    for L in (30, 48):
        assert _row(rows, "dmrnet_wide.yaml", L=L) == _count(lambda: zhao("dmr", L, (64, 128, 256)))


@pytest.mark.parametrize("depth,k", [(100, 12), (250, 24), (190, 40)])
def test_mixnet_independent(zoo, depth, k):
    _, rows = zoo
    assert _row(rows, "mixnet.yaml", depth=depth, k1=k, k2=k) == _count(lambda: mixnet(depth, k, k))


def test_dpn_same_family_same_count(zoo):
    _, rows = zoo
    assert _row(rows, "dpn_mixed_100.yaml") == _row(rows, "mixnet.yaml", depth=100, k1=12, k2=12) == 1_464_202


@pytest.mark.parametrize("layers,width", [(8, 1), (12, 1), (8, 1.75)])
def test_delugenet_closed_form(zoo, layers, width):
    _, rows = zoo
    sizes = {"layers": layers} if width == 1 else {"layers": layers, "width": width}
    assert _row(rows, "delugenet.yaml", **sizes) == delugenet_closed_form(layers, width)


@pytest.mark.parametrize("N,alpha", [(30, 64), (60, 115)])
def test_micro_dense_independent(zoo, N, alpha):
    _, rows = zoo
    assert _row(rows, "micro_dense.yaml", N=N, alpha=alpha) == _count(lambda: micro_dense(N, alpha))


def test_small_specs_forward_matches_inferred_shapes():
    """A small member of each of these families runs forward with the inferred output shape."""
    from linkc.compiler.lower import lower
    from linkc.frontend import build

    for file, sizes in (("dmrnet_cifar.yaml", {"L": 12}), ("dilnet_cifar.yaml", {"L": 12}),
                        ("mixnet.yaml", {"depth": 16}), ("dpn_mixed_100.yaml", {"depth": 16}),
                        ("delugenet.yaml", {"layers": 2}), ("micro_dense.yaml", {"N": 3, "alpha": 6})):
        g = build(SPECS / file, sizes)
        y = lower(g).eval()(torch.randn(2, *g.input_shape))
        assert tuple(y.shape) == (2, *g.nodes[g.output].shape), file
