"""The training loop reads its numbers a window at a time and keeps its position typed:
log_every changes when the host looks, not what is trained or logged; a NaN is still
reported at its exact step; checkpoints of the previous layout still resume."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from linkc.train.checkpoint import CheckpointError, _digest, read_checkpoint
from linkc.train.config import resolve_config
from linkc.compiler.passes import default_passes
from linkc.train.model_setup import training_passes
from linkc.train.position import RunPosition, StepRecord
from linkc.train.train import TrainingDiverged, train
from linkc.train.window import StepWindow
from train_fixtures import PLAIN_SPEC, SMALL_SPEC

FIXTURES = Path(__file__).parent / "fixtures"

# plain_step6_v1.safetensors: PLAIN_SPEC trained with LEGACY_SETTINGS by the loop whose
# position was a dict of ten keys, stopped by Ctrl-C after step 6 (epoch 2, batch 2).
LEGACY_SETTINGS = dict(data="synthetic", synthetic_size=64, epochs=2, batch_size=16,
                       augment=True, lr=0.05, seed=3, threads=1, progress=False, plot=False,
                       tensorboard=False)


def _config(**values):
    return resolve_config([("test", {"threads": 1, "progress": False, "plot": False,
                                     "tensorboard": False, **values})])


def _rows(run_dir: Path, kind: str = "steps") -> list[dict]:
    return [json.loads(line) for line in (run_dir / f"{kind}.jsonl").read_text().splitlines()]


def _forge_position(path: Path, change) -> None:
    """Re-save a checkpoint with its position mapping changed (digest recomputed)."""
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["linkc_checkpoint"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(doc["state"]["position"])
    doc["sha256"] = _digest(tensors)
    save_file(tensors, str(path), metadata={"linkc_checkpoint": json.dumps(doc)})


def test_log_every_changes_neither_the_weights_nor_the_logged_steps(tmp_path):
    runs = {}
    for every in (1, 7):
        run_dir = tmp_path / f"every{every}"
        result = train(SMALL_SPEC, _config(data="synthetic", synthetic_size=96, epochs=2,
                                           batch_size=8, augment=True, log_every=every,
                                           checkpoint_every=5, run_dir=str(run_dir)))
        runs[every] = (result, load_file(result.weights), _rows(run_dir))
    (one, w1, rows1), (seven, w7, rows7) = runs[1], runs[7]
    assert one.steps == seven.steps == 24
    assert all(torch.equal(w1[k], w7[k]) for k in w1)
    assert [(r["step"], r["epoch"], r["loss"], r["acc"], r["lr"]) for r in rows1] == \
        [(r["step"], r["epoch"], r["loss"], r["acc"], r["lr"]) for r in rows7]
    assert one.test_acc == seven.test_acc and one.best_acc == seven.best_acc


def test_the_loop_reads_the_device_once_per_window(tmp_path, monkeypatch):
    reads = []
    original = StepWindow.read

    def counting(self, dist, interrupted):
        reads.append(len(self))
        return original(self, dist, interrupted)

    monkeypatch.setattr(StepWindow, "read", counting)
    # 184 samples / 8 = 23 steps per epoch: windows of 10, 10 and the epoch's last 3
    train(PLAIN_SPEC, _config(data="synthetic", synthetic_size=184, epochs=2, batch_size=8,
                              log_every=10, run_dir=str(tmp_path / "run")))
    assert reads == [10, 10, 3] * 2
    assert len(_rows(tmp_path / "run")) == 46


def test_a_checkpoint_closes_the_window_so_it_never_holds_unchecked_steps(tmp_path,
                                                                         monkeypatch):
    import linkc.train.train as loop

    run_dir, saved = tmp_path / "run", []
    real = loop.save_run

    def recording(path, spec_name, network, config, pos, *rest):
        saved.append((path.name, pos.step, len(_rows(run_dir))))
        return real(path, spec_name, network, config, pos, *rest)

    monkeypatch.setattr(loop, "save_run", recording)
    train(PLAIN_SPEC, _config(data="synthetic", synthetic_size=64, epochs=1, batch_size=4,
                              log_every=6, checkpoint_every=5, run_dir=str(run_dir)))
    lasts = [(step, rows) for name, step, rows in saved if name == "last.safetensors"]
    assert lasts == [(5, 5), (10, 10), (15, 15), (16, 16)]  # every step logged and checked


@pytest.mark.parametrize("log_every, checkpoint_every, last_good", [
    (1, 3, 6), (5, 0, 4), (3, 0, 4), (8, 0, 4)])
def test_a_nan_loss_is_reported_at_its_exact_step(tmp_path, monkeypatch, log_every,
                                                  checkpoint_every, last_good):
    import linkc.train.train as loop

    calls = []
    real = loop.weighted_loss

    def nan_from_step_7(outs, y, weights, label_smoothing=0.0):
        total, main = real(outs, y, weights, label_smoothing)
        calls.append(1)
        return (total * float("nan"), main) if len(calls) >= 7 else (total, main)

    monkeypatch.setattr(loop, "weighted_loss", nan_from_step_7)
    run_dir = tmp_path / "run"
    # 4 steps per epoch: step 7 is the third batch of epoch 2, inside a window of 5 (steps
    # 5-8), the last of a window of 3 (5-7)
    with pytest.raises(TrainingDiverged) as info:
        train(PLAIN_SPEC, _config(data="synthetic", synthetic_size=64, epochs=3, batch_size=16,
                                  log_every=log_every, checkpoint_every=checkpoint_every,
                                  run_dir=str(run_dir)))
    message = str(info.value)
    lr_of_step_7 = 0.1 * 0.5 * (1 + math.cos(math.pi * (6 - 4) / (12 - 4)))  # warmup 4 of 12
    assert f"the loss became nan at step 7 (epoch 2, learning rate {lr_of_step_7:.4g})." \
        in message
    assert (f"The last good checkpoint is kept: {run_dir / 'last.safetensors'} "
            f"(step {last_good})") in message
    kept = read_checkpoint(run_dir / "last.safetensors")
    assert kept.state["position"]["step"] == last_good
    assert all(torch.isfinite(t).all() for t in kept.model.values())
    assert [r["step"] for r in _rows(run_dir)] == list(range(1, 7))


def test_a_real_divergence_is_reported_at_the_same_step_whatever_log_every(tmp_path):
    messages = []
    for every in (1, 9):
        with pytest.raises(TrainingDiverged) as info:
            train(PLAIN_SPEC, _config(lr=1e12, warmup_epochs=2, epochs=3, batch_size=32,
                                      log_every=every, run_dir=str(tmp_path / f"r{every}")))
        messages.append(str(info.value).split(" Lower the learning rate")[0]
                        .replace(str(tmp_path / f"r{every}"), "RUN"))
    assert " at step " in messages[0] and messages[0] == messages[1]


def test_result_names_step_time_and_wall_time(tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = train(PLAIN_SPEC, _config(data="synthetic", synthetic_size=64, epochs=2,
                                       batch_size=16, run_dir=str(run_dir)))
    steps = _rows(run_dir)
    assert result.step_seconds == steps[-1]["time_s"] == _rows(run_dir, "epochs")[-1]["time_s"]
    assert math.isclose(result.step_seconds, sum(e["epoch_s"] for e in _rows(run_dir, "epochs")))
    assert 0 < result.step_seconds < result.wall_seconds
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{result.step_seconds:.1f}s in train steps, {result.wall_seconds:.0f}s in all" in out


def test_position_round_trips_and_reads_the_previous_layout():
    pos = RunPosition(step=9, epoch=2, batch=1, loss_sum=3.5, correct=7, count=16,
                      epoch_s=0.25, time_s=2.0, best_acc=0.5, best_epoch=2, test_loss=1.25,
                      test_acc=0.5)
    assert RunPosition.from_state(json.loads(json.dumps(pos.state()))) == pos
    legacy = read_checkpoint(FIXTURES / "plain_step6_v1.safetensors").state["position"]
    assert "test_acc" not in legacy and isinstance(legacy["count"], float)
    back = RunPosition.from_state(legacy)
    assert (back.step, back.epoch, back.batch, back.correct, back.count) == (6, 1, 2, 2, 32)
    assert back.best_acc == legacy["best_acc"] and back.test_acc is None
    back.add_step(StepRecord(loss_sum=1.0, correct=3, count=16, lr=0.1, seconds=0.5))
    assert (back.step, back.batch, back.count, back.correct) == (7, 3, 48, 5)


def test_a_position_with_half_of_the_test_result_is_refused():
    # found by the checkpoint fuzzer: test_loss deleted, test_acc kept, and a resumed
    # finished run crashed printing the missing loss
    state = RunPosition(step=2, epoch=1, test_loss=2.25, test_acc=0.0).state()
    del state["test_loss"]
    with pytest.raises(CheckpointError, match="position has one of test_loss and test_acc "
                                              "without the other"):
        RunPosition.from_state(state)


def test_a_checkpoint_of_the_previous_layout_resumes(tmp_path):
    reference = train(PLAIN_SPEC, _config(**LEGACY_SETTINGS, run_dir=str(tmp_path / "ref")))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(FIXTURES / "plain_step6_v1.safetensors", run_dir / "last.safetensors")
    resumed = train(PLAIN_SPEC, _config(**LEGACY_SETTINGS, run_dir=str(run_dir)), resume=True)
    assert resumed.steps == reference.steps == 8
    expected, got = load_file(reference.weights), load_file(resumed.weights)
    assert got.keys() == expected.keys()
    for key in expected:  # the first six steps ran in the torch that wrote the fixture
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5, msg=key)
    assert read_checkpoint(run_dir / "last.safetensors").state["position"]["test_acc"] == \
        resumed.test_acc


@pytest.mark.parametrize("legacy", [False, True])
def test_resuming_a_finished_run_reports_its_result(tmp_path, legacy):
    run_dir = tmp_path / "run"
    config = _config(data="synthetic", synthetic_size=64, epochs=2, batch_size=16,
                     run_dir=str(run_dir))
    first = train(PLAIN_SPEC, config)
    if legacy:  # as written before the position recorded the test result
        _forge_position(run_dir / "last.safetensors",
                        lambda p: (p.pop("test_loss"), p.pop("test_acc")))
    again = train(PLAIN_SPEC, config, resume=True)
    assert (again.steps, again.best_acc, again.test_acc) == (first.steps, first.best_acc,
                                                             first.test_acc)
    assert math.isclose(again.test_loss, first.test_loss, rel_tol=1e-6)
    assert again.step_seconds == first.step_seconds


def test_every_run_applies_the_training_defaults_chosen_in_one_place():
    defaults = ["drop_identity", "pool_first", "dense_chain", "channels_last"]
    assert default_passes("train") == defaults
    assert training_passes(_config()) == defaults
    assert training_passes(_config(compile=True)) == defaults  # compile adds no passes
    assert training_passes(_config(channels_last=False)) == defaults[:-1]
    assert training_passes(_config(passes=["none"])) == []
    assert training_passes(_config(passes="none", memory_efficient=True)) == ["checkpoint_dense"]
    # extra passes run in the compiler's order, each once, layout last; the dense
    # concatenations' owners (merge_nary, checkpoint_dense) before dense_chain
    assert training_passes(_config(passes=["checkpoint_dense", "merge_nary", "pool_first"])) \
        == ["drop_identity", "pool_first", "merge_nary", "checkpoint_dense", "dense_chain",
            "channels_last"]
