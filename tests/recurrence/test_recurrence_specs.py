"""The recurrence forms in the zoo expand to the hand-written networks, and train.

Each `*_recur.yaml` is compared with the spec that writes the same network by hand
(nodes up to naming, see recurrence_canon.py, and the parameter count of the
compiled module); every one of them takes an SGD step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import linkc
from linkc.analyze.params import count_params
from linkc.frontend import build
from recurrence_canon import signatures

SPECS = Path(__file__).resolve().parents[2] / "specs"
RECUR = sorted(p.name for p in SPECS.glob("*_recur.yaml"))

PLAIN_20 = """
linkc: 1
name: plain-20
input: [3, 32, 32]
nodes:
  stem: {from: input, ops: [{conv: [16, 3]}, bn, relu]}
  s1: {from: stem, repeat: 6, ops: [{conv: [16, 3]}, bn, relu]}
  s2: {from: s1, repeat: 6, ops: [{conv: {out: 32, k: 3, stride: "2 if i == 0 else 1"}}, bn, relu]}
  s3: {from: s2, repeat: 6, ops: [{conv: {out: 64, k: 3, stride: "2 if i == 0 else 1"}}, bn, relu]}
  head: {from: s3, ops: [gap, {linear: 10}]}
output: head
"""

def built(name: str, params: dict):
    return lambda: build(SPECS / name, params)


PAIRS = [("resnet_20_recur.yaml", {}, SPECS / "resnet_20.yaml"),
         ("resnet_s_18_recur.yaml", {}, SPECS / "resnet_s_18.yaml"),
         ("resnet_s_18_recur.yaml", {"b1": 3, "b2": 4, "b3": 6, "b4": 3},
          SPECS / "resnet_s_34.yaml"),
         ("densenet_40_k12_recur.yaml", {}, SPECS / "densenet_40_k12.yaml"),
         ("plain_20_recur.yaml", {}, PLAIN_20),
         ("dmrnet_recur.yaml", {}, SPECS / "dmrnet_cifar.yaml"),
         ("dmrnet_recur.yaml", {"L": 12}, built("dmrnet_cifar.yaml", {"L": 12}))]


@pytest.mark.parametrize("recur, params, hand", PAIRS,
                         ids=[f"{p[0]}{p[1] or ''}" for p in PAIRS])
def test_recurrence_expands_to_the_hand_written_network(recur, params, hand):
    a, b = build(SPECS / recur, params), hand() if callable(hand) else build(hand)
    nodes_a, out_a = signatures(a)
    nodes_b, out_b = signatures(b)
    assert nodes_a == nodes_b
    assert out_a == out_b
    assert count_params(a) == count_params(b)


def test_resnet_s_recurrence_has_the_papers_parameter_count():
    # Table 8: ResNet18s 11.39M on CIFAR-100 (ResNet18 11.22M): the reused branch
    # W_{i-1} X_{i-2} costs nothing, the projections T_i at the stage starts do.
    assert round(count_params(build(SPECS / "resnet_s_18_recur.yaml")) / 1e6, 2) == 11.39


def test_a42_reuses_the_previous_branch():
    """App. A.4.2: X_i = g[W_i X_{i-1} + W_{i-1} X_{i-2}] reads the node of step i-1's
    branch; no block is instantiated twice, so it has ResNet-20's parameters."""
    g = build(SPECS / "a42_20_recur.yaml")
    assert [x.src for x in g.nodes["body.X.2"].inputs] == ["body.W.2", "body.W.1"]
    assert [x.src for x in g.nodes["body.X.5"].inputs] == ["body.W.5", "body.W.4"]
    assert [x.src for x in g.nodes["body.X.4"].inputs] == ["body.W.4", "body.T.4"]
    assert g.nodes["body.T.4"].inputs[0].src == "body.W.3"
    assert sum(1 for n in g.order if n.startswith("body.W.")) == 9
    assert count_params(g) == count_params(build(SPECS / "resnet_20.yaml"))


def test_a41_adds_the_state_two_steps_back():
    g = build(SPECS / "a41_20_recur.yaml")
    assert [x.src for x in g.nodes["body.X.3"].inputs] == ["body.W.3", "body.X.1"]
    assert [x.src for x in g.nodes["body.X.5"].inputs] == ["body.W.5", "body.S.5"]
    assert g.nodes["body.S.5"].inputs[0].src == "body.X.3"
    assert [x.src for x in g.nodes["body.X.1"].inputs] == ["body.W.1"]  # X_{-1} vanished


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core machine more threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", RECUR)
def test_recurrence_spec_trains_a_step(name, one_thread):
    torch.manual_seed(0)
    model = linkc.compile(SPECS / name)
    g = build(SPECS / name)
    # 8x8 instead of 32x32: every op here works at any size (a third of a stage's
    # downsampling still leaves 1x1 before the global pool), at 1/16 of the cost
    x = torch.randn(2, g.input_shape[0], 8, 8)
    target = torch.tensor([0, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize("hand_name, params, paper", [("resnet_s_50.yaml", {}, 26.46),
                                                       ("resnet_s_101.yaml", {"b3": 23}, 45.46)])
def test_resnet_s_bottleneck_recurrence_has_no_projection_of_the_vanished_term(
        hand_name, params, paper):
    """Sec. 5: X_1 = g[(1 + W_1) X_0] has no T_1 W_0 X_{-1}. The hand-written bottleneck
    specs subtract a projection of a zero map there (Table 8's 26.48M and 45.47M count
    it); the recurrence form is that network without it."""
    from linkc.analyze.params import lower_meta, node_params

    hand = build(SPECS / hand_name)
    per_node = node_params(hand, lower_meta(hand))
    recur = build(SPECS / "resnet_s_50_recur.yaml", params)
    assert per_node["layer1_1.shortcut2"] == 64 * 256 + 2 * 256
    assert count_params(hand) - count_params(recur) == per_node["layer1_1.shortcut2"]
    assert round(count_params(recur) / 1e6, 2) == paper


def test_dmrnet_merge_is_one_node_read_by_both_streams():
    """The mean written in both equations of the two-stream recursion is one term."""
    g = build(SPECS / "dmrnet_recur.yaml", {"L": 12})
    a = [x.src for x in g.nodes["body.A.3"].inputs]
    b = [x.src for x in g.nodes["body.B.3"].inputs]
    assert a[0] == "body.Ha.3" and b[0] == "body.Hb.3" and a[1] == b[1]
    assert [x.src for x in g.nodes[a[1]].inputs] == ["body.P.3", "body.Q.3"]
