"""Shape and parameter rules of the ops users reach for first, without torch.

Expected sizes are worked out here from the definitions (torch's documented
formulas), not read from linkc; tests/compiler/test_ops_numeric.py checks the same
shapes against real modules.
"""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError, build
from linkc.ops import OPS


def one(ops: str, shape="[8, 16, 16]"):
    """The output shape and the parameter rule's count of `ops` on one node."""
    g = build(f"linkc: 1\nname: t\ninput: {shape}\nnodes:\n  a: {{from: input, ops: {ops}}}\n"
              "output: a\n")
    node = g.nodes["a"]
    params = sum(c.op.params(c.in_shape, c.args) for c in node.ops if c.op.params)
    return node.shape, params


@pytest.mark.parametrize("op", ["relu6", "hardswish", "hardsigmoid", "elu", "leaky_relu",
                                "{leaky_relu: 0.2}", "{elu: {alpha: 0.5}}", "{drop_path: 0.2}"])
def test_activations_and_drop_path_keep_the_shape_and_have_no_parameters(op):
    assert one(f"[{op}]") == ((8, 16, 16), 0)
    assert one(f"[{op}]", "[5]") == ((5,), 0)


def test_activations_carry_the_elementwise_trait():
    for name in ("relu6", "hardswish", "hardsigmoid", "leaky_relu", "elu"):
        assert "elementwise" in OPS[name].traits
    assert "elementwise" not in OPS["drop_path"].traits  # one draw per sample, not per element
    assert "elementwise" not in OPS["channel_shuffle"].traits


@pytest.mark.parametrize("item, shape", [
    ("{upsample: 2}", (8, 32, 32)),
    ("{upsample: {scale: 1.5, mode: bilinear}}", (8, 24, 24)),  # floor(16 * 1.5)
    ("{upsample: {scale: 0.3}}", (8, 4, 4)),  # floor(4.8)
    ("{upsample: {size: 20}}", (8, 20, 20)),
    ("{upsample: {size: [20, 24], mode: bilinear, align_corners: true}}", (8, 20, 24)),
    ("'upsample(size=[20, 24])'", (8, 20, 24)),
])
def test_upsample(item, shape):
    assert one(f"[{item}]") == (shape, 0)


