"""Ops that change the spatial size or reorder channels: upsample, conv_transpose,
adaptive pools, channel_shuffle. Registered into the one op table of ops.py."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from .geometry import PadWord, pair, spatial
from .registry import OPS, Args, Inverse, Lowering, OpDef, Shape, ShapeError

Size = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]


# ------------------------------------------------------------------- upsample
class UpsampleArgs(Args):
    scale: Optional[PositiveFloat] = Field(None, allow_inf_nan=False,
                                           description="size factor (or give size)")
    mode: Literal["nearest", "bilinear"] = Field("nearest", description="nearest | bilinear")
    size: Optional[Size] = Field(None, description="target size: h or [h, w] (or give scale)")
    align_corners: bool = Field(False, description="bilinear only: corner pixels aligned")


def _upsample_shape(shape: Shape, a: UpsampleArgs) -> Shape:
    c, h, w = spatial(shape, "upsample")
    if (a.scale is None) == (a.size is None):
        raise ShapeError("upsample takes either scale or size (exactly one)",
                         "e.g. {upsample: 2} or {upsample: {size: [64, 64]}}")
    if a.align_corners and a.mode != "bilinear":
        raise ShapeError("upsample align_corners applies to mode 'bilinear' only")
    if a.size is not None:
        return (c, *pair(a.size))
    if h * a.scale > 1e15 or w * a.scale > 1e15:  # float overflow long before this
        raise ShapeError(f"upsample scale {a.scale:g} is far too large")
    out = (int(h * a.scale), int(w * a.scale))  # torch floors size * scale
    if min(out) < 1:
        raise ShapeError(f"upsample scale {a.scale} shrinks the spatial size {h}x{w} to "
                         f"{out[0]}x{out[1]}")
    return (c, *out)


_RESIZE = {"scale": "scale_factor", "mode": "mode", "size": "size",
           "align_corners": "align_corners"}


def _upsample_kwargs(s: Shape, a: UpsampleArgs) -> dict:
    out = dict(mode=a.mode)
    if a.size is not None:
        out["size"] = pair(a.size)
    else:
        out["scale_factor"] = float(a.scale)
    if a.mode == "bilinear":
        out["align_corners"] = a.align_corners
    return out


OPS.add(OpDef("upsample", UpsampleArgs, _upsample_shape,
              Lowering("torch.nn:Upsample", _upsample_kwargs),
              "resize a feature map by a scale factor or to a size (nearest or bilinear)",
              frozenset({"fresh"}),
              imports=(Inverse("torch.nn:Upsample", _RESIZE),
                       Inverse("torch.nn.functional:interpolate", _RESIZE,
                               {"recompute_scale_factor": {None, False}, "antialias": False}),
                       Inverse("torch.nn:UpsamplingNearest2d",
                               {"scale": "scale_factor", "size": "size"}),
                       Inverse("torch.nn:UpsamplingBilinear2d",
                               {"scale": "scale_factor", "size": "size"},
                               sets={"mode": "bilinear", "align_corners": True}))))


# ------------------------------------------------------------- conv_transpose
class ConvTransposeArgs(Args):
    out: PositiveInt = Field(description="output channels")
    k: PositiveInt = Field(2, description="kernel size")
    stride: PositiveInt = Field(2, description="stride: the upsampling factor")
    padding: Union[PadWord, NonNegativeInt] = Field(
        "same", description="'same' (output = size*stride), 'valid' (0) or a number")
    output_padding: NonNegativeInt = Field(0, description="added to one side of the output")
    groups: PositiveInt = Field(1, description="groups (channels of input and output divisible)")
    dilation: PositiveInt = Field(1, description="dilation")
    bias: bool = Field(False, description="add a learnable bias (off: a BN usually follows)")


def _transpose_pads(a: ConvTransposeArgs) -> tuple[int, int]:
    """(padding, output_padding) as torch takes them."""
    if a.padding != "same":
        return (0 if a.padding == "valid" else a.padding), a.output_padding
    if a.output_padding:
        raise ShapeError("conv_transpose output_padding is derived when padding is 'same'",
                         "give padding as a number to set output_padding yourself")
    # (size-1)*stride - 2p + dilation*(k-1) + op + 1 == size*stride  <=>  2p - op == excess
    excess = a.dilation * (a.k - 1) + 1 - a.stride
    if excess < 0:
        raise ShapeError(f"conv_transpose padding 'same' needs a kernel extent of at least the "
                         f"stride, got k={a.k} (dilation {a.dilation}) at stride {a.stride}",
                         "use k >= stride, or give padding and output_padding as numbers")
    pad = (excess + 1) // 2
    return pad, 2 * pad - excess


def _conv_transpose_shape(shape: Shape, a: ConvTransposeArgs) -> Shape:
    c, h, w = spatial(shape, "conv_transpose")
    for what, n in (("input", c), ("output", a.out)):
        if n % a.groups:
            raise ShapeError(f"conv_transpose groups={a.groups} does not divide the {what} "
                             f"channels ({n})", "choose groups that divide both channel counts")
    pad, extra = _transpose_pads(a)
    if extra >= max(a.stride, a.dilation):
        raise ShapeError(f"conv_transpose output_padding {extra} must be smaller than the stride "
                         f"({a.stride}) or the dilation ({a.dilation})")

    def size(n: int) -> int:
        out = (n - 1) * a.stride - 2 * pad + a.dilation * (a.k - 1) + extra + 1
        if out < 1:
            raise ShapeError(f"conv_transpose turns the spatial size {n} into {out}",
                             "use less padding")
        return out
    return (a.out, size(h), size(w))


def _conv_transpose_kwargs(s: Shape, a: ConvTransposeArgs) -> dict:
    pad, extra = _transpose_pads(a)
    return dict(in_channels=s[0], out_channels=a.out, kernel_size=a.k, stride=a.stride,
                padding=pad, output_padding=extra, groups=a.groups, dilation=a.dilation,
                bias=a.bias)


OPS.add(OpDef(
    "conv_transpose", ConvTransposeArgs, _conv_transpose_shape,
    Lowering("torch.nn:ConvTranspose2d", _conv_transpose_kwargs),
    "transposed 2-D convolution (learned upsampling)", frozenset({"params", "fresh"}),
    params=lambda s, a: s[0] * (a.out // a.groups) * a.k * a.k + (a.out if a.bias else 0),
    imports=(Inverse("torch.nn:ConvTranspose2d", {
        "out": "out_channels", "k": "kernel_size", "stride": "stride", "padding": "padding",
        "output_padding": "output_padding", "groups": "groups", "dilation": "dilation",
        "bias": "bias"}, {"padding_mode": "zeros"}),)))


# ------------------------------------------------------------- adaptive pools
class AdaptiveArgs(Args):
    size: Size = Field(description="output size: h or [h, w]")


def _adaptive_shape(op: str):
    def infer(shape: Shape, a: AdaptiveArgs) -> Shape:
        return (spatial(shape, op)[0], *pair(a.size))
    return infer


_SPATIAL_MEAN = {"dim": {(2, 3), (-2, -1), (3, 2), (-1, -2)}, "keepdim": True}
for _name, _target, _what, _function, _also in (
        ("adaptive_avgpool", "AdaptiveAvgPool2d", "average", "adaptive_avg_pool2d",
         # x.mean((2, 3), keepdim=True) is torch's adaptive average pool to 1x1, bit for bit
         tuple(Inverse(t, fixed=_SPATIAL_MEAN, sets={"size": 1})
               for t in ("torch:mean", "torch:Tensor.mean"))),
        ("adaptive_maxpool", "AdaptiveMaxPool2d", "max", "adaptive_max_pool2d", ())):
    OPS.add(OpDef(_name, AdaptiveArgs, _adaptive_shape(_name),
                  Lowering(f"torch.nn:{_target}", lambda s, a: dict(output_size=pair(a.size))),
                  f"{_what} pooling to a fixed output size", frozenset({"fresh"}),
                  imports=(Inverse(f"torch.nn:{_target}", {"size": "output_size"}),
                           Inverse(f"torch.nn.functional:{_function}", {"size": "output_size"},
                                   {"return_indices": False} if _what == "max" else {}),
                           *_also)))


# ------------------------------------------------------------ channel_shuffle
class ShuffleArgs(Args):
    groups: PositiveInt = Field(description="groups whose channels are interleaved")


def _shuffle_shape(shape: Shape, a: ShuffleArgs) -> Shape:
    c = spatial(shape, "channel_shuffle")[0]
    if c % a.groups:
        raise ShapeError(f"channel_shuffle groups={a.groups} does not divide the channels ({c})",
                         "choose groups that divide the channel count")
    return shape


OPS.add(OpDef("channel_shuffle", ShuffleArgs, _shuffle_shape,
              Lowering("torch.nn:ChannelShuffle", lambda s, a: dict(groups=a.groups)),
              "interleave the channels of `groups` groups (ShuffleNet)", frozenset({"fresh"}),
              imports=tuple(Inverse(t, {"groups": "groups"})
                            for t in ("torch.nn:ChannelShuffle", "torch.nn.functional:"
                                      "channel_shuffle", "torch:channel_shuffle"))))
