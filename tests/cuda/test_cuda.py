"""linkc on a CUDA GPU: training with autocast and torch.compile, the compiled modules
against the CPU's numbers, data that stays in pinned host memory, the bench's CUDA
timing and memory, and NCCL across two GPUs.

CI has no GPU: every test here is skipped there (see conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open

import linkc
from linkc.cli import main
from linkc.compiler.passes import default_passes
from linkc.compiler.emit.torch_compile import compile_module
from linkc.train.placement import batch_to, place_data

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
RESNET_20 = str(SPECS / "resnet_20.yaml")
DIGITS = SPECS / "digits_resnet.yaml"
RUN_FLAGS = ["--data", "digits", "--no-plot", "--no-progress", "--no-tensorboard"]
GPU = ["--device", "cuda"]


def epochs(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]


def test_training_on_the_gpu_autocasts_learns_and_evaluates_to_the_same_accuracy(
        tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(DIGITS), *RUN_FLAGS, *GPU, "--epochs", "4",
                 "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert "on cuda:0, 4 epochs of 23 steps" in out
    assert f"; {dtype} autocast; run directory {run}" in out  # AMP is on by default on CUDA
    last = epochs(run)[-1]
    assert last["test_acc"] >= 0.9  # fp32 on the CPU: 97-98% after 3 epochs
    with safe_open(run / "last.safetensors", "pt") as f:  # dropout resumes exactly
        assert "rng.cuda.0" in set(f.keys())
    assert main(["evaluate", str(DIGITS), "--weights", str(run / "weights.safetensors"),
                 *GPU, "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    # the run evaluated under autocast, this in fp32: a digit or two may flip
    assert abs(evaluated["accuracy"] - last["test_acc"]) <= 2 / 359


def test_compiled_training_on_the_gpu_learns(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(DIGITS), *RUN_FLAGS, *GPU, "--epochs", "3", "--compile",
                 "--run-dir", str(run)]) == 0
    dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert f"channels_last + torch.compile; {dtype} autocast" in capsys.readouterr().out
    rows = epochs(run)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] and rows[-1]["test_acc"] >= 0.85


@pytest.mark.parametrize("name", ["resnet_20", "densenet_40_k12", "dmrnet_cifar"])
def test_compiled_inference_on_the_gpu_computes_what_the_cpu_does(name, exact_fp32):
    torch.manual_seed(0)
    gm = linkc.compile(SPECS / f"{name}.yaml", passes=default_passes("infer"),
                       mode="infer").eval()
    x = torch.randn(8, *linkc.build(SPECS / f"{name}.yaml").input_shape)
    with torch.no_grad():
        expected = gm(x)
        compiled = compile_module(gm.cuda(), "infer")  # channels_last, freezing, inductor
        got = compiled(x.cuda()).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)


def test_a_compiled_training_step_on_the_gpu_gives_the_cpus_gradients():
    # fp64: through 40 layers of batch-8 BN, fp32 gradients of the same step differ by up to
    # 3% between two correct orders of summation (eager against compiled, on the CPU too);
    # in fp64 they agree to 3e-14, so a wrong gradient cannot hide in the tolerance
    spec = SPECS / "densenet_40_k12.yaml"  # dense_chain, pool_first and channels_last apply
    torch.manual_seed(0)
    gm = linkc.compile(spec, passes=default_passes("train"), mode="train").train().double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 32, 32, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (8,), generator=gen)
    F.cross_entropy(gm(x), y).backward()
    expected = {k: p.grad.clone() for k, p in gm.named_parameters()}
    gm.zero_grad(set_to_none=True)
    compiled = compile_module(gm.cuda(), "train")
    F.cross_entropy(compiled(x.cuda()), y.cuda()).backward()
    for key, p in gm.named_parameters():
        scale = expected[key].abs().max().item() or 1.0
        torch.testing.assert_close(p.grad.cpu(), expected[key], rtol=0, atol=1e-9 * scale,
                                   msg=key)


def test_data_that_would_crowd_the_gpu_stays_pinned_and_batches_arrive_intact(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 8, 8, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    sets = SimpleNamespace(train=SimpleNamespace(x=x, y=y), test=SimpleNamespace(x=x, y=y))
    dev = torch.device("cuda", 0)
    assert place_data(sets, dev).train_x.device == dev  # fits: on the GPU
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1024, 2**34))
    data = place_data(sets, dev)
    assert all(t.device.type == "cpu" and t.is_pinned() for t in data)
    idx = torch.tensor([5, 0, 63, 5])
    gathered = data.train_x[idx]
    assert not gathered.is_pinned()  # indexing pinned memory gives pageable memory...
    batch = batch_to(gathered, dev)  # ...which batch_to pins before the copy
    torch.cuda.synchronize()
    assert batch.device == dev and torch.equal(batch.cpu(), x[idx])


def test_bench_on_the_gpu_times_with_cuda_sync_and_measures_gpu_memory(capsys):
    assert main(["bench", RESNET_20, *GPU, "--json", "--reps", "3", "--warmup", "1",
                 "--batch", "16", "--no-compile", "--amp", "--reference", "lowered"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == torch.cuda.get_device_name(0)
    assert report["memory_method"] == "cuda max_memory_allocated"
    expected = {"reference", "linkc", "linkc_passes"}
    if torch.cuda.is_bf16_supported():
        expected |= {"reference_bf16", "linkc_passes_bf16"}
    assert set(report["variants"]) == expected
    for key, v in report["variants"].items():
        for mode in ("infer", "train"):
            assert 0 < v[mode]["min"] <= v[mode]["images_per_s"] <= v[mode]["max"], key
        assert v["train_peak_mb"] > 0, key  # every variant, in this process


def test_bench_runs_onnx_runtime_on_the_gpu_or_says_it_cannot(capsys):
    ort = pytest.importorskip("onnxruntime")
    assert main(["bench", RESNET_20, *GPU, "--json", "--reps", "2", "--warmup", "1",
                 "--batch", "16", "--no-compile", "--onnx", "--reference", "lowered"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["variants"]["onnxruntime"]["infer"]["images_per_s"] > 0
    said = any("no CUDA provider" in w for w in report["warnings"])
    assert said == ("CUDAExecutionProvider" not in ort.get_available_providers())


@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason="NCCL needs two GPUs, one per process")
def test_two_nccl_processes_train_on_two_gpus(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         "2", "-m", "linkc", "train", str(DIGITS), *RUN_FLAGS, "--epochs", "3",
         "--run-dir", str(run)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on cuda:0 x 2 processes" in proc.stdout
    assert epochs(run)[-1]["test_acc"] >= 0.9
