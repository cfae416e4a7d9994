"""MACs of the resampling ops: a transposed convolution counts each input pixel's
k*k scatter into C_out/groups channels; resizing, normalisation, shuffling and
adaptive pooling are not multiply-accumulates of a layer (see linkc/analyze/macs.py)."""

from __future__ import annotations

from linkc.analyze.macs import count_macs
from linkc.analyze.params import lower_meta
from linkc.frontend import build


def macs(ops: str, shape: str = "[8, 5, 5]") -> int:
    g = build(f"linkc: 1\nname: t\ninput: {shape}\nnodes:\n  a: {{from: input, ops: [{ops}]}}\n"
              "output: a\n")
    return count_macs(g, lower_meta(g))[0]


def test_conv_transpose_counts_input_pixels_times_kernel_times_output_group():
    assert macs("{conv_transpose: {out: 6, k: 3, stride: 2, groups: 2}}") == 8 * 3 * 9 * 5 * 5
    assert macs("{conv_transpose: 4}") == 8 * 4 * 4 * 5 * 5


def test_resampling_and_norms_add_no_macs():
    ops = ("{upsample: {scale: 2, mode: bilinear}}, {groupnorm: 2}, layernorm, relu6, hardswish, "
           "{channel_shuffle: 2}, {adaptive_avgpool: 2}, {drop_path: 0.1}")
    assert macs(ops) == 0
    assert macs("{upsample: 2}, {conv: {out: 4, k: 1}}") == 8 * 4 * 10 * 10
