"""`linkc analyze`: parameters per node and block, MACs, activation memory, CLI."""

import json

import pytest

from linkc.analyze import analyze
from linkc.cli import main
from linkc.frontend import build

SMALL = """
linkc: 1
name: small
input: [3, 8, 8]
nodes:
  c1: {from: input, ops: [{conv: {out: 4, k: 3, stride: 2}}, bn, relu]}
  c2: {from: c1, ops: [{conv: {out: 8, k: 3, groups: 2}}]}
  sc: {from: c1, ops: [{conv: [8, 1]}]}
  y: {from: [c2, sc], merge: add, ops: [relu, gap, {linear: 5}]}
output: y
"""


def test_macs_of_a_small_conv_net_by_hand():
    info = analyze(build(SMALL))
    # c1: 3x3x3 -> 4 at 4x4 outputs: 4*4 * 4 * 27; c2: grouped 3x3 (2 groups, 2 in per
    # group) 4 -> 8 at 4x4: 16 * 8 * 9 * 2; sc: 1x1 4 -> 8 at 4x4: 16 * 8 * 4; fc 8 -> 5.
    c1, c2, sc, fc = 16 * 4 * 27, 16 * 8 * 18, 16 * 8 * 4, 8 * 5
    assert info["macs"] == c1 + c2 + sc + fc
    per_node = {n["id"]: n["macs"] for n in info["nodes"]}
    assert per_node == {"c1": c1, "c2": c2, "sc": sc, "y": fc}


def test_params_per_node_sum_to_total_and_match_by_hand():
    info = analyze(build(SMALL))
    per_node = {n["id"]: n["params"] for n in info["nodes"]}
    assert per_node == {"c1": 4 * 27 + 8, "c2": 8 * 2 * 9, "sc": 8 * 4, "y": 8 * 5 + 5}
    assert sum(per_node.values()) == info["params"]["total"]


def test_params_per_block_on_a_zoo_spec():
    from tests.conftest import SPECS

    g = build(SPECS / "dmrnet_cifar.yaml", {"L": 12})
    info = analyze(g)
    blocks = info["params"]["blocks"]
    assert sum(n["params"] for n in info["nodes"]) == info["params"]["total"] == 349_402
    # one merge-and-run block at width 16: two branches of two 3x3 convs + BN
    assert blocks["stage1.0"] == 2 * (2 * (16 * 16 * 9) + 2 * 32)
    assert blocks["stage1"] == 2 * blocks["stage1.0"]
    # the widening block: two strided branches and two 1x1 projections (+BN)
    assert blocks["down2"] == 2 * (16 * 32 * 9 + 32 * 32 * 9 + 4 * 32) + 2 * (16 * 32 + 64)


def test_activation_memory_scales_with_batch():
    g = build(SMALL)
    one, four = analyze(g, 1)["memory"], analyze(g, 4)["memory"]
    # outputs: c1 conv/bn/relu 3 x 64, c2 128, sc 128, y merge 128 + relu 128 + gap 8 + fc 5
    assert one["stored_bytes"] == 4 * (3 * 64 + 128 + 128 + 128 + 128 + 8 + 5)
    assert four["stored_bytes"] == 4 * one["stored_bytes"]
    assert 0 < one["peak_inference_bytes"] <= one["stored_bytes"] + 4 * 192


def test_cli_json_and_exit_codes(tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    assert main(["analyze", str(spec), "--json", "--batch", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["total"] == sum(n["params"] for n in out["nodes"])
    assert out["memory"]["batch"] == 2
    # two paths, c1-c2-y and c1-sc-y, each through 3 weighted layers (conv, conv, fc)
    assert out["paths"]["counts"] == {"3": 2}
    assert main(["analyze", str(spec)]) == 0
    assert "MACs" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("from: c1, ops: [{conv: [8, 1]}]", "from: c9, ops: []"))
    assert main(["analyze", str(bad)]) == 2
    assert "c9" in capsys.readouterr().err
    assert main(["analyze", str(spec), "--batch", "0"]) == 2
    assert main(["analyze", str(spec), "--set", "nosuch=3"]) == 2
    assert main(["analyze", str(tmp_path / "missing.yaml")]) == 2


def test_cli_set_overrides_a_param(capsys):
    from tests.conftest import SPECS

    assert main(["analyze", str(SPECS / "resnet_mr_cifar.yaml"), "--set", "L=12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["total"] == 369_690
