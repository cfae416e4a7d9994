"""A damaged checkpoint or run directory is exit 2 with what is wrong, never a traceback.

Each case is one the checkpoint and run-directory fuzzers (tests/fuzz/corrupt.py) found
crashing: well-formed files with the wrong state in them (a forged digest, as another
tool or version might write), metrics files edited or replaced, files made folders.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from linkc.cli import main
from linkc.train.checkpoint import _digest

SPEC = """linkc: 1
name: tiny
input: [1, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu]}
  head: {from: a, ops: [gap, {linear: 10}]}
output: head
"""
FLAGS = ["--epochs", "1", "--data", "synthetic", "--synthetic-size", "16", "--batch-size", "8",
         "--no-tensorboard", "--no-plot"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    (root / "tiny.yaml").write_text(SPEC)
    torch.set_num_threads(1)
    assert main(["train", str(root / "tiny.yaml"), *FLAGS, "--run-dir", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture
def run(pristine, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(pristine, copy)
    config = copy / "config.yaml"
    config.write_text(config.read_text().replace(str(pristine), str(copy)))
    return copy


def _resume(run, capsys, *extra) -> tuple[int, str]:
    code = main(["train", str(run / "spec.yaml"), "--config", str(run / "config.yaml"),
                 "--resume", str(run), *extra])
    return code, capsys.readouterr().err


def _forge(path, change) -> None:
    """Re-save a checkpoint with `change(tensors, doc)` applied and the digest recomputed."""
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["linkc_checkpoint"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(tensors, doc)
    doc["sha256"] = _digest(tensors)
    save_file(tensors, str(path), metadata={"linkc_checkpoint": json.dumps(doc)})


@pytest.mark.parametrize("change, message", [
    (lambda t, d: t.update({"rng.numpy": t["rng.numpy"][:10].clone()}),
     "its saved training state is not what linkc writes"),
    (lambda t, d: t.update({"rng.torch": t["rng.torch"].float()}),
     "its saved training state is not what linkc writes"),
    (lambda t, d: d["state"]["rng"]["python"][1].__setitem__(0, 2**70),  # OverflowError
     "its saved training state is not what linkc writes"),
    (lambda t, d: t.update({"optimizer.0.momentum_buffer": torch.zeros(2)}),
     "optimizer state 0 does not fit parameter 0"),
    (lambda t, d: d["state"]["position"].update(step="x"),
     "position.step is 'x', not a int"),
    (lambda t, d: d["state"]["position"].update(epoch=-3),
     "position has a negative step, epoch or batch"),
    (lambda t, d: d["state"]["scheduler"].pop("last_epoch"),
     "scheduler has other entries than linkc writes"),
    (lambda t, d: d["optimizer"]["param_groups"][0].update(lr="fast"),
     "optimizer.param_groups[0].lr is 'fast', not a float"),
    (lambda t, d: d.update(state=[1]), "the checkpoint's contents are not laid out as linkc"),
    (lambda t, d: t.update({"optimizer.x.y": torch.zeros(1)}),
     "the checkpoint's contents are not laid out as linkc"),
    (lambda t, d: t.update({"model.a.conv1.weight": t["model.a.conv1.weight"] * float("nan")}),
     "holds NaN or infinite weights (a.conv1.weight)"),
])
def test_a_wrong_but_well_formed_checkpoint_is_refused(run, capsys, change, message):
    _forge(run / "last.safetensors", change)
    code, err = _resume(run, capsys)
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err and "internal error" not in err


def test_a_config_that_is_not_text(run, capsys):
    (run / "config.yaml").write_bytes(b"\x00\xff")
    code, err = _resume(run, capsys)
    assert (code, err.strip()) == (2, f"--config {run / 'config.yaml'}: not UTF-8 text (byte 1); "
                                      "a config is a YAML file of training settings.")


@pytest.mark.parametrize("name, message", [
    ("spec.yaml", "cannot read spec '{run}/spec.yaml': Is a directory"),
    ("steps.jsonl", "cannot write the run directory's metrics: {run}/steps.jsonl: Is a "
                    "directory."),
    ("data.json", "cannot write '{run}/data.json' in the run directory: Is a directory."),
])
def test_a_run_file_that_is_a_folder(run, capsys, name, message):
    (run / name).unlink()
    (run / name).mkdir()
    code, err = _resume(run, capsys)
    assert code == 2
    assert message.format(run=run) in err


def test_edited_metrics_files_are_read_around(run, capsys):
    junk = b'7\nnull\n[1, 2]\n{"step": "x"}\n{"step": 1}\n\xff\xfe\n{"step": 2, "loss": '
    for name in ("steps.jsonl", "epochs.jsonl"):
        with open(run / name, "ab") as f:
            f.write(junk)
    code, err = _resume(run, capsys, "--plot")
    assert code == 0, err
    assert (run / "plot.png").exists()
    for name in ("steps.jsonl", "epochs.jsonl"):
        rows = [json.loads(line) for line in (run / name).read_text().splitlines()]
        assert all(isinstance(r, dict) for r in rows)
