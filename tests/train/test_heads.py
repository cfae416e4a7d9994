"""Training with auxiliary heads (loss = main + sum w * aux, the first output evaluated)
and with several inputs (synthetic data only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import linkc
from linkc.cli import main
from linkc.train.config import ConfigError, resolve_config
from linkc.train.evaluate import evaluate_weights
from linkc.train.heads import Trainable, output_weights, weighted_loss
from linkc.train.train import train
from linkc.frontend import build

COMPANION = Path(__file__).resolve().parents[2] / "specs" / "digits_companion.yaml"

HEADS = """\
linkc: 1
name: heads
input: [1, 8, 8]
nodes:
  trunk: {from: input, ops: [{conv: [8, 3]}, relu, gap]}
  head: {from: trunk, ops: [{linear: 10}]}
  aux1: {from: trunk, ops: [{linear: 10}]}
  aux2: {from: trunk, ops: [{linear: 4}]}
outputs: [head, aux1, aux2]
"""

TWO_INPUTS = """\
linkc: 1
name: two-inputs
inputs: {image: [1, 8, 8], meta: [3]}
nodes:
  trunk: {from: image, ops: [{conv: [4, 3]}, relu, gap]}
  side: {from: meta, ops: [{linear: 4}]}
  head: {from: [trunk, side], merge: concat, ops: [{linear: 10}]}
output: head
"""


def _config(**values):
    return resolve_config([("test", {"threads": 1, "progress": False, "plot": False, **values})])


def test_weighted_loss_is_main_plus_weighted_aux():
    g = build(HEADS)
    weights = output_weights(g, _config(loss_weights={"aux1": 0.3}))
    assert weights == (1.0, 0.3, 0.0)
    torch.manual_seed(0)
    model = Trainable(linkc.compile(HEADS), g)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 4, (6,))
    outs = model(x)
    total, main_loss = weighted_loss(outs, y, weights)
    want_main = F.cross_entropy(outs[0], y, reduction="sum")
    torch.testing.assert_close(main_loss, want_main)
    torch.testing.assert_close(total, want_main + 0.3 * F.cross_entropy(outs[1], y, reduction="sum"))
    total.backward()
    net = model.net
    assert net.aux1.linear1.weight.grad is not None
    assert net.aux2.linear1.weight.grad is None  # weight 0: computed, not trained


@pytest.mark.parametrize("weights, message", [
    ({"head": 1.0}, "'head' is the main output of spec 'heads'"),
    ({"aux3": 0.3}, "has no auxiliary output 'aux3' (its auxiliary outputs: aux1, aux2)"),
    ({"aux2": 0.5}, "output 'aux2' has shape [4], but an auxiliary head predicts the same "
                    "classes as the main output 'head' [10]"),
])
def test_loss_weights_are_checked_against_the_outputs(weights, message):
    with pytest.raises(ConfigError) as info:
        output_weights(build(HEADS), _config(loss_weights=weights))
    assert message in str(info.value)


def test_loss_weights_flag(tmp_path, capsys):
    spec = tmp_path / "heads.yaml"
    spec.write_text(HEADS)
    assert main(["train", str(spec), "--loss-weights", "aux9=0.3", "--epochs", "1"]) == 2
    assert "has no auxiliary output 'aux9'" in capsys.readouterr().err


def test_companion_spec_trains_on_digits(tmp_path):
    """The zoo's deep-supervision spec: both heads learn, the first one is evaluated."""
    run = tmp_path / "run"
    g = build(COMPANION)
    assert g.output_names == ["head", "aux1"]
    config = resolve_config([("spec", g.train), ("test", {"epochs": 3, "run_dir": str(run),
                                                          "progress": False, "plot": False})])
    assert config.loss_weights == {"aux1": 0.3}
    torch.manual_seed(config.seed)
    init = linkc.compile(COMPANION).state_dict()
    result = train(g, config)
    assert result.test_acc >= 0.8
    trained = load_file(str(result.weights))
    assert not torch.equal(trained["aux1.linear1.weight"], init["aux1.linear1.weight"])
    # linkc evaluate reads the same (first) output on the same test split
    again = evaluate_weights(g, result.weights, "digits", device="cpu")
    assert again.accuracy == pytest.approx(result.test_acc)


def test_aux_head_without_weight_stays_at_init(tmp_path, capsys):
    g = build(COMPANION)
    config = resolve_config([("spec", g.train), ("test", {
        "epochs": 1, "loss_weights": {}, "run_dir": str(tmp_path / "run"), "progress": False,
        "plot": False})])
    torch.manual_seed(config.seed)
    init = linkc.compile(COMPANION).state_dict()
    trained = load_file(str(train(g, config).weights))
    assert "computed but not trained: aux1" in capsys.readouterr().out
    assert torch.equal(trained["aux1.linear1.weight"], init["aux1.linear1.weight"])
    assert not torch.equal(trained["head.linear1.weight"], init["head.linear1.weight"])


def test_several_inputs_train_on_synthetic_data(tmp_path):
    g = build(TWO_INPUTS)
    result = train(g, _config(data="synthetic", synthetic_size=64, epochs=1, batch_size=16,
                              run_dir=str(tmp_path / "run")))
    net = linkc.compile(TWO_INPUTS)
    net.load_state_dict(load_file(str(result.weights)))  # the plain two-input module's keys
    assert net(torch.randn(2, 1, 8, 8), torch.randn(2, 3)).shape == (2, 10)


def test_trainable_splits_packed_inputs_in_order():
    g = build(TWO_INPUTS)
    net = linkc.compile(TWO_INPUTS).eval()
    image, meta = torch.randn(2, 1, 8, 8), torch.randn(2, 3)
    packed = torch.cat([image.flatten(1), meta], 1)[:, :, None, None]
    (got,) = Trainable(net, g)(packed)
    torch.testing.assert_close(got, net(image, meta))


def test_several_inputs_refuse_image_data(tmp_path, capsys):
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_INPUTS)
    assert main(["train", str(spec), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert ("spec 'two-inputs' takes 2 inputs (image [1, 8, 8], meta [3]), but the data set "
            "'digits' gives one image per sample. Train it on random tensors for every input "
            "with --data synthetic") in err
