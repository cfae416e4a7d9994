"""MobileNetV2, EfficientNet-B0, ShuffleNetV2 1.0x, SqueezeNet 1.1, U-Net, and ResNet-110
with stochastic depth.

Each spec's count must equal the published exact figure (torchvision's counts),
and a closed form written here from the papers' tables (no linkc) must give the
same number, so neither the spec nor the figure is taken on trust. `linkc zoo`
lists them as exact matches. Shapes are checked against real forward passes
(every zoo spec also runs in tests/compiler/test_lower.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import torch

import linkc
from linkc.analyze.params import count_params
from linkc.cli import main
from linkc.frontend import build
from tests.conftest import SPECS

FIGURES = {  # torchvision's published parameter counts
    "mobilenet_v2.yaml": 3_504_872,
    "efficientnet_b0.yaml": 5_288_548,
    "shufflenet_v2.yaml": 2_278_604,
    "squeezenet_1_1.yaml": 1_235_496,
}


def conv(cin, cout, k, groups=1, bias=False):
    return cin // groups * cout * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


def fc(cin, cout):
    return cin * cout + cout


def mobilenet_v2(classes=1000):
    """Sandler et al. 2018, Table 2: (t, c, n, s) rows of inverted residuals."""
    total, c = conv(3, 32, 3) + bn(32), 32
    for t, cout, n, _ in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                          (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for _ in range(n):
            h = c * t
            total += (conv(c, h, 1) + bn(h) if t != 1 else 0) + conv(h, h, 3, h) + bn(h)
            total += conv(h, cout, 1) + bn(cout)
            c = cout
    return total + conv(c, 1280, 1) + bn(1280) + fc(1280, classes)


def efficientnet_b0(classes=1000):
    """Tan & Le 2019, Table 1: (t, k, c, n) MBConv rows; SE to max(1, C_in/4) by biased 1x1s."""
    total, c = conv(3, 32, 3) + bn(32), 32
    for t, k, cout, n in [(1, 3, 16, 1), (6, 3, 24, 2), (6, 5, 40, 2), (6, 3, 80, 3),
                          (6, 5, 112, 3), (6, 5, 192, 4), (6, 3, 320, 1)]:
        for _ in range(n):
            h, sq = c * t, max(1, c // 4)
            total += (conv(c, h, 1) + bn(h) if t != 1 else 0) + conv(h, h, k, h) + bn(h)
            total += conv(h, sq, 1, bias=True) + conv(sq, h, 1, bias=True)
            total += conv(h, cout, 1) + bn(cout)
            c = cout
    return total + conv(c, 1280, 1) + bn(1280) + fc(1280, classes)


def shufflenet_v2(classes=1000):
    """Ma et al. 2018, Table 5 (1.0x): 4/8/4 units of 116/232/464 channels."""
    def branch(cin, b, stride_unit):
        return conv(cin, b, 1) + bn(b) + conv(b, b, 3, b) + bn(b) + conv(b, b, 1) + bn(b)
    total, c = conv(3, 24, 3) + bn(24), 24
    for reps, out in [(4, 116), (8, 232), (4, 464)]:
        b = out // 2
        total += conv(c, c, 3, c) + bn(c) + conv(c, b, 1) + bn(b) + branch(c, b, True)
        total += (reps - 1) * branch(b, b, False)
        c = out
    return total + conv(c, 1024, 1) + bn(1024) + fc(1024, classes)


def squeezenet_1_1(classes=1000):
    total, c = conv(3, 64, 3, bias=True), 64
    for s, e in [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256),
                 (64, 256)]:
        total += conv(c, s, 1, bias=True) + conv(s, e, 1, bias=True) + conv(s, e, 3, bias=True)
        c = 2 * e
    return total + conv(c, classes, 1, bias=True)


def unet(cin=1, classes=2, w=64):
    def double(i, o):
        return conv(i, o, 3, bias=True) + conv(o, o, 3, bias=True)
    widths = [w, 2 * w, 4 * w, 8 * w, 16 * w]
    total = double(cin, w) + sum(double(a, b) for a, b in zip(widths, widths[1:]))
    for c in reversed(widths[:-1]):  # up-conv 2c -> c (2x2, bias), then two convs on 2c
        total += 2 * c * c * 4 + c + double(2 * c, c)
    return total + conv(w, classes, 1, bias=True)


CLOSED_FORMS = {"mobilenet_v2.yaml": mobilenet_v2, "efficientnet_b0.yaml": efficientnet_b0,
                "shufflenet_v2.yaml": shufflenet_v2, "squeezenet_1_1.yaml": squeezenet_1_1}


@pytest.mark.parametrize("file", sorted(FIGURES))
def test_count_is_the_published_exact_figure(file):
    assert CLOSED_FORMS[file]() == FIGURES[file]  # the closed form reads the paper right
    assert count_params(build(SPECS / file)) == FIGURES[file]


def test_unet_count_and_segmentation_shapes():
    g = build(SPECS / "unet.yaml")
    assert count_params(g) == unet() == 31_030_658
    assert g.nodes["bottom.y.y"].shape == (1024, 8, 8)
    assert g.nodes["dec1.cat"].shape == (128, 128, 128)  # 64 skip + 64 up-sampled
    gm = linkc.compile(SPECS / "unet.yaml")
    y = gm.eval()(torch.randn(2, 1, 128, 128))
    assert y.shape == (2, 2, 128, 128)  # a score per class and pixel


def test_zoo_counts_them_as_exact_matches(tmp_path):
    for file in [*FIGURES, "unet.yaml"]:
        shutil.copy(SPECS / file, tmp_path / file)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["zoo", "--json", "--dir", str(tmp_path)])
    rows = {r["file"]: r for r in json.loads(out.getvalue())}
    assert rc == 0
    for file, figure in FIGURES.items():
        assert (rows[file]["exact"], rows[file]["params"], rows[file]["verdict"]) == \
            (figure, figure, "match")
    assert rows["unet.yaml"]["verdict"] == "no figure"


def test_stage_shapes_follow_the_tables():
    mb = build(SPECS / "mobilenet_v2.yaml")
    assert mb.nodes["body.4.b.1.y"].shape == (96, 14, 14)
    assert mb.nodes["body.6.b.0.y"].shape == (320, 7, 7)
    sh = build(SPECS / "shufflenet_v2.yaml")
    assert sh.nodes["stem"].shape == (24, 56, 56)
    assert sh.nodes["body.1.units.6.y"].shape == (232, 14, 14)
    sq = build(SPECS / "squeezenet_1_1.yaml")  # 224 -> 111 -> 55 -> 27 -> 13 (ceil-mode pools)
    assert [sq.nodes[n].shape[1] for n in ("fire2.y", "fire4.y", "fire9.y")] == [55, 27, 13]
    ef = build(SPECS / "efficientnet_b0.yaml")
    assert ef.nodes["body.5.b.3.y"].shape == (192, 7, 7)
    drops = [c.args.p for n in ef.order for c in ef.nodes[n].ops if c.op.name == "drop_path"]
    # residual blocks are numbers 2, 4, 6, 7, 9, 10, 12, 13, 14 of 16 (counted from 0)
    assert drops == pytest.approx([0.2 * j / 16 for j in (2, 4, 6, 7, 9, 10, 12, 13, 14)])


def test_efficientnet_trains_with_stochastic_depth_and_is_deterministic_in_eval():
    gm = linkc.compile(SPECS / "efficientnet_b0.yaml", passes=[])
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        gm.eval()
        a, b = gm(x), gm(x)
        assert a.shape == (2, 1000) and torch.equal(a, b)
        gm.train()
        torch.manual_seed(0)
        c = gm(x)
        torch.manual_seed(1)
        d = gm(x)
    assert c.shape == (2, 1000) and not torch.equal(c, d)  # other samples of branches dropped


def test_resnet_110_with_stochastic_depth_is_resnet_110_with_linear_decay():
    g = build(SPECS / "resnet_110_stochastic_depth.yaml")
    assert count_params(g) == count_params(build(SPECS / "resnet_110.yaml")) == 1_727_962
    drops = [c.args.p for n in g.order for c in g.nodes[n].ops if c.op.name == "drop_path"]
    # Huang et al. 2016: block l of L = 54 survives with 1 - l/L * (1 - 0.5)
    assert drops == pytest.approx([l / 54 * 0.5 for l in range(1, 55)])


@pytest.mark.parametrize("file, published", [
    ("mobilenet_v2.yaml", 300e6),  # Sandler et al. 2018, Table 4: 300M multiply-adds
    ("efficientnet_b0.yaml", 0.39e9),  # Tan & Le 2019, Table 2: 0.39B FLOPs (multiply-adds)
    ("shufflenet_v2.yaml", 146e6),  # Ma et al. 2018, Table 5: 146M FLOPs (multiply-adds)
    ("squeezenet_1_1.yaml", 0.35e9),  # torchvision squeezenet1_1: 0.35 GFLOPS
])
def test_macs_match_the_published_figures(file, published):
    from linkc.analyze.macs import count_macs
    from linkc.analyze.params import lower_meta

    g = build(SPECS / file)
    total, _ = count_macs(g, lower_meta(g))
    assert abs(total - published) / published < 0.02, total


def test_shortcuts_exist_exactly_where_the_shape_is_kept():
    # one block body with `if:`: a shortcut where stride is 1 and C_in = C_out
    mb = build(SPECS / "mobilenet_v2.yaml")
    blocks = sorted({n.rsplit(".", 1)[0] for n in mb.order if n.endswith(".y")})
    shortcuts = sorted(n.rsplit(".", 1)[0] for n in mb.order if n.endswith(".shortcut"))
    assert len(blocks) == 17 and len(shortcuts) == 10  # every block but the 7 stage firsts
    assert not any(n.startswith("body.0.") and n.endswith(".expand") for n in mb.order)  # t = 1
    ef = build(SPECS / "efficientnet_b0.yaml")
    assert sum(n.endswith(".residual") for n in ef.order) == 9
