"""The op registry: every primitive op, declared once.

Shapes are per sample and channels first: `(C, H, W)` for feature maps, `(F,)`
for vectors. To add an op: write its `Args` model, a shape rule, and one
`OPS.add(OpDef(...))` entry naming the torch module that implements it.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, NonNegativeInt, PositiveInt

from .registry import Args, Lowering, NoArgs, OpDef, Registry, Shape, ShapeError

OPS = Registry("op")


def _spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{op} needs a (C, H, W) feature map, got shape {list(shape)}",
                         "spatial ops cannot follow gap/flatten/linear")
    return shape  # type: ignore[return-value]


def _window(size: int, k: int, stride: int, pad: int, dilation: int, op: str) -> int:
    out = (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    if out < 1:
        raise ShapeError(f"{op} shrinks the spatial size {size} to {out}",
                         "use a smaller kernel or stride, or a larger input")
    return out


def _same_pad(k: int, dilation: int = 1) -> int:
    # "same" for odd kernels; for even kernels (e.g. a strided 4x4) this is the
    # usual choice that halves an even size exactly at stride 2.
    return dilation * (k - 1) // 2


# ---------------------------------------------------------------- convolution
class ConvArgs(Args):
    out: PositiveInt = Field(description="output channels")
    k: PositiveInt = Field(3, description="kernel size")
    stride: PositiveInt = Field(1, description="stride")
    groups: PositiveInt = Field(1, description="groups (channels of input and output divisible)")
    dilation: PositiveInt = Field(1, description="dilation")
    bias: bool = Field(False, description="add a learnable bias (off: a BN usually follows)")
    padding: Optional[NonNegativeInt] = Field(None, description="zero padding; default 'same'")


def _conv_pad(a: ConvArgs) -> int:
    return _same_pad(a.k, a.dilation) if a.padding is None else a.padding


def _conv_shape(shape: Shape, a: ConvArgs) -> Shape:
    c, h, w = _spatial(shape, "conv")
    for what, n in (("input", c), ("output", a.out)):
        if n % a.groups:
            raise ShapeError(f"conv groups={a.groups} does not divide the {what} channels ({n})",
                             "choose groups that divide both input and output channels")
    pad = _conv_pad(a)
    return (a.out, *(_window(s, a.k, a.stride, pad, a.dilation, "conv") for s in (h, w)))


OPS.add(OpDef(
    "conv", ConvArgs, _conv_shape,
    Lowering("torch.nn:Conv2d", lambda s, a: dict(
        in_channels=s[0], out_channels=a.out, kernel_size=a.k, stride=a.stride,
        padding=_conv_pad(a), dilation=a.dilation, groups=a.groups, bias=a.bias)),
    "2-D convolution", frozenset({"conv", "params"}),
    params=lambda s, a: a.out * (s[0] // a.groups) * a.k * a.k + (a.out if a.bias else 0)))


# -------------------------------------------------------------- normalisation
class BNArgs(Args):
    eps: float = Field(1e-5, gt=0, description="added to the variance")
    momentum: float = Field(0.1, gt=0, le=1, description="running-statistics momentum")


OPS.add(OpDef(
    "bn", BNArgs, lambda s, a: s,
    Lowering("linkc.compiler.modules:BatchNorm", lambda s, a: dict(
        num_features=s[0], eps=a.eps, momentum=a.momentum, rank=len(s))),
    "batch normalisation over channels", frozenset({"norm", "params", "shape_preserving"}),
    params=lambda s, a: 2 * s[0]))


# ----------------------------------------------------------------- activations
def _activation(name: str, target: str, doc: str) -> None:
    OPS.add(OpDef(name, NoArgs, lambda s, a: s, Lowering(target), doc,
                  frozenset({"elementwise", "shape_preserving"})))


_activation("relu", "torch.nn:ReLU", "max(x, 0)")
_activation("sigmoid", "torch.nn:Sigmoid", "logistic function (e.g. squeeze-and-excitation gates)")
_activation("gelu", "torch.nn:GELU", "Gaussian error linear unit")
_activation("silu", "torch.nn:SiLU", "x * sigmoid(x)")
_activation("tanh", "torch.nn:Tanh", "hyperbolic tangent")
_activation("identity", "torch.nn:Identity", "returns its input")


# --------------------------------------------------------------------- pooling
class PoolArgs(Args):
    k: PositiveInt = Field(description="window size")
    stride: Optional[PositiveInt] = Field(None, description="stride; default = k")
    padding: NonNegativeInt = Field(0, description="zero padding")


def _pool_shape(op: str):
    def infer(shape: Shape, a: PoolArgs) -> Shape:
        c, h, w = _spatial(shape, op)
        if a.padding * 2 > a.k:
            raise ShapeError(f"{op} padding {a.padding} is more than half the window {a.k}")
        stride = a.stride or a.k
        return (c, *(_window(s, a.k, stride, a.padding, 1, op) for s in (h, w)))
    return infer


def _pool_kwargs(s: Shape, a: PoolArgs) -> dict:
    return dict(kernel_size=a.k, stride=a.stride or a.k, padding=a.padding)


OPS.add(OpDef("maxpool", PoolArgs, _pool_shape("maxpool"),
              Lowering("torch.nn:MaxPool2d", _pool_kwargs), "max pooling",
              frozenset({"pool"})))
OPS.add(OpDef("avgpool", PoolArgs, _pool_shape("avgpool"),
              Lowering("torch.nn:AvgPool2d", _pool_kwargs), "average pooling",
              frozenset({"pool"})))


def _gap_shape(shape: Shape, a: NoArgs) -> Shape:
    return (_spatial(shape, "gap")[0],)


OPS.add(OpDef("gap", NoArgs, _gap_shape, Lowering("linkc.compiler.modules:GlobalAvgPool"),
              "global average pooling: (C, H, W) -> (C,)", frozenset({"pool"})))


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
              "fully connected layer", frozenset({"params"}),
              params=lambda s, a: s[0] * a.out + (a.out if a.bias else 0)))


class DropoutArgs(Args):
    p: float = Field(0.5, ge=0, lt=1, description="drop probability")


OPS.add(OpDef("dropout", DropoutArgs, lambda s, a: s,
              Lowering("torch.nn:Dropout", lambda s, a: dict(p=a.p)),
              "dropout (training only)", frozenset({"shape_preserving"})))
