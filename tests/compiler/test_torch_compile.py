"""The torch.compile stage: zero graph breaks on every zoo spec, with the default passes.

torch._dynamo.explain traces the module (no inductor code generation). Tracing costs
about 0.05 s of CPU per fx node on the 2-core machine (DenseNet-BC-100, ~400 nodes:
~20 s per mode, measured), so the specs of at most 100 fx nodes (TRACED_EVERY_RUN,
listed rather than built at collection) run in every test run and the larger ones are
marked `zoo`: the whole-zoo sweep takes longer
than CI's budget and runs with `python -m pytest -m zoo` (results in
benchmarks/RESULTS.md). Every spec in specs/ is a test case.
"""

from pathlib import Path

import pytest
import torch

import linkc
from linkc.compiler.passes import default_passes
from linkc.compiler.emit.torch_compile import graph_breaks

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


TRACED_EVERY_RUN = {"a41_20_recur", "a42_20_recur", "digits_companion", "digits_resnet",
                    "plain_20_recur", "resnet_18_imagenet", "resnet_20", "resnet_20_recur",
                    "resnet_s_18", "resnet_s_18_recur", "squeezenet_1_1", "unet", "wrn_16_8"}


def _cases():
    for spec in SPECS:
        for mode in ("infer", "train"):
            yield pytest.param(spec, mode, id=f"{spec.stem}-{mode}",
                               marks=[] if spec.stem in TRACED_EVERY_RUN else [pytest.mark.zoo])


@pytest.mark.parametrize("spec,mode", list(_cases()))
def test_no_graph_breaks(spec, mode):
    gm = linkc.compile(spec, passes=default_passes(mode), mode=mode)
    gm.train(mode == "train")
    x = torch.randn(2, *gm.meta["linkc"]["input_shape"])
    count, reasons = graph_breaks(gm, x)
    assert count == 0, f"{spec.name} ({mode}): {reasons}"


def test_graph_breaks_are_counted():
    """The check can fail: a module with an explicit break in its forward is counted."""
    gm = linkc.compile(SPECS[0].parent / "resnet_20.yaml")

    class Breaks(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            y = self.inner(x)
            torch._dynamo.graph_break()
            return y * 2
    count, _ = graph_breaks(Breaks(gm), torch.randn(2, 3, 32, 32))
    assert count >= 1


TINY_DENSE = """linkc: 1
name: tiny-dense
input: [3, 8, 8]
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [8, 1]}, bn, relu, {conv: [4, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}]}
  d1:   {from: stem, repeat: 3, block: layer, connect: dense}
  head: {from: d1, ops: [bn, relu, gap, {linear: 10}]}
output: head
"""


@pytest.mark.slow
def test_the_inference_compile_stage_freezes_weights_and_stays_exact(tmp_path):
    """mode "infer" compiles with inductor's freezing; the outputs equal eager's.

    Frozen means the weights are constants of the generated code (`_frozen_param`) and
    the convolutions are oneDNN's prepacked ones, not graph inputs reordered per call:
    torch.compile's `options={"freezing": True}` alone gives the latter."""
    from torch._inductor.utils import run_and_get_code

    from linkc.compiler.emit.torch_compile import compile_module

    from passes.pass_helpers import randomize_bn_stats  # tests/compiler/passes, also run alone

    spec = tmp_path / "tiny_dense.yaml"
    spec.write_text(TINY_DENSE)
    torch.manual_seed(0)
    gm = linkc.compile(spec, passes=default_passes("infer"), mode="infer")
    randomize_bn_stats(gm)
    gm.eval()
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = gm(x)
        torch._dynamo.reset()
        frozen = compile_module(gm, "infer")
        got, code = run_and_get_code(frozen, x)
    torch._dynamo.reset()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert torch._inductor.config.freezing is False  # set for that compile only
    code = "\n".join(code)
    assert "_frozen_param" in code
    assert code.count("= torch.ops.mkldnn._convolution_pointwise") == 7  # stem, 3 layers x 2
    assert "extern_kernels.convolution" not in code


def test_optimize_is_the_compile_stage_of_each_mode(tmp_path):
    from linkc.compiler.emit.torch_compile import Frozen

    spec = tmp_path / "tiny_dense.yaml"
    spec.write_text(TINY_DENSE)
    gm = linkc.compile(spec, passes=default_passes("infer"), mode="infer").eval()
    stage = linkc.optimize(gm)  # torch.compile is lazy: nothing compiles here
    assert isinstance(stage, Frozen) and stage.compiled._orig_mod is gm
    trained = linkc.optimize(gm, mode="train")
    assert not isinstance(trained, Frozen) and trained._orig_mod is gm
