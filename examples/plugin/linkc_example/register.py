"""The entries of the example plugin, declared exactly as linkc declares its own.

This module is what the entry point names: importing it registers the entries.
It imports no torch (so `linkc check` stays light); the modules it lowers to are
named as strings and imported by linkc only when it builds a model.
"""

from pydantic import Field, PositiveInt

from linkc.extend import (Args, Lowering, MergeDef, OpDef, ShapeError, register_merge,
                          register_op)

_M = "linkc_example.modules:"


# ------------------------------------------------- sepconv: depthwise + pointwise
class SepConvArgs(Args):
    out: PositiveInt = Field(description="output channels")
    k: PositiveInt = Field(3, description="depthwise kernel size (odd)")
    stride: PositiveInt = Field(1, description="depthwise stride")


def _sepconv_shape(shape, a: SepConvArgs):
    if len(shape) != 3:
        raise ShapeError(f"sepconv needs a (C, H, W) feature map, got shape {list(shape)}",
                         "spatial ops cannot follow gap/flatten/linear")
    if a.k % 2 == 0:
        raise ShapeError(f"sepconv needs an odd kernel, got k={a.k}", "use k=3 or k=5")
    c, h, w = shape
    return (a.out, *((s - 1) // a.stride + 1 for s in (h, w)))  # padding k // 2


register_op(OpDef(
    "sepconv", SepConvArgs, _sepconv_shape,
    Lowering(_M + "SeparableConv2d", lambda s, a: dict(
        in_channels=s[0], out_channels=a.out, kernel_size=a.k, stride=a.stride)),
    "depthwise-separable convolution: k x k depthwise, then 1x1 pointwise (no biases)",
    frozenset({"params"}),
    params=lambda s, a: s[0] * a.k * a.k + s[0] * a.out))


# --------------------------------------------------------- softclip: elementwise
class SoftClipArgs(Args):
    limit: float = Field(3.0, gt=0, description="the bound: outputs lie in (-limit, limit)")


register_op(OpDef(
    "softclip", SoftClipArgs, lambda s, a: s,
    Lowering(_M + "SoftClip", lambda s, a: dict(limit=a.limit)),
    "limit * tanh(x / limit): a smooth clip to (-limit, limit)", frozenset({"elementwise"})))


# ------------------------------------------------ fastfuse: EfficientDet's fusion
def _fastfuse_shape(inputs, options):
    first = inputs[0]
    for x in inputs[1:]:
        if x.shape != first.shape:
            raise ShapeError(f"fastfuse needs equal shapes: '{first.label}' {list(first.shape)} "
                             f"and '{x.label}' {list(x.shape)} ({x.origin})",
                             "resize or project the inputs to one shape first")
    return first.shape


register_merge(MergeDef(
    "fastfuse", _fastfuse_shape,
    Lowering(_M + "FastFusion", lambda shapes, options: dict(inputs=len(shapes))),
    "ff", "fast normalised fusion: sum_i w_i x_i / (eps + sum_j w_j), w = relu(v) learnable "
    "(EfficientDet)",
    params=True, count_params=lambda shapes: len(shapes)))
