"""Memory is a limit: `linkc train` and `linkc bench` refuse a batch that cannot fit, before
allocating it, with the estimate, the batch and how to raise the cap (exit 2)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import linkc
from linkc.analyze.budget import (MemoryLimitError, check_memory, estimate_memory, memory_cap,
                                  parse_size)
from linkc.analyze.memory import activation_memory
from linkc.cli import main
from linkc.frontend import build

# The case: two convs on a megapixel input, within the per-sample limits.
TWO_CONV = """linkc: 1
name: twoconv
input: [3, 1024, 1024]
nodes:
  a: {from: input, ops: [{conv: [16, 3]}, bn, relu, {conv: [16, 3]}, bn, relu]}
  head: {from: a, ops: [gap, {linear: 10}]}
output: head
"""
TINY = """linkc: 1
name: tiny
input: [1, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu]}
  head: {from: a, ops: [gap, {linear: 10}]}
output: head
"""


def test_the_two_conv_megapixel_run_is_refused_before_allocating(write_spec, tmp_path,
                                                                 capsys, monkeypatch):
    monkeypatch.setenv("LINKC_MAX_MEMORY", "16G")
    spec = write_spec(TWO_CONV)
    start = time.perf_counter()
    code = main(["train", str(spec), "--batch-size", "128", "--data", "synthetic",
                 "--run-dir", str(tmp_path / "run")])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("training twoconv on synthetic at batch size 128 (evaluation batch "
                          "size 512) needs about ")
    assert "more than 16.0 GiB (LINKC_MAX_MEMORY)" in err
    assert "Use a smaller --batch-size (or --eval-batch-size)" in err
    assert "--max-memory SIZE" in err
    assert not (tmp_path / "run").exists(), "nothing was written"
    assert elapsed < 30  # it did not build a 15 GiB data set first


def test_the_default_cap_is_the_memory_available(write_spec, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LINKC_MAX_MEMORY", raising=False)
    monkeypatch.setattr("linkc.analyze.budget.available_memory", lambda: 2**30)
    code = main(["train", str(write_spec(TWO_CONV)), "--batch-size", "128", "--data",
                 "synthetic", "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert "more than 1.0 GiB (the memory available on this machine)" in capsys.readouterr().err


def test_a_small_run_passes_the_check(write_spec, tmp_path, monkeypatch):
    monkeypatch.delenv("LINKC_MAX_MEMORY", raising=False)
    code = main(["train", str(write_spec(TINY)), "--epochs", "1", "--data", "synthetic",
                 "--synthetic-size", "16", "--batch-size", "8", "--run-dir",
                 str(tmp_path / "run"), "--no-plot", "--no-tensorboard"])
    assert code == 0
    assert (tmp_path / "run" / "weights.safetensors").exists()


def test_max_memory_raises_the_cap_and_off_turns_it_off(write_spec, tmp_path, capsys):
    spec = str(write_spec(TWO_CONV))
    assert main(["train", spec, "--batch-size", "128", "--data", "synthetic",
                 "--max-memory", "1M", "--run-dir", str(tmp_path / "a")]) == 2
    assert "more than 1.0 MiB (--max-memory)" in capsys.readouterr().err
    assert main(["train", spec, "--max-memory", "lots", "--run-dir", str(tmp_path / "b")]) == 2
    assert "memory size 'lots' is not understood" in capsys.readouterr().err
    g = build(TWO_CONV)
    estimate = estimate_memory(g, 128, training=True)
    check_memory(estimate, "off", "training", "--batch-size")  # no error
    check_memory(estimate, estimate.total, "training", "--batch-size")  # exactly fits


def test_bench_checks_its_batch(write_spec, capsys, monkeypatch):
    monkeypatch.setenv("LINKC_MAX_MEMORY", "8G")
    code = main(["bench", str(write_spec(TWO_CONV)), "--batch", "128", "--no-compile"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmarking twoconv at batch size 128 needs about ")
    assert "Use a smaller --batch or input size" in err


def test_evaluate_checks_its_batch(write_spec, tmp_path, capsys):
    code = main(["evaluate", str(write_spec(TWO_CONV)), "--weights", str(tmp_path / "none"),
                 "--data", "synthetic", "--max-memory", "4G"])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "evaluating twoconv on synthetic at batch size 512 needs about ")


def test_the_estimate_adds_up_weights_gradients_momentum_and_stored_activations():
    g = build(TWO_CONV)
    params = sum(p.numel() for p in linkc.compile(TWO_CONV).parameters())  # torch's count
    est = estimate_memory(g, 8, training=True)
    stored = activation_memory(g, 8)["stored_bytes"]
    assert est.parts == {"weights": 4 * params, "gradients": 4 * params,
                         "optimizer state": 4 * params,
                         "activations kept for backward (batch 8)": stored + 8 * 3 * 2**20 * 4}
    # two convs, two BNs, two ReLUs of [16, 1024, 1024], then gap and linear: per sample
    assert stored == 8 * 4 * (6 * 16 * 2**20 + 16 + 10)
    infer = estimate_memory(g, 8, training=False)
    assert infer.parts["activations (batch 8)"] == activation_memory(g, 8)["peak_inference_bytes"]


@pytest.mark.parametrize("text, size", [("16G", 16 * 2**30), ("512M", 512 * 2**20),
                                        ("1.5k", 1536), ("123", 123), ("2GiB", 2 * 2**30),
                                        ("off", 0), ("0", 0)])
def test_sizes(text, size):
    assert parse_size(text) == size


def test_the_environment_variable_and_the_flag(monkeypatch):
    monkeypatch.setenv("LINKC_MAX_MEMORY", "2G")
    assert memory_cap(None) == (2 * 2**30, "LINKC_MAX_MEMORY")
    assert memory_cap("1G") == (2**30, "--max-memory")
    monkeypatch.setenv("LINKC_MAX_MEMORY", "off")
    assert memory_cap(None) == (None, "LINKC_MAX_MEMORY")
    with pytest.raises(MemoryLimitError):
        parse_size("12 parsecs")


def test_the_budget_does_not_import_torch():
    code = ("import sys, linkc.analyze.budget, linkc.frontend; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_address_space_cap_is_the_default_cap_when_tighter(tmp_path):
    # Under `ulimit -v` a run must be refused by the estimate, not die of a MemoryError
    # half-way through allocating: the cap is what is left under the limit.
    import subprocess
    import sys

    code = (
        "import resource\n"
        "from linkc.analyze.budget import _read_int, machine_cap\n"
        "mapped = _read_int('/proc/self/status', 'VmSize')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, resource.RLIM_INFINITY))\n"
        "cap, source = machine_cap()\n"
        "print(cap, source)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cap, source = out.stdout.split(" ", 1)
    assert 0.9 * 2**30 < int(cap) <= 2**30
    assert source.strip() == "this process's address-space limit, ulimit -v"
