"""The README's main job: `linkc train specs/digits_resnet.yaml`, with no other
argument, reaches at least 97% test accuracy on the built-in digits data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkc.cli import main

SPEC = Path(__file__).resolve().parents[2] / "specs" / "digits_resnet.yaml"


@pytest.mark.slow
def test_digits_resnet_reaches_97_percent(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the run directory goes to ./runs/digits-resnet
    assert main(["train", str(SPEC)]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "digits-resnet"
    final = json.loads((run / "epochs.jsonl").read_text().splitlines()[-1])
    assert final["test_acc"] >= 0.97, out
    assert f"test accuracy {final['test_acc']:.2%}" in out
    assert (run / "weights.safetensors").exists() and (run / "model.py").exists()