@pytest.mark.parametrize("item, message", [
    ("{upsample: {scale: 2, size: 4}}", "upsample takes either scale or size (exactly one)"),
    ("{upsample: {mode: nearest}}", "upsample takes either scale or size (exactly one)"),
    ("{upsample: {scale: 2, align_corners: true}}",
     "upsample align_corners applies to mode 'bilinear' only"),
    ("{upsample: {scale: 2, mode: bicubic}}", "upsample argument 'mode'"),
])
def test_upsample_misuse(item, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        one(f"[{item}]")


@pytest.mark.parametrize("item, shape", [
    # out = (H-1)*s - 2p + d(k-1) + output_padding + 1
    ("{conv_transpose: 4}", (4, 32, 32)),  # k=2, s=2, same: p=0
    ("{conv_transpose: [4, 4, 2]}", (4, 32, 32)),  # p=1
    ("{conv_transpose: [4, 3, 2]}", (4, 32, 32)),  # p=1, output_padding=1
    ("{conv_transpose: {out: 4, k: 3, stride: 1}}", (4, 16, 16)),
    ("{conv_transpose: {out: 4, k: 3, stride: 2, padding: valid}}", (4, 33, 33)),
    ("{conv_transpose: {out: 4, k: 3, stride: 2, padding: 1, output_padding: 1}}", (4, 32, 32)),
    ("{conv_transpose: {out: 4, k: 3, stride: 2, dilation: 2, padding: valid}}", (4, 35, 35)),
])
def test_conv_transpose_shapes(item, shape):
    assert one(f"[{item}]")[0] == shape


def test_conv_transpose_parameters():
    # weight (C_in, C_out/groups, k, k), plus a bias when asked
    assert one("[{conv_transpose: {out: 6, k: 3, groups: 2}}]")[1] == 8 * 3 * 9
    assert one("[{conv_transpose: {out: 6, k: 2, bias: true}}]")[1] == 8 * 6 * 4 + 6


@pytest.mark.parametrize("item, message", [
    ("{conv_transpose: {out: 4, k: 1, stride: 2}}", "needs a kernel extent of at least the stride"),
    ("{conv_transpose: {out: 4, output_padding: 1}}", "output_padding is derived"),
    ("{conv_transpose: {out: 4, k: 3, padding: 0, output_padding: 2}}",
     "output_padding 2 must be smaller than the stride"),
    ("{conv_transpose: {out: 6, groups: 3}}", "groups=3 does not divide the input channels"),
])
def test_conv_transpose_misuse(item, message):
    with pytest.raises(SpecError, match=message):
        one(f"[{item}]")


@pytest.mark.parametrize("item, shape", [
    ("{maxpool: 2}", (8, 8, 8)),
    ("{maxpool: {k: 3, stride: 2}}", (8, 7, 7)),
    ("{maxpool: {k: 3, stride: 2, ceil_mode: true}}", (8, 8, 8)),  # ceil(13/2)+1 = 8
    ("{maxpool: {k: 3, stride: 2, padding: 1, ceil_mode: true}}", (8, 9, 9)),  # ceil(15/2)+1
    ("{maxpool: {k: 3, stride: 1, padding: same}}", (8, 16, 16)),
    ("{maxpool: {k: 3, stride: 2, padding: same}}", (8, 8, 8)),
    ("{avgpool: {k: 3, stride: 2, padding: valid, ceil_mode: true}}", (8, 8, 8)),
    ("{avgpool: {k: 3, stride: 2, padding: 1, count_include_pad: false}}", (8, 8, 8)),
    ("{avgpool: {k: 5, stride: 3, ceil_mode: true}}", (8, 5, 5)),  # ceil(11/3)+1 = 5
])
def test_pools_with_padding_and_ceil_mode(item, shape):
    assert one(f"[{item}]") == (shape, 0)


def test_ceil_mode_matches_torchs_rule_on_odd_sizes():
    # SqueezeNet: 3x3/2 max pools with ceil_mode on 111 -> 55 -> 27 -> 13 (torchvision)
    shape, _ = one("[{maxpool: {k: 3, stride: 2, ceil_mode: true}}, "
                   "{maxpool: {k: 3, stride: 2, ceil_mode: true}}]", "[3, 111, 111]")
    assert shape == (3, 27, 27)
    assert one("[{maxpool: {k: 3, stride: 2, ceil_mode: true}}]", "[3, 54, 54]")[0] == (3, 27, 27)
    # ceil(5/2)+1 = 4 windows, but the 4th would start in the right padding: torch drops it
    pool = "[{maxpool: {k: 3, stride: 2, padding: 1, ceil_mode: true}}]"
    assert one(pool, "[3, 5, 5]")[0] == (3, 3, 3)


def test_pool_padding_same_needs_an_odd_window():
    with pytest.raises(SpecError, match="maxpool padding 'same' needs an odd kernel extent"):
        one("[{maxpool: {k: 2, padding: same}}]")


@pytest.mark.parametrize("item, shape", [
    ("{adaptive_avgpool: 1}", (8, 1, 1)),
    ("{adaptive_avgpool: {size: [3, 5]}}", (8, 3, 5)),
    ("[adaptive_maxpool([2, 7])]", None),
    ("{adaptive_maxpool: 7}", (8, 7, 7)),
    ("{adaptive_avgpool: [[3, 5]]}", (8, 3, 5)),
])
def test_adaptive_pools(item, shape):
    if shape is None:
        assert one(item.replace("[adaptive", "['adaptive").replace(")]", ")']"))[0] == (8, 2, 7)
    else:
        assert one(f"[{item}]") == (shape, 0)


def test_norms_parameters_and_groups():
    assert one("[{groupnorm: 4}]") == ((8, 16, 16), 16)
    assert one("[{groupnorm: {groups: 2, affine: false}}]") == ((8, 16, 16), 0)
    assert one("[layernorm]") == ((8, 16, 16), 16)
    assert one("[layernorm]", "[5]") == ((5,), 10)
    with pytest.raises(SpecError, match=r"groupnorm groups=3 does not divide the channels \(8\)"):
        one("[{groupnorm: 3}]")


def test_channel_shuffle():
    assert one("[{channel_shuffle: 4}]") == ((8, 16, 16), 0)
    with pytest.raises(SpecError, match=r"channel_shuffle groups=3 does not divide the channels"):
        one("[{channel_shuffle: 3}]")


@pytest.mark.parametrize("item, shape", [
    ("{conv: {out: 4, k: 3, padding: same}}", (4, 16, 16)),
    ("{conv: {out: 4, k: 5, stride: 2, padding: same}}", (4, 8, 8)),
    ("{conv: {out: 4, k: 3, stride: 2, padding: same}}", (4, 8, 8)),
    ("{conv: {out: 4, k: 3, dilation: 2, padding: same}}", (4, 16, 16)),
    ("{conv: {out: 4, k: 3, padding: valid}}", (4, 14, 14)),
    ("{conv: {out: 4, k: 4, stride: 2}}", (4, 8, 8)),  # the default still takes even kernels
    ("'conv(4, 3, padding=\"valid\")'", (4, 14, 14)),
])
def test_conv_padding_words(item, shape):
    assert one(f"[{item}]")[0] == shape


def test_a_param_named_like_a_word_does_not_shadow_it():
    g = build("linkc: 1\nname: t\nparams: {same: 2}\ninput: [3, 8, 8]\nnodes:\n"
              "  a: {from: input, ops: [{conv: {out: 4, padding: same}}]}\noutput: a\n")
    assert g.nodes["a"].shape == (4, 8, 8)


def test_padding_expressions_still_evaluate():
    g = build("linkc: 1\nname: t\nparams: {p: 2}\ninput: [3, 8, 8]\nnodes:\n"
              "  a: {from: input, ops: [{conv: {out: 4, k: 3, padding: p - 1}}]}\noutput: a\n")
    assert g.nodes["a"].shape == (4, 8, 8)
