"""The op registry: every primitive op, declared once.

Shapes are per sample and channels first: `(C, H, W)` for feature maps, `(F,)`
for vectors. To add an op: write its `Args` model, a shape rule, and one
`OPS.add(OpDef(...))` entry naming the torch module that implements it, with the
traits (registry.TRAITS) the passes read.
Ops that resample or reorder (upsample, conv_transpose, adaptive pools,
channel_shuffle) are declared in ops_resample.py, into this same table; window
arithmetic and the padding words are in geometry.py.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from .geometry import PADDING_DOC, OptionalPadding, Padding, resolve_padding, spatial, window
from .registry import Args, Lowering, NoArgs, OpDef, Registry, Shape, ShapeError

OPS = Registry("op")


# ---------------------------------------------------------------- convolution
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
    params=lambda s, a: a.out * (s[0] // a.groups) * a.k * a.k + (a.out if a.bias else 0)))


# -------------------------------------------------------------- normalisation
class BNArgs(Args):
    eps: float = Field(1e-5, gt=0, description="added to the variance")
    momentum: float = Field(0.1, gt=0, le=1, description="running-statistics momentum")


OPS.add(OpDef(
    "bn", BNArgs, lambda s, a: s,
    Lowering("linkc.compiler.modules:BatchNorm", lambda s, a: dict(
        num_features=s[0], eps=a.eps, momentum=a.momentum, rank=len(s))),
    "batch normalisation over channels", frozenset({"norm", "params", "fresh"}),
    params=lambda s, a: 2 * s[0]))


class GroupNormArgs(Args):
    groups: PositiveInt = Field(description="channel groups, each normalised on its own")
    eps: float = Field(1e-5, gt=0, lt=1, description="added to the variance")
    affine: bool = Field(True, description="learnable per-channel scale and shift")


def _groupnorm_shape(shape: Shape, a: GroupNormArgs) -> Shape:
    if len(shape) < 2:
        raise ShapeError(f"groupnorm needs a (C, H, W) feature map, got shape {list(shape)}",
                         "normalise vectors with layernorm")
    if shape[0] % a.groups:
        raise ShapeError(f"groupnorm groups={a.groups} does not divide the channels ({shape[0]})",
                         "choose groups that divide the channel count")
    return shape


OPS.add(OpDef(
    "groupnorm", GroupNormArgs, _groupnorm_shape,
    Lowering("torch.nn:GroupNorm", lambda s, a: dict(
        num_groups=a.groups, num_channels=s[0], eps=a.eps, affine=a.affine)),
    "group normalisation (batch-independent)", frozenset({"norm", "params", "fresh"}),
    params=lambda s, a: 2 * s[0] if a.affine else 0))


class LayerNormArgs(Args):
    # lt=1: `{layernorm: 64}` (torch's LayerNorm(64)) must not silently become eps=64
    eps: float = Field(1e-5, gt=0, lt=1, description="added to the variance")
    affine: bool = Field(True, description="learnable per-channel scale and shift")


OPS.add(OpDef(
    "layernorm", LayerNormArgs, lambda s, a: s,
    Lowering("linkc.compiler.modules:ChannelLayerNorm", lambda s, a: dict(
        normalized_shape=s[0], eps=a.eps, elementwise_affine=a.affine)),
    "layer normalisation over the channels at each position",
    frozenset({"norm", "params", "fresh"}),
    params=lambda s, a: 2 * s[0] if a.affine else 0))


# ----------------------------------------------------------------- activations
def _activation(name: str, target: str, doc: str, args: type[Args] = NoArgs,
                kwargs=lambda s, a: {}, traits=frozenset({"elementwise", "fresh"})) -> None:
    OPS.add(OpDef(name, args, lambda s, a: s, Lowering(target, kwargs), doc, traits))


class LeakyArgs(Args):
    slope: float = Field(0.01, allow_inf_nan=False, description="slope for negative inputs")


class EluArgs(Args):
    alpha: PositiveFloat = Field(1.0, allow_inf_nan=False, description="alpha * (exp(x) - 1) for negative inputs")


_activation("relu", "torch.nn:ReLU", "max(x, 0)")
_activation("relu6", "torch.nn:ReLU6", "min(max(x, 0), 6) (MobileNet)")
_activation("leaky_relu", "torch.nn:LeakyReLU", "x for x >= 0, slope * x below", LeakyArgs,
            lambda s, a: dict(negative_slope=a.slope))
_activation("elu", "torch.nn:ELU", "x for x > 0, alpha * (exp(x) - 1) below", EluArgs,
            lambda s, a: dict(alpha=a.alpha))
_activation("sigmoid", "torch.nn:Sigmoid", "logistic function (e.g. squeeze-and-excitation gates)")
_activation("hardsigmoid", "torch.nn:Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3 gates)")
_activation("gelu", "torch.nn:GELU", "Gaussian error linear unit")
_activation("silu", "torch.nn:SiLU", "x * sigmoid(x)")
_activation("hardswish", "torch.nn:Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)")
_activation("tanh", "torch.nn:Tanh", "hyperbolic tangent")
_activation("identity", "torch.nn:Identity", "returns its input",
            traits=frozenset({"elementwise"}))  # the input itself: not fresh


# --------------------------------------------------------------------- pooling
class PoolArgs(Args):
    k: PositiveInt = Field(description="window size")
    stride: Optional[PositiveInt] = Field(None, description="stride; default = k")
    padding: Padding = Field(0, description=PADDING_DOC)
    ceil_mode: bool = Field(False, description="round the output size up (a last partial window)")


class AvgPoolArgs(PoolArgs):
    count_include_pad: bool = Field(True, description="padded zeros count in the average")


def _pool_shape(op: str):
    def infer(shape: Shape, a: PoolArgs) -> Shape:
        c, h, w = spatial(shape, op)
        pad = resolve_padding(a.padding, a.k, 1, op)
        if pad * 2 > a.k:
            raise ShapeError(f"{op} padding {pad} is more than half the window {a.k}",
                             "torch pads a pool by at most k//2 on each side")
        stride = a.stride or a.k
        return (c, *(window(s, a.k, stride, pad, 1, op, a.ceil_mode) for s in (h, w)))
    return infer


def _pool_kwargs(op: str):
    def kwargs(s: Shape, a: PoolArgs) -> dict:
        out = dict(kernel_size=a.k, stride=a.stride or a.k,
                   padding=resolve_padding(a.padding, a.k, 1, op), ceil_mode=a.ceil_mode)
        if isinstance(a, AvgPoolArgs):
            out["count_include_pad"] = a.count_include_pad
        return out
    return kwargs


OPS.add(OpDef("maxpool", PoolArgs, _pool_shape("maxpool"),
              Lowering("torch.nn:MaxPool2d", _pool_kwargs("maxpool")), "max pooling",
              frozenset({"fresh"})))
OPS.add(OpDef("avgpool", AvgPoolArgs, _pool_shape("avgpool"),
              Lowering("torch.nn:AvgPool2d", _pool_kwargs("avgpool")), "average pooling",
              frozenset({"fresh"})))


def _gap_shape(shape: Shape, a: NoArgs) -> Shape:
    return (spatial(shape, "gap")[0],)


OPS.add(OpDef("gap", NoArgs, _gap_shape, Lowering("linkc.compiler.modules:GlobalAvgPool"),
              "global average pooling: (C, H, W) -> (C,)", frozenset({"fresh"})))


def _flatten_shape(shape: Shape, a: NoArgs) -> Shape:
    size = 1
    for d in shape:
        size *= d
    return (size,)


OPS.add(OpDef("flatten", NoArgs, _flatten_shape,
              Lowering("torch.nn:Flatten"), "(C, H, W) -> (C*H*W,)"))


# ---------------------------------------------------------------------- dense
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
              params=lambda s, a: s[0] * a.out + (a.out if a.bias else 0)))


class DropoutArgs(Args):
    p: float = Field(0.5, ge=0, lt=1, description="drop probability")


OPS.add(OpDef("dropout", DropoutArgs, lambda s, a: s,
              Lowering("torch.nn:Dropout", lambda s, a: dict(p=a.p)),
              "dropout (training only)"))


class DropPathArgs(Args):
    p: NonNegativeFloat = Field(lt=1, description="probability of dropping a sample's branch")


OPS.add(OpDef("drop_path", DropPathArgs, lambda s, a: s,
              Lowering("linkc.compiler.modules:DropPath", lambda s, a: dict(p=a.p)),
              "stochastic depth: drops the whole input of a sample with probability p and "
              "scales the kept ones by 1/(1-p) (training only)"))

from . import ops_resample  # noqa: E402,F401 - registers upsample, conv_transpose, ...
