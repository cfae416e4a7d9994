"""Pooling and flattening: windows, the global average, (C, H, W) -> (F,)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveInt

from .geometry import PADDING_DOC, Padding, resolve_padding, spatial, window
from .registry import OPS, Args, Inverse, Lowering, NoArgs, OpDef, Shape, ShapeError


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


def _returns_input(op: str):
    def returns_input(shape: Shape, a: PoolArgs) -> bool:
        # one pixel per window and every pixel once: a copy (ceil_mode adds no window)
        return a.k == 1 and (a.stride or a.k) == 1 \
            and resolve_padding(a.padding, a.k, 1, op) == 0
    return returns_input


def _pool_kwargs(op: str):
    def kwargs(s: Shape, a: PoolArgs) -> dict:
        out = dict(kernel_size=a.k, stride=a.stride or a.k,
                   padding=resolve_padding(a.padding, a.k, 1, op), ceil_mode=a.ceil_mode)
        if isinstance(a, AvgPoolArgs):
            out["count_include_pad"] = a.count_include_pad
        return out
    return kwargs


_WINDOW = {"k": "kernel_size", "stride": "stride", "padding": "padding",
           "ceil_mode": "ceil_mode"}
OPS.add(OpDef("maxpool", PoolArgs, _pool_shape("maxpool"),
              Lowering("torch.nn:MaxPool2d", _pool_kwargs("maxpool")), "max pooling",
              frozenset({"fresh"}), returns_input=_returns_input("maxpool"),
              imports=tuple(Inverse(t, _WINDOW, {"dilation": {1, (1, 1)},
                                                 "return_indices": False})
                            for t in ("torch.nn:MaxPool2d", "torch.nn.functional:max_pool2d"))))
OPS.add(OpDef("avgpool", AvgPoolArgs, _pool_shape("avgpool"),
              Lowering("torch.nn:AvgPool2d", _pool_kwargs("avgpool")), "average pooling",
              frozenset({"fresh"}), returns_input=_returns_input("avgpool"),
              imports=tuple(Inverse(t, {**_WINDOW, "count_include_pad": "count_include_pad"},
                                    {"divisor_override": None})
                            for t in ("torch.nn:AvgPool2d", "torch.nn.functional:avg_pool2d"))))

#: x.mean((2, 3)) spelled as a function or a method
_SPATIAL_MEAN = {"dim": {(2, 3), (-2, -1), (3, 2), (-1, -2)}}


def _gap_shape(shape: Shape, a: NoArgs) -> Shape:
    return (spatial(shape, "gap")[0],)


OPS.add(OpDef("gap", NoArgs, _gap_shape, Lowering("linkc.compiler.modules:GlobalAvgPool"),
              "global average pooling: (C, H, W) -> (C,)", frozenset({"fresh"}),
              imports=(Inverse("linkc.compiler.modules:GlobalAvgPool"),
                       *(Inverse(t, fixed={**_SPATIAL_MEAN, "keepdim": False})
                         for t in ("torch:mean", "torch:Tensor.mean")))))


def _flatten_shape(shape: Shape, a: NoArgs) -> Shape:
    size = 1
    for d in shape:
        size *= d
    return (size,)


OPS.add(OpDef("flatten", NoArgs, _flatten_shape,
              Lowering("torch.nn:Flatten"), "(C, H, W) -> (C*H*W,)",
              imports=tuple(Inverse(t, fixed={"start_dim": 1, "end_dim": -1})
                            for t in ("torch.nn:Flatten", "torch:flatten",
                                      "torch:Tensor.flatten"))))
