"""Two processes with the gloo backend (torchrun on the CPU) train to the same weights as
one process with the same global batch.

The spec has no BatchNorm: under DDP each process normalises with its own half of
the batch, so a BN model legitimately differs from a single-process run. The
global batch (33) does not split evenly over two processes, which checks that the
loss weighting makes the averaged gradients equal the global-batch gradients.
Summation order differs between the two runs, so weights agree to a tolerance
rather than bit for bit (about 1e-4 here, against about 2e-3 when each process
back-propagates its own mean loss).
"""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from linkc.cli import main
from train_fixtures import PLAIN_SPEC, PYTHON, subprocess_env

FLAGS = ["--data", "digits", "--batch-size", "33", "--epochs", "2", "--lr", "0.1",
         "--threads", "1", "--no-plot"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The single-process reference both comparisons use, trained once: (spec, run dir)."""
    folder = tmp_path_factory.mktemp("single")
    spec = folder / "plain.yaml"
    spec.write_text(PLAIN_SPEC)
    assert main(["train", str(spec), *FLAGS, "--run-dir", str(folder / "run")]) == 0
    return spec, folder / "run"


def _ddp_run(spec, cwd, *extra):
    return subprocess.run(
        [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "linkc", "train", str(spec), *FLAGS, *extra],
        env=subprocess_env(), capture_output=True, text=True, timeout=300, cwd=cwd)


def test_two_compiled_gloo_processes_equal_one_eager_process(single, tmp_path):
    """Under DDP the compiled module runs each rank's full batches (17 and 16 samples) and
    the partial last batch runs the same DDP module eagerly (train.model_setup.StaticBatch)."""
    spec, single_dir = single
    ddp_dir = tmp_path / "ddp"
    proc = _ddp_run(spec, tmp_path, "--compile", "--run-dir", str(ddp_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x 2 processes" in proc.stdout and "+ torch.compile" in proc.stdout
    ddp = load_file(ddp_dir / "weights.safetensors")
    reference = load_file(single_dir / "weights.safetensors")
    for key in reference:
        torch.testing.assert_close(ddp[key], reference[key], rtol=0, atol=4e-4, msg=key)


def test_two_gloo_processes_equal_one_process_in_the_directory_rank_0_claims(single, tmp_path):
    spec, single_dir = single
    (tmp_path / "runs" / "plain").mkdir(parents=True)  # taken: the run goes to plain-2
    proc = _ddp_run(spec, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x 2 processes" in proc.stdout and "run directory runs/plain-2" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["plain", "plain-2"]
    ddp_dir = tmp_path / "runs" / "plain-2"

    ddp = load_file(ddp_dir / "weights.safetensors")
    reference = load_file(single_dir / "weights.safetensors")
    assert ddp.keys() == reference.keys()
    for key in reference:
        # float noise after 88 steps is ~1e-4; per-process means (a wrong weighting of the
        # uneven 17/16 split) give ~2e-3
        torch.testing.assert_close(ddp[key], reference[key], rtol=0, atol=4e-4, msg=key)
    steps = [json.loads(line) for line in (ddp_dir / "steps.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (single_dir / "steps.jsonl").read_text().splitlines()]
    assert len(steps) == len(ref) == 2 * 44  # rank 0 logs each step once; 1438 = 43 * 33 + 19
    for a, b in zip(steps, ref):
        assert abs(a["loss"] - b["loss"]) < 1e-4 and a["acc"] == b["acc"]
    assert ref[-1]["loss"] < ref[0]["loss"] - 0.05  # it trained
    epochs = [json.loads(line) for line in (ddp_dir / "epochs.jsonl").read_text().splitlines()]
    single_epochs = [json.loads(line) for line in (single_dir / "epochs.jsonl").read_text().splitlines()]
    assert abs(epochs[-1]["test_acc"] - single_epochs[-1]["test_acc"]) < 0.01
