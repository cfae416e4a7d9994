"""Learnable per-channel affine maps: `scale`, the layer scale of ConvNeXt and CaiT."""

from __future__ import annotations

from pydantic import Field

from .registry import OPS, Args, Inverse, Lowering, OpDef


class ScaleArgs(Args):
    init: float = Field(1.0, allow_inf_nan=False,
                        description="initial value of every channel's multiplier "
                                    "(ConvNeXt 1e-6, CaiT 1e-5 to 0.1)")


OPS.add(OpDef(
    "scale", ScaleArgs, lambda s, a: s,
    Lowering("linkc.compiler.modules:ChannelScale", lambda s, a: dict(
        channels=s[0], init=a.init)),
    "a learnable multiplier per channel (layer scale), initialised to `init`",
    frozenset({"params", "fresh", "affine"}),
    params=lambda s, a: s[0],
    # the module, and a learnable per-channel parameter multiplied in a forward
    # (`x * self.gamma.view(1, -1, 1, 1)`, timm's `x.mul(self.gamma)`, `x * self.gamma`)
    imports=(Inverse("linkc.compiler.modules:ChannelScale"),
             *(Inverse(t, form="product") for t in ("_operator:mul", "_operator:imul",
                                                    "torch:mul", "torch:Tensor.mul",
                                                    "torch:Tensor.mul_")))))
