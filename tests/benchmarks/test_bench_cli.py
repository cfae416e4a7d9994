"""`linkc bench` with a tiny budget: the JSON report has every field, for every variant;
`--amp` adds bf16 autocast twins of the hand-written and the linkc variant."""

import json
import sys
from pathlib import Path

import pytest
import torch

import linkc.train.model_setup as model_setup
from linkc.bench.timing import autocast_for, infer_call
from linkc.cli import main
from linkc.compiler.passes import default_passes

SPEC = Path(__file__).resolve().parents[2] / "specs" / "resnet_20.yaml"


def test_bench_cli_tiny_budget_json(capsys, tmp_path):
    text = SPEC.read_text().replace("input: [3, 32, 32]", "input: [3, 8, 8]")
    spec = tmp_path / "resnet_20.yaml"
    spec.write_text(text)
    code = main(["bench", str(spec), "--json", "--reps", "1", "--warmup", "0",
                 "--batch", "4", "--no-compile", "--reference", "resnet-110"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["batch"] == 4 and report["reps"] == 1 and report["compile"] is False
    assert set(report["passes"]) == {"infer", "train"}
    assert set(report["variants"]) == {"reference", "linkc", "linkc_passes"}
    ref = report["reference"]
    assert ref["name"] == "resnet-110" and ref["params"] == 1_727_962
    assert ref["params_equal"] is False  # resnet-20 is not resnet-110: said loudly
    assert any("PARAMETER COUNTS DIFFER" in w for w in report["warnings"])
    for key, v in report["variants"].items():
        for mode in ("infer", "train"):
            assert v[mode]["images_per_s"] > 0
            assert v[mode]["min"] <= v[mode]["images_per_s"] <= v[mode]["max"]
            assert v[mode]["compile_s"] is None  # nothing compiled
        assert v["train_peak_mb"] is None or v["train_peak_mb"] >= 0
        assert set(v["vs_reference"]) == {"infer", "train", "train_peak_mem"}
        assert v["vs_expert"] is None  # (2) needs torch.compile
    assert report["variants"]["reference"]["vs_reference"]["infer"] == 1.0


@pytest.mark.parametrize("device, message", [
    ("tpu", "linkc bench: unknown device 'tpu': use auto, cpu, cuda, cuda:N or mps"),
    ("cuda:x", "linkc bench: unknown device 'cuda:x': use auto, cpu, cuda, cuda:N or mps"),
    pytest.param("cuda:0", "linkc bench: --device cuda:0: CUDA is not available on this "
                 "machine (use --device cpu or auto).",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
])
def test_bench_on_a_device_this_machine_lacks_is_a_usage_error(device, message, capsys):
    assert main(["bench", str(SPEC), "--device", device, "--no-compile"]) == 2
    assert capsys.readouterr().err.strip() == message


def test_profile_on_a_gpu_is_refused_not_run_on_the_cpu(capsys):
    assert main(["bench", str(SPEC), "--profile", "--device", "cuda"]) == 2
    assert capsys.readouterr().err.strip() == (
        "linkc bench --profile: profiles on the CPU only; drop --device cuda (on a GPU, "
        "time the variants with plain `linkc bench`)")


def test_bench_unknown_reference_is_a_usage_error(capsys):
    assert main(["bench", str(SPEC), "--reference", "nope", "--no-compile"]) == 2
    assert "no reference 'nope'" in capsys.readouterr().err


TINY = """linkc: 1
name: tiny
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu, gap, {linear: 10}]}
output: a
"""
# a residual add after the second convolution: frozen, oneDNN fuses it into that call
TINY_RESIDUAL = """linkc: 1
name: tiny-residual
input: [4, 8, 8]
nodes:
  r: {from: input, ops: [{conv: [4, 3]}, bn, relu, {conv: [4, 3]}, bn]}
  y: {from: [input, r], merge: add, ops: [relu, gap, {linear: 10}]}
output: y
"""
OWN = """from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

not_a_module = lambda: 42
"""
QUICK = ["--json", "--reps", "1", "--warmup", "0", "--batch", "2", "--no-compile"]


def test_bench_against_the_users_own_module(capsys, tmp_path, monkeypatch):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "own_nets.py").write_text(OWN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["bench", "tiny.yaml", "--reference", "own_nets:make", *QUICK]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"] == {"name": "own_nets:make", "params": 166, "linkc_params": 166,
                                   "params_equal": True}
    assert set(report["variants"]) == {"reference", "linkc", "linkc_passes"}
    assert report["warnings"] == []


def test_each_timed_call_follows_an_idle_gap(monkeypatch):
    # a thread pool still spinning from the previous variant would slow the next one
    import linkc.bench.timing as timing
    events = []
    monkeypatch.setattr(timing.time, "sleep", lambda s: events.append(("idle", s)))
    calls = {"a": lambda: events.append("a"), "b": lambda: events.append("b")}
    times = timing.interleaved(calls, 2, torch.device("cpu"))
    assert events == [("idle", timing.SETTLE), "a", ("idle", timing.SETTLE), "b"] * 2
    assert {k: len(v) for k, v in times.items()} == {"a": 2, "b": 2}


def test_every_variant_runs_inference_in_eval_mode_and_training_in_train_mode(
        capsys, tmp_path, monkeypatch):
    # A module shared by both modes would be left in the mode set last, and its
    # inference timed with batch statistics (slower than eval-mode BN).
    import linkc.bench.timing as timing
    seen = {"infer": set(), "train": set()}

    def recording(kind, make):
        def wrap(model, *args, **kwargs):
            call = make(model, *args, **kwargs)

            def run():
                seen[kind].add((id(model), model.training))
                return call()
            return run
        return wrap
    monkeypatch.setattr(timing, "infer_call", recording("infer", timing.infer_call))
    monkeypatch.setattr(timing, "train_step", recording("train", timing.train_step))
    assert _bench(tmp_path, monkeypatch) == 0
    # (1) the hand-written module, (3) linkc without passes, (4) with the default passes
    assert len(seen["infer"]) == len(seen["train"]) == 3
    assert {training for _, training in seen["infer"]} == {False}
    assert {training for _, training in seen["train"]} == {True}


@pytest.mark.parametrize("reference,message", [
    ("own_nets:missing", "'own_nets' has no 'missing'"),
    ("no_such_module:make", "cannot import 'no_such_module'"),
    ("own_nets:not_a_module", "returned int, not a torch.nn.Module"),
])
def test_a_bad_own_reference_is_a_usage_error(reference, message, capsys, tmp_path,
                                              monkeypatch):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "own_nets.py").write_text(OWN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["bench", "tiny.yaml", "--reference", reference, *QUICK]) == 2
    assert message in capsys.readouterr().err


def test_bench_without_a_reference_compares_linkc_variants_and_says_so(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), *QUICK]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"] is None
    assert set(report["variants"]) == {"linkc", "linkc_passes"}
    assert report["warnings"] == [
        "no hand-written reference for 'tiny': comparing linkc's variants only, (1) and (2) "
        "are not measured; --reference MODULE:CALLABLE benches against your own nn.Module"]


