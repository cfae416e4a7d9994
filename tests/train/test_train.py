"""train(): a short run learns, fills its run directory, and its weights load into the
model.py that `linkc compile` writes; NaN losses stop the run; bad data is exit 2."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
import torch
from safetensors.torch import load_file

from train_fixtures import PLAIN_SPEC, SMALL_SPEC
from linkc.cli import main
from linkc.train.checkpoint import read_checkpoint
from linkc.train.config import resolve_config
from linkc.train.train import (TrainingDiverged, epoch_order, lr_factor, param_groups,
                                 train)


def _config(**values):
    return resolve_config([("test", {"threads": 1, "progress": False, **values})])


def test_lr_schedule_warms_up_linearly_then_decays_by_cosine():
    f = [lr_factor(s, warmup=4, total=12, min_ratio=0.1) for s in range(13)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == 1.0 and math.isclose(f[8], 0.55) and math.isclose(f[12], 0.1)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))


def test_no_weight_decay_on_bn_and_bias():
    import linkc

    gm = linkc.compile(SMALL_SPEC)
    decay, no_decay = param_groups(gm, 1e-4)
    names = {id(p): n for n, p in gm.named_parameters()}
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    assert sorted(names[id(p)] for p in decay["params"]) == ["a.conv1.weight", "b.conv1.weight",
                                                             "head.linear1.weight"]
    assert {names[id(p)] for p in no_decay["params"]} >= {"a.bn1.weight", "a.bn1.bias",
                                                          "head.linear1.bias"}


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(50, 1, 2), epoch_order(50, 1, 2))
    assert not torch.equal(epoch_order(50, 1, 2), epoch_order(50, 1, 3))
    assert sorted(epoch_order(50, 0, 0).tolist()) == list(range(50))


def test_short_run_learns_and_writes_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    result = train(SMALL_SPEC, _config(data="digits", epochs=3, batch_size=32, lr=0.1,
                                        run_dir=str(run)))
    steps = [json.loads(line) for line in (run / "steps.jsonl").read_text().splitlines()]
    epochs = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
    assert len(steps) == result.steps == 3 * 45  # 1438 digits / 32, last batch kept
    assert [r["step"] for r in steps] == list(range(1, result.steps + 1))
    assert len(epochs) == 3 and epochs[-1]["train_loss"] < 0.6 * epochs[0]["train_loss"]
    assert result.test_acc > 0.5 and result.test_acc == epochs[-1]["test_acc"]
    assert (run / "steps.csv").read_text().splitlines()[0].startswith("step,epoch,loss,acc,lr")
    assert len((run / "epochs.csv").read_text().splitlines()) == 4
    assert (run / "spec.yaml").read_text() == SMALL_SPEC
    assert "epochs: 3" in (run / "config.yaml").read_text()
    assert json.loads((run / "data.json").read_text())["classes"][:3] == ["0", "1", "2"]
    assert (run / "plot.png").read_bytes()[:4] == b"\x89PNG"
    last = read_checkpoint(run / "last.safetensors")
    assert last.state["position"] == {**last.state["position"], "step": 135, "epoch": 3, "batch": 0}
    assert read_checkpoint(run / "best.safetensors").state["position"]["best_acc"] == result.best_acc
    out = capsys.readouterr().out
    assert "epoch   3/3" in out and f"test accuracy {result.test_acc:.2%}" in out

    # the final weights load into the model.py that `linkc compile` writes, and evaluate agrees
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    assert main(["compile", str(spec), "-o", str(tmp_path / "compiled")]) == 0
    module_spec = importlib.util.spec_from_file_location("compiled_small",
                                                         tmp_path / "compiled" / "model.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    model = module.Model()
    model.load_state_dict(load_file(run / "weights.safetensors"))
    model.eval()
    from linkc.train.evaluate import evaluate

    ev = evaluate(model, *_digits_test(), batch_size=100, device=torch.device("cpu"))
    assert ev.accuracy == result.test_acc and math.isclose(ev.loss, result.test_loss, rel_tol=1e-5)
    capsys.readouterr()
    assert main(["evaluate", str(spec), "--weights", str(run / "weights.safetensors"),
                 "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["accuracy"] == result.test_acc and reported["samples"] == 359


def _digits_test():
    from linkc.train.data import DataSpec
    from linkc.train.data.load import load_datasets

    sets = load_datasets(DataSpec("digits"), (3, 8, 8))
    return sets.test.x, sets.test.y


def test_augmented_synthetic_run_and_auto_run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _config(data="synthetic", synthetic_size=64, epochs=1, batch_size=16, augment=True)
    first = train(SMALL_SPEC, cfg)
    second = train(SMALL_SPEC, cfg)
    assert first.run_dir.as_posix() == "runs/small" and second.run_dir.as_posix() == "runs/small-2"
    assert torch.equal(load_file(first.weights)["a.conv1.weight"],
                       load_file(second.weights)["a.conv1.weight"])  # same seed, same run


def test_nan_loss_stops_and_keeps_last_good_checkpoint(write_spec, tmp_path, capsys):
    spec = write_spec(PLAIN_SPEC)
    run = tmp_path / "run"
    rc = main(["train", str(spec), "--lr", "1e12", "--warmup-epochs", "2", "--epochs", "3",
               "--batch-size", "32", "--checkpoint-every", "1", "--run-dir", str(run),
               "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "the loss became" in err and ("nan" in err or "inf" in err)
    assert "The last good checkpoint is kept" in err and "Lower the learning rate" in err
    failed_at = int(err.split(" at step ")[1].split()[0])
    kept = read_checkpoint(run / "last.safetensors")
    assert kept.state["position"]["step"] == failed_at - 1
    assert all(torch.isfinite(t).all() for t in kept.model.values())
    assert not (run / "weights.safetensors").exists()


def test_nan_before_any_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match="No checkpoint had been written yet"):
        train(PLAIN_SPEC, _config(lr=1e30, warmup_epochs=0, run_dir=str(tmp_path / "r")))


@pytest.mark.parametrize("data, message", [
    ("cifar10:{tmp}/missing", "does not exist"),
    ("cifar10:{tmp}/empty", "no data found"),
    ("imagefolder:{tmp}/empty", "has no class folders"),
])
def test_bad_data_directory_is_exit_2(write_spec, tmp_path, capsys, data, message):
    (tmp_path / "empty").mkdir()
    spec = write_spec(SMALL_SPEC)
    rc = main(["train", str(spec), "--data", data.format(tmp=tmp_path),
               "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_wrong_image_size_in_cifar_file_is_exit_2(write_spec, tmp_path, capsys):
    folder = tmp_path / "c10"
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(bytes(1 + 16 * 16 * 3) * 2)  # 16x16 records, not 32x32
    rc = main(["train", str(write_spec(SMALL_SPEC)), "--data", f"cifar10:{folder}",
               "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "data_batch_1.bin" in err and "Traceback" not in err


def test_output_must_be_class_scores(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("linkc: 1\nname: s\ninput: [1, 4, 4]\n"
                    "nodes:\n  h: {from: input, ops: [{conv: [4, 3]}]}\noutput: h\n")
    assert main(["train", str(spec), "--run-dir", str(tmp_path / "r")]) == 2
    assert "vector of class scores" in capsys.readouterr().err
