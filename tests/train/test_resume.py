"""--resume continues bit-identically: a training subprocess is killed (SIGKILL) or
interrupted (SIGINT) mid-epoch, resumed, and its final weights equal those of a run
that was never interrupted. The spec has BatchNorm and dropout and the data is
augmented, so model buffers and every random generator must be restored."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time

import pytest
import torch
from safetensors.torch import load_file

from linkc.cli import main
from linkc.train.checkpoint import read_checkpoint
from train_fixtures import PYTHON, SMALL_SPEC, subprocess_env

SPEC = SMALL_SPEC.replace("[3, 8, 8]", "[3, 16, 16]")
STEPS_PER_EPOCH, EPOCHS = 64, 3
FLAGS = ["--data", "synthetic", "--synthetic-size", str(16 * STEPS_PER_EPOCH), "--augment",
         "--batch-size", "16", "--epochs", str(EPOCHS), "--lr", "0.05", "--seed", "5",
         "--checkpoint-every", "5", "--threads", "1", "--no-plot"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (in this process) and its spec file."""
    folder = tmp_path_factory.mktemp("reference")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC)
    before = torch.get_num_threads()
    try:
        assert main(["train", str(spec), *FLAGS, "--run-dir", str(folder / "run")]) == 0
    finally:
        torch.set_num_threads(before)
    return spec, load_file(folder / "run" / "weights.safetensors"), folder / "run"


def _start(spec, run_dir):
    return subprocess.Popen([PYTHON, "-m", "linkc", "train", str(spec), *FLAGS,
                             "--run-dir", str(run_dir)], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"training ended (rc {proc.returncode}) before the test could "
                        f"interrupt it:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the training subprocess")
        time.sleep(0.01)


def _assert_same_weights(run_dir, expected):
    got = load_file(run_dir / "weights.safetensors")
    assert got.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different, f"weights differ after resuming: {different}"


def _assert_metrics_continuous(run_dir, reference_dir):
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps] == list(range(1, STEPS_PER_EPOCH * EPOCHS + 1))
    ref = [json.loads(line) for line in (reference_dir / "steps.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in steps] == [r["loss"] for r in ref]


def test_sigkill_mid_epoch_then_resume_is_bit_identical(reference, tmp_path):
    spec, expected, reference_dir = reference
    run_dir = tmp_path / "run"
    proc = _start(spec, run_dir)
    _wait_for(lambda: (run_dir / "last.safetensors").exists(), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    position = read_checkpoint(run_dir / "last.safetensors").state["position"]
    assert 0 < position["step"] < STEPS_PER_EPOCH * EPOCHS
    assert position["batch"] > 0, "the kill should land mid-epoch"
    assert main(["train", str(spec), *FLAGS, "--resume", str(run_dir)]) == 0
    _assert_same_weights(run_dir, expected)
    _assert_metrics_continuous(run_dir, reference_dir)


def test_sigint_saves_prints_resume_command_and_resumes_bit_identically(reference, tmp_path):
    spec, expected, reference_dir = reference
    run_dir = tmp_path / "run"
    proc = _start(spec, run_dir)
    steps = run_dir / "steps.jsonl"
    _wait_for(lambda: steps.exists() and len(steps.read_text().splitlines()) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"checkpoint saved to {run_dir / 'last.safetensors'}" in err
    command = err.split("To resume: ", 1)[1].strip()
    words = shlex.split(command)
    assert words[:2] == ["linkc", "train"] and words[-2:] == ["--resume", str(run_dir)]
    step = read_checkpoint(run_dir / "last.safetensors").state["position"]["step"]
    assert step == len(steps.read_text().splitlines())  # saved right after the last step
    assert main(words[1:]) == 0  # exactly the command it printed
    _assert_same_weights(run_dir, expected)
    _assert_metrics_continuous(run_dir, reference_dir)
