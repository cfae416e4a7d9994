"""What a run leaves around it: the process's globals as it found them, a run directory
of its own even when another run takes the name it would have picked, a plot that says
what each loss is, and a first line that says what was made of the data set."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from train_fixtures import PLAIN_SPEC, SMALL_SPEC

from linkc.cli import main
from linkc.frontend import build
from linkc.train.config import resolve_config
from linkc.train.heads import loss_labels, output_weights
from linkc.train.rundir import loss_figure
from linkc.train.train import TrainingDiverged, train

HEADS = """\
linkc: 1
name: heads
input: [1, 8, 8]
nodes:
  trunk: {from: input, ops: [{conv: [8, 3]}, relu, gap]}
  head: {from: trunk, ops: [{linear: 10}]}
  aux1: {from: trunk, ops: [{linear: 10}]}
outputs: [head, aux1]
"""


def _config(**values):
    return resolve_config([("test", {"threads": 1, "progress": False, "plot": False,
                                     "tensorboard": False, "data": "synthetic",
                                     "synthetic_size": 32, "batch_size": 16, "epochs": 1,
                                     **values})])


def _globals():
    return (torch.get_num_threads(), torch.get_rng_state(), np.random.get_state(),
            random.getstate(), torch.backends.cudnn.benchmark)


def _assert_same(before, after):
    assert after[0] == before[0], "torch threads"
    assert torch.equal(after[1], before[1]), "torch's random generator"
    assert all(np.array_equal(a, b) for a, b in zip(after[2], before[2])), "numpy's generator"
    assert after[3] == before[3], "python's random generator"
    assert after[4] == before[4], "cudnn.benchmark"


def test_train_leaves_threads_seeds_and_cudnn_benchmark_as_it_found_them(tmp_path,
                                                                        monkeypatch):
    import linkc.train.train as loop

    real = loop.setup_model

    def as_on_a_gpu(g, config, dist):  # a CUDA run turns cuDNN's autotuner on
        torch.backends.cudnn.benchmark = True
        return real(g, config, dist)

    monkeypatch.setattr(loop, "setup_model", as_on_a_gpu)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    torch.set_num_threads(2)  # the run trains on one (conftest puts the count back)
    torch.manual_seed(123), np.random.seed(7), random.seed(9)
    before = _globals()
    run = tmp_path / "run"
    train(SMALL_SPEC, _config(seed=5, run_dir=str(run)))
    _assert_same(before, _globals())
    train(SMALL_SPEC, _config(seed=5, run_dir=str(run)), resume=True)  # RNGs restored
    _assert_same(before, _globals())
    with pytest.raises(TrainingDiverged):
        train(PLAIN_SPEC, _config(lr=1e30, warmup_epochs=0,
                                  run_dir=str(tmp_path / "diverged")))
    _assert_same(before, _globals())


def test_a_fresh_run_never_writes_into_a_directory_another_run_took(tmp_path, monkeypatch):
    import linkc.train.train as loop

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "small").mkdir(parents=True)
    real = loop.load_datasets

    def another_run_starts(*args, **kwargs):  # while this one loads its data
        (tmp_path / "runs" / "small-2").mkdir()
        (tmp_path / "runs" / "small-2" / "theirs").write_text("another run's file")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "load_datasets", another_run_starts)
    result = train(SMALL_SPEC, _config())
    assert result.run_dir.as_posix() == "runs/small-3"
    assert sorted(p.name for p in (tmp_path / "runs" / "small-2").iterdir()) == ["theirs"]


def test_the_plot_says_what_each_loss_is(tmp_path):
    g = build(HEADS)
    config = _config(loss_weights={"aux1": 0.3}, label_smoothing=0.1, run_dir=str(tmp_path))
    labels = loss_labels(g, output_weights(g, config), config.label_smoothing)
    assert labels == ("CE(head) + 0.3·CE(aux1), label smoothing 0.1", "CE(head)")
    assert loss_labels(build(SMALL_SPEC), (1.0,), 0.0) == ("CE(head)", "CE(head)")
    train(g, config)
    fig = loss_figure(tmp_path, labels)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["training, per step: CE(head) + 0.3·CE(aux1), label smoothing 0.1",
                      "training, epoch mean", "test: CE(head)"]


def test_the_first_line_says_how_the_data_set_was_fitted_to_the_spec(write_spec, tmp_path,
                                                                     capsys):
    # digits are 1x8x8 with 10 classes: fed to a 3x12x12 input and a 20-class head
    spec = write_spec(PLAIN_SPEC.replace("[1, 8, 8]", "[3, 12, 12]")
                      .replace("linear: 10", "linear: 20"))
    run = tmp_path / "run"
    assert main(["train", str(spec), "--epochs", "1", "--threads", "1", "--no-plot",
                 "--no-progress", "--run-dir", str(run)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("training plain on digits (1438 train / 359 test images; 1x8x8 images "
                     "resized to 3x12x12; 10 classes for a 20-class head) on cpu, 1 epochs of "
                     "12 steps; passes drop_identity, pool_first, dense_chain, channels_last; "
                     f"run directory {run}")


def test_a_spec_that_fits_the_data_set_says_nothing_of_it(write_spec, tmp_path, capsys):
    spec = write_spec(PLAIN_SPEC)
    assert main(["train", str(spec), "--data", "synthetic", "--synthetic-size", "32",
                 "--epochs", "1", "--threads", "1", "--no-plot", "--no-progress",
                 "--run-dir", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.startswith(
        "training plain on synthetic (32 train / 8 test images) on cpu")


def test_the_digits_row_states_the_images_scikit_learn_ships():
    from sklearn.datasets import load_digits

    from linkc.train.data import KINDS

    digits = load_digits()
    assert KINDS["digits"].shape == (1, *digits.images.shape[1:])
    assert len(set(digits.target)) == 10
