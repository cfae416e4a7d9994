"""The inference compile stage's CPU micro-batches: sized by the last-level cache, equal
to the whole batch's outputs, and never used where an op mixes the samples of a batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import linkc
from linkc.compiler import micro_batch
from linkc.compiler.micro_batch import MicroBatched, chunk_count, splittable
from linkc.compiler.passes import default_passes
from linkc.compiler.torch_compile import Frozen, compile_module
from linkc.extend import Lowering, NoArgs, OpDef, register_op
from linkc.topology.ops import OPS

from passes.pass_helpers import randomize_bn_stats  # tests/compiler/passes, also run alone
from test_torch_compile import TINY_DENSE

MIB = 2**20


@pytest.mark.parametrize("batch, per_sample, cache, chunks", [
    (32, int(3.19 * MIB), 32 * MIB, 4),   # DenseNet-BC-100 on a 32 MiB L3: chunks of 8
    (32, int(0.25 * MIB), 32 * MIB, 1),   # ResNet-110 fits whole
    (30, 3 * MIB, 32 * MIB, 3),           # 90 MiB: three chunks of 10
    (4, 100 * MIB, 32 * MIB, 4),          # never more chunks than samples
    (1, 100 * MIB, 32 * MIB, 1),
    (32, 3 * MIB, None, 1),               # the cache size unknown: the batch whole
])
def test_the_fewest_equal_chunks_that_fit_the_cache(batch, per_sample, cache, chunks):
    assert chunk_count(batch, per_sample, cache) == chunks


def test_the_last_level_cache_is_read_from_sysfs(tmp_path, monkeypatch):
    for index, (level, size) in enumerate([(1, "32K"), (1, "32K"), (2, "1024K"),
                                           (3, "32768K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "size").write_text(f"{size}\n")
    monkeypatch.setattr(micro_batch, "CACHE_DIR", tmp_path)
    micro_batch.last_level_cache_bytes.cache_clear()
    try:
        assert micro_batch.last_level_cache_bytes() == 32 * MIB
        monkeypatch.setattr(micro_batch, "CACHE_DIR", tmp_path / "absent")
        micro_batch.last_level_cache_bytes.cache_clear()
        assert micro_batch.last_level_cache_bytes() is None
    finally:
        micro_batch.last_level_cache_bytes.cache_clear()


class Counting(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module, self.batches = module, []

    def forward(self, *xs):
        self.batches.append(len(xs[0]))
        return self.module(*xs)


def _tiny_dense(tmp_path):
    spec = tmp_path / "tiny_dense.yaml"
    spec.write_text(TINY_DENSE)
    torch.manual_seed(0)
    gm = linkc.compile(spec, passes=default_passes("infer"), mode="infer")
    randomize_bn_stats(gm)
    return gm.eval()


def test_micro_batches_compute_the_whole_batch(tmp_path):
    gm = _tiny_dense(tmp_path)
    per_sample = gm.meta["linkc"]["inference_peak_bytes"]
    assert per_sample > 0
    x = torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    counting = Counting(gm)
    split = MicroBatched(counting, per_sample, cache_bytes=3 * per_sample)
    with torch.no_grad():
        torch.testing.assert_close(split(x), gm(x), rtol=1e-6, atol=1e-6)
    assert counting.batches == [3, 3, 3, 1]  # ceil(10 / 3) = 4 chunks of ceil(10 / 4)


def test_several_outputs_are_concatenated_each():
    class TwoHeads(nn.Module):
        def forward(self, x):
            return x * 2, x.sum(dim=1)

    x = torch.randn(6, 4)
    got = MicroBatched(TwoHeads(), bytes_per_sample=10, cache_bytes=20)(x)
    assert isinstance(got, tuple) and len(got) == 2
    torch.testing.assert_close(got[0], x * 2)
    torch.testing.assert_close(got[1], x.sum(dim=1))


def test_a_batch_that_is_not_on_the_cpu_runs_whole():
    counting = Counting(nn.Identity())
    MicroBatched(counting, bytes_per_sample=10, cache_bytes=10)(torch.empty(8, 3, device="meta"))
    assert counting.batches == [8]


class BatchCentred(nn.Module):
    """A plugin op that subtracts the batch mean, in inference too."""

    def forward(self, x):
        return x - x.mean(dim=0, keepdim=True)


@pytest.fixture
def batch_op():
    register_op(OpDef("batch_centre", NoArgs, lambda s, a: s,
                      Lowering(f"{__name__}:BatchCentred"), "subtracts the batch mean",
                      traits=frozenset({"mixes_samples"})))
    yield
    OPS.remove("batch_centre")


def test_the_compile_stage_splits_only_where_no_op_mixes_samples(tmp_path, batch_op):
    gm = _tiny_dense(tmp_path)
    assert splittable(gm)
    stage = compile_module(gm, "infer")  # torch.compile is lazy: nothing compiles here
    assert isinstance(stage, Frozen) and isinstance(stage.compiled, MicroBatched)
    mixing = linkc.compile(TINY_DENSE.replace("gap, {linear: 10}", "batch_centre, gap, "
                                              "{linear: 10}"), mode="infer").eval()
    assert not splittable(mixing)
    stage = compile_module(mixing, "infer")
    assert isinstance(stage, Frozen) and not isinstance(stage.compiled, MicroBatched)
    assert not isinstance(compile_module(gm, "train"), MicroBatched)  # BN's batch statistics


@pytest.mark.slow
def test_compiled_micro_batches_equal_eager(tmp_path):
    gm = _tiny_dense(tmp_path)
    per_sample = gm.meta["linkc"]["inference_peak_bytes"]
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = gm(x)
        torch._dynamo.reset()
        stage = compile_module(gm, "infer")
        stage.compiled.cache_bytes = 2 * per_sample  # as if the cache held two samples
        got = stage(x)
    torch._dynamo.reset()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
