"""linkc.optimize's backends: each one's outputs against the eager module (fp32 and bf16),
`backend="auto"` choosing among the installed ones and caching its choice, and clear
errors for what cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import linkc
import linkc.compiler.emit.backend_choice as choice
from linkc.cli import main
from linkc.compiler.emit.backends import BACKENDS, BackendError, candidates
from linkc.compiler.passes import default_passes
from linkc.errors import UserError

# a dense block and a residual add: concatenations, BN folded into convolutions, a merge
SPEC = """linkc: 1
name: tiny-backends
input: [3, 8, 8]
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [8, 1]}, bn, relu, {conv: [4, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  d1:   {from: stem, repeat: 2, block: layer, connect: dense}
  r:    {from: [d1, d1], merge: add}
  head: {from: r, ops: [bn, relu, gap, {linear: 10}]}
output: head
"""
#: fp32 engines reorder sums (oneDNN, OpenVINO, MLAS kernels): agree to float rounding
FP32_ATOL = 1e-4
#: bf16 keeps 8 bits of mantissa: within 5% of the output's scale
BF16_REL = 5e-2


def _has_bf16() -> bool:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in text or "amx_bf16" in text


def _model():
    torch.manual_seed(0)
    gm = linkc.compile(SPEC, passes=default_passes("infer"), mode="infer").eval()
    for m in gm.modules():  # BN statistics other than the identity's
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return gm


def _installed(name):
    if not BACKENDS[name].installed():
        pytest.skip(f"{name} is not installed")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(choice.CACHE_ENV, str(tmp_path / "cache"))


#: inductor compiles C++ for each test (tens of seconds on 2 busy cores)
INDUCTOR = pytest.param("inductor", marks=pytest.mark.slow)


@pytest.mark.parametrize("backend", [INDUCTOR, "openvino", "onnxruntime"])
def test_each_backend_agrees_with_the_eager_module_in_fp32(backend):
    _installed(backend)
    gm = _model()
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        want = gm(x)
        fast = linkc.optimize(gm, backend=backend)
        got = fast(x)
    assert (fast.backend, fast.precision) == (backend, "fp32")
    assert got.dtype == torch.float32 and got.shape == want.shape
    torch.testing.assert_close(got, want, atol=FP32_ATOL, rtol=0)


@pytest.mark.skipif(not _has_bf16(), reason="the CPU has no bf16 instructions")
@pytest.mark.parametrize("backend", [INDUCTOR, "openvino"])
def test_each_bf16_backend_agrees_loosely_and_really_runs_bf16(backend):
    _installed(backend)
    gm = _model()
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        want = gm(x)
        fast = linkc.optimize(gm, backend=backend, precision="bf16")
        got = fast(x)
    assert (fast.backend, fast.precision) == (backend, "bf16")
    assert got.dtype == torch.float32  # outputs stay fp32, as the fp32 module's
    scale = want.abs().max().item()
    assert (got - want).abs().max().item() <= BF16_REL * scale
    # bf16 arithmetic, not fp32 under a bf16 label: its rounding is far above fp32's
    assert (got - want).abs().max().item() > 10 * FP32_ATOL * scale


@pytest.mark.slow
def test_auto_picks_the_fastest_installed_backend_and_caches_the_choice(monkeypatch, tmp_path):
    installed = candidates("infer", "fp32")
    assert "inductor" in installed
    # the timing is replaced: the last installed backend is made the fastest
    fake = {name: 1.0 + i for i, name in enumerate(reversed(installed))}
    timed = []

    def fake_timing(calls, *args, **kwargs):
        timed.append(sorted(calls))
        return {name: fake[name] for name in calls}
    monkeypatch.setattr(choice, "time_backends", fake_timing)
    gm = _model()
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        want = gm(x)
        fast = linkc.optimize(gm, backend="auto")
        assert fast.backend == "auto"  # chosen at the first call
        got = fast(x)
    assert timed == [sorted(installed)]
    assert fast.backend == installed[-1] and fast.choice["source"] == "timed"
    torch.testing.assert_close(got, want, atol=FP32_ATOL, rtol=0)
    cached = json.loads(choice.cache_path().read_text())
    assert [e["backend"] for e in cached.values()] == [installed[-1]]
    assert str(choice.cache_path()).startswith(str(tmp_path))

    # a second optimize of the same graph at the same batch reads the cache: no timing
    def no_timing(*args, **kwargs):
        raise AssertionError("timed again")
    monkeypatch.setattr(choice, "time_backends", no_timing)
    again = linkc.optimize(_model(), backend="auto")
    with torch.no_grad():
        again(x)
    assert again.backend == installed[-1] and again.choice["source"] == "cached"
    # another batch is another key: timed anew
    monkeypatch.setattr(choice, "time_backends", fake_timing)
    other = linkc.optimize(_model(), backend="auto")
    with torch.no_grad():
        other(torch.randn(2, 3, 8, 8))
    assert len(timed) == 2 and len(json.loads(choice.cache_path().read_text())) == 2


@pytest.mark.slow
def test_auto_in_training_is_inductor_untimed(monkeypatch):
    monkeypatch.setattr(choice, "time_backends", lambda *a, **k: pytest.fail("timed"))
    gm = linkc.compile(SPEC, passes=default_passes("train"), mode="train")
    fast = linkc.optimize(gm, mode="train", backend="auto")
    fast(torch.randn(4, 3, 8, 8)).sum().backward()
    assert fast.backend == "inductor"
    assert all(p.grad is not None for p in gm.parameters())


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "tensorrt"},
     "unknown backend 'tensorrt': use one of inductor, openvino, onnxruntime, auto"),
    ({"precision": "fp16"}, "unknown precision 'fp16': use one of fp32, bf16"),
    ({"backend": "openvino", "mode": "train"},
     ("backend 'openvino' runs inference only: use mode='infer', or backend='inductor' to "
      "train")),
    ({"backend": "onnxruntime", "precision": "bf16"},
     ("backend 'onnxruntime' runs fp32 only: use precision='fp32', or backend 'openvino' or "
      "'inductor' for bf16")),
])
def test_what_cannot_run_is_a_user_error(kwargs, message):
    with pytest.raises(BackendError) as err:
        linkc.optimize(_model(), **kwargs)
    assert str(err.value) == message and isinstance(err.value, UserError)


def test_an_unknown_backend_on_the_command_line_is_exit_2(capsys):
    spec = Path(__file__).resolve().parents[2] / "specs" / "resnet_20.yaml"
    assert main(["bench", str(spec), "--backend", "inductor,tensorrt", "--batch", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "unknown backend 'tensorrt': use one of inductor, openvino, onnxruntime, auto")