def test_bench_set_overrides_reach_every_variant(capsys, tmp_path, monkeypatch):
    # the spec is the reference network only with width 4, which --set gives
    (tmp_path / "tiny.yaml").write_text(TINY.replace("input:", "params: {width: 2}\ninput:")
                                        .replace("{conv: [4, 3]}", "{conv: [width, 3]}"))
    (tmp_path / "own_nets.py").write_text(OWN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["bench", "tiny.yaml", "--reference", "own_nets:make", "--set", "width=4",
                 *QUICK]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"]["linkc_params"] == 166 and report["reference"]["params_equal"]
    assert report["warnings"] == []


def test_bench_interleaves_rounds_and_times_onnx_runtime(capsys, tmp_path):
    text = SPEC.read_text().replace("input: [3, 32, 32]", "input: [3, 8, 8]")
    spec = tmp_path / "resnet_20.yaml"
    spec.write_text(text)
    code = main(["bench", str(spec), "--json", "--reps", "3", "--warmup", "0", "--batch", "4",
                 "--no-compile", "--onnx"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    onnx = report["variants"]["onnxruntime"]
    assert onnx["infer"]["images_per_s"] > 0 and onnx["train"] is None
    # every ratio is the median of per-round ratios, whose min and max bracket it
    for base, per_key in report["round_ratios"].items():
        for key, modes in per_key.items():
            for mode, r in modes.items():
                if r is None:
                    continue
                assert r["min"] <= r["median"] <= r["max"]
    for key, v in report["variants"].items():
        for mode in ("infer", "train"):
            if v[mode]:
                assert v[mode]["min"] <= v[mode]["images_per_s"] <= v[mode]["max"]

def _bench(tmp_path, monkeypatch, *extra):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "own_nets.py").write_text(OWN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return main(["bench", "tiny.yaml", "--reference", "own_nets:make", *QUICK, *extra])


def test_amp_adds_the_bf16_twins_beside_the_fp32_variants(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(model_setup, "cpu_bf16_supported", lambda: True)
    assert _bench(tmp_path, monkeypatch, "--amp") == 0
    report = json.loads(capsys.readouterr().out)
    variants = report["variants"]
    # --no-compile: the twins are those of (1) and (4)
    assert set(variants) == {"reference", "linkc", "linkc_passes", "reference_bf16",
                             "linkc_passes_bf16"}
    for key, v in variants.items():
        assert v["dtype"] == ("bf16" if key.endswith("_bf16") else "fp32")
        for mode in ("infer", "train"):
            assert v[mode]["images_per_s"] > 0
    twin = variants["linkc_passes_bf16"]
    assert set(twin["vs_reference_bf16"]) == {"infer", "train", "train_peak_mem"}
    assert variants["reference_bf16"]["vs_reference_bf16"]["infer"] == 1.0
    assert twin["train_peak_mb"] is None  # memory is measured for fp32 variants only


def test_amp_table_has_the_bf16_ratio_column(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(model_setup, "cpu_bf16_supported", lambda: True)
    monkeypatch.setattr(sys.modules[__name__], "QUICK", [a for a in QUICK if a != "--json"])
    assert _bench(tmp_path, monkeypatch, "--amp") == 0
    table = capsys.readouterr().out
    assert "x(1) inf/tr" in table and "x(1b) inf/tr" in table
    assert "linkc, default passes, bf16 autocast (4b)" in table


def test_amp_on_a_cpu_without_bf16_says_so_and_skips(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(model_setup, "cpu_bf16_supported", lambda: False)
    assert _bench(tmp_path, monkeypatch, "--amp") == 0
    captured = capsys.readouterr()
    assert set(json.loads(captured.out)["variants"]) == {"reference", "linkc", "linkc_passes"}
    assert ("--amp: this CPU has no bf16 instructions (avx512_bf16/amx_bf16); the bf16 "
            "variants are skipped") in captured.err


def test_the_bf16_call_runs_in_bf16():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    seen = []
    model.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    infer_call(model, torch.randn(2, 3, 5, 5), autocast_for(torch.device("cpu"),
                                                             torch.bfloat16))()
    infer_call(model, torch.randn(2, 3, 5, 5), autocast_for(torch.device("cpu"), None))()
    assert seen == [torch.bfloat16, torch.float32]


@pytest.mark.slow
def test_profile_charges_every_microsecond_to_one_kind_of_op(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), "--profile", "--json", "--batch", "2",
                 "--reps", "1", "--passes", "none"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["macs_per_image"] == 3 * 4 * 9 * 64 + 4 * 10  # the 3x3 conv and the linear
    assert set(report["builds"]) == {"eager", "compiled", "compiled_frozen"}
    # the peak is the faster library's matmul (MKL keeps to AVX2 on AMD CPUs)
    assert set(report["peak_by_library"]) == {"MKL", "oneDNN"}
    assert report["peak_macs_per_s"] == max(report["peak_by_library"].values())
    eager = report["builds"]["eager"]["ms_per_call"]
    assert eager["conv 3x3"] > 0 and eager["linear"] > 0 and eager["BN-ReLU"] > 0
    assert "conv 1x1" not in eager  # the spec has none
    for build in report["builds"].values():
        assert 0 < build["share_of_peak"] < 1
        assert build["ms_per_call"]["conv 3x3"] > 0  # also oneDNN's prepacked (frozen) call


@pytest.mark.slow
def test_profile_charges_a_convolution_fused_with_its_residual_add_by_kernel_shape(
        capsys, tmp_path):
    (tmp_path / "res.yaml").write_text(TINY_RESIDUAL)
    assert main(["bench", str(tmp_path / "res.yaml"), "--profile", "--json", "--batch", "2",
                 "--reps", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    for build in report["builds"].values():
        assert build["ms_per_call"]["conv 3x3"] > 0
        assert "conv other" not in build["ms_per_call"]


@pytest.mark.slow
def test_profile_of_a_training_step_charges_backward_and_the_optimizer(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), "--profile", "--mode", "train",
                 "--json", "--batch", "2", "--reps", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "train"
    assert report["passes"] == default_passes("train")
    forward = 3 * 4 * 9 * 64 + 4 * 10
    assert (report["macs_per_image"], report["macs_per_call_image"]) == (forward, 3 * forward)
    assert set(report["builds"]) == {"eager", "compiled"}
    for build in report["builds"].values():
        ms = build["ms_per_call"]
        # the convolution's backward is charged to the 3x3 convolution, not to "other"
        assert ms["conv 3x3"] > 0 and ms["optimizer"] > 0 and ms["loss"] > 0
        assert 0 < build["share_of_peak"] < 1
    eager = report["builds"]["eager"]["ms_per_call"]
    assert eager["BN-ReLU"] > 0 and eager["linear"] > 0
    # the compiled graph's Python between kernels has its own line; eager has none
    assert report["builds"]["compiled"]["ms_per_call"]["graph runtime"] > 0
    assert "graph runtime" not in eager


def test_profile_of_a_training_step_refuses_an_inference_pass(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), "--profile", "--mode", "train",
                 "--passes", "fold_bn"]) == 2
    assert "fold_bn" in capsys.readouterr().err


def test_profile_with_an_unknown_pass_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), "--profile", "--passes", "fold_bm"]) == 2
    assert "unknown pass 'fold_bm'" in capsys.readouterr().err


def test_reference_lowered_benches_against_linkcs_own_module_without_passes(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), "--reference", "lowered", *QUICK]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"] == {"name": "lowered", "params": 166, "linkc_params": 166,
                                   "params_equal": True}
    assert set(report["variants"]) == {"reference", "linkc", "linkc_passes"}
    assert report["variants"]["linkc"]["vs_reference"]["infer"] > 0
