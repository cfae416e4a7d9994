"""`linkc train --compile`: the compiled module runs the first batch shape of each mode, and
an epoch's partial last batch and the test set's remainder run eagerly, so a run compiles
one graph for training and one for evaluation (not a dynamic-shape one for a single batch)."""

from __future__ import annotations

import json

import torch
from torch import nn

from linkc.cli import main
from linkc.train.model_setup import StaticBatch
from train_fixtures import SMALL_SPEC


class Calls(nn.Module):
    def __init__(self, name: str, log: list):
        super().__init__()
        self.name, self.log = name, log

    def forward(self, x):
        self.log.append((self.name, x.shape[0]))
        return x


def test_the_static_batch_runs_compiled_other_batches_eager():
    log = []
    wrapped = StaticBatch(Calls("compiled", log), Calls("eager", log))
    for n in (8, 8, 3, 8, 5):
        wrapped(torch.zeros(n, 2))
    assert log == [("compiled", 8), ("compiled", 8), ("eager", 3), ("compiled", 8), ("eager", 5)]
    log.clear()  # a run resumed at an epoch's partial last batch names its full batch
    wrapped = StaticBatch(Calls("compiled", log), Calls("eager", log), batch=8)
    for n in (3, 8, 8):
        wrapped(torch.zeros(n, 2))
    assert log == [("eager", 3), ("compiled", 8), ("compiled", 8)]


def test_a_compiled_run_compiles_once_per_mode(write_spec, tmp_path, capsys, monkeypatch):
    from torch._dynamo.utils import counters

    # dynamo's eager backend: the graphs are counted at capture, so inductor's code
    # generation would only make the test slower
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda *a, **k: compile_(*a, **{**k, "backend": "eager"}))
    torch._dynamo.reset()
    counters.clear()
    try:
        spec = write_spec(SMALL_SPEC.replace("input: [3, 8, 8]", "input: [1, 8, 8]"))
        run = tmp_path / "run"
        # 1438 training images = 22 batches of 64 + 30; 359 test images = 3 x 100 + 59
        assert main(["train", str(spec), "--data", "digits", "--epochs", "2",
                     "--batch-size", "64", "--eval-batch-size", "100", "--compile",
                     "--threads", "1", "--no-plot", "--no-progress", "--no-tensorboard",
                     "--run-dir", str(run)]) == 0
        assert "+ torch.compile" in capsys.readouterr().out
        assert counters["stats"]["unique_graphs"] == 2  # the training graph, the evaluation graph
        epochs = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
        assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] and epochs[-1]["test_acc"] > 0.3
    finally:
        torch._dynamo.reset()
