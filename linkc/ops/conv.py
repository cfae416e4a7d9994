"""Convolution and the fully connected layer: the weighted ops."""

from __future__ import annotations


from pydantic import Field, PositiveInt

from .geometry import PADDING_DOC, OptionalPadding, resolve_padding, spatial, window
from .registry import OPS, Args, Inverse, Lowering, OpDef, Shape, ShapeError


class ConvArgs(Args):
    out: PositiveInt = Field(description="output channels")
    k: PositiveInt = Field(3, description="kernel size")
    stride: PositiveInt = Field(1, description="stride")
    groups: PositiveInt = Field(1, description="groups (channels of input and output divisible)")
    dilation: PositiveInt = Field(1, description="dilation")
    bias: bool = Field(False, description="add a learnable bias (off: a BN usually follows)")
    padding: OptionalPadding = Field(None, description=PADDING_DOC + "; default dilation*(k-1)//2")


def _conv_pad(a: ConvArgs) -> int:
    return resolve_padding(a.padding, a.k, a.dilation, "conv")


def _conv_shape(shape: Shape, a: ConvArgs) -> Shape:
    c, h, w = spatial(shape, "conv")
    for what, n in (("input", c), ("output", a.out)):
        if n % a.groups:
            raise ShapeError(f"conv groups={a.groups} does not divide the {what} channels ({n})",
                             "choose groups that divide both input and output channels")
    pad = _conv_pad(a)
    return (a.out, *(window(s, a.k, a.stride, pad, a.dilation, "conv") for s in (h, w)))


OPS.add(OpDef(
    "conv", ConvArgs, _conv_shape,
    Lowering("torch.nn:Conv2d", lambda s, a: dict(
        in_channels=s[0], out_channels=a.out, kernel_size=a.k, stride=a.stride,
        padding=_conv_pad(a), dilation=a.dilation, groups=a.groups, bias=a.bias)),
    "2-D convolution", frozenset({"params", "fresh"}),
    params=lambda s, a: a.out * (s[0] // a.groups) * a.k * a.k + (a.out if a.bias else 0),
    imports=(Inverse("torch.nn:Conv2d", {"out": "out_channels", "k": "kernel_size",
                                         "stride": "stride", "groups": "groups",
                                         "dilation": "dilation", "bias": "bias",
                                         "padding": "padding"}, {"padding_mode": "zeros"}),
             # a Linear over the channels of a channels-last map (timm's ConvNeXt MLP)
             Inverse("torch.nn:Linear", {"out": "out_features", "bias": "bias"},
                     sets={"k": 1}))))

class LinearArgs(Args):
    out: PositiveInt = Field(description="output features")
    bias: bool = Field(True, description="add a learnable bias")


def _linear_shape(shape: Shape, a: LinearArgs) -> Shape:
    if len(shape) != 1:
        raise ShapeError(f"linear needs a flat (F,) input, got shape {list(shape)}",
                         "put gap or flatten before linear")
    return (a.out,)


OPS.add(OpDef("linear", LinearArgs, _linear_shape,
              Lowering("torch.nn:Linear", lambda s, a: dict(
                  in_features=s[0], out_features=a.out, bias=a.bias)),
              "fully connected layer", frozenset({"params", "fresh"}),
              params=lambda s, a: s[0] * a.out + (a.out if a.bias else 0),
              imports=(Inverse("torch.nn:Linear", {"out": "out_features", "bias": "bias"}),)))
