"""Normalisation ops: batch, group and layer norm."""

from __future__ import annotations


from pydantic import Field, PositiveInt

from .registry import OPS, Args, Inverse, Lowering, OpDef, Shape, ShapeError


class BNArgs(Args):
    eps: float = Field(1e-5, gt=0, description="added to the variance")
    momentum: float = Field(0.1, gt=0, le=1, description="running-statistics momentum")


OPS.add(OpDef(
    "bn", BNArgs, lambda s, a: s,
    Lowering("linkc.compiler.modules:BatchNorm", lambda s, a: dict(
        num_features=s[0], eps=a.eps, momentum=a.momentum, rank=len(s))),
    "batch normalisation over channels", frozenset({"norm", "params", "fresh", "batch"}),
    params=lambda s, a: 2 * s[0],
    imports=tuple(Inverse(f"torch.nn:{cls}", {"eps": "eps", "momentum": "momentum"},
                          {"affine": True, "track_running_stats": True})
                  for cls in ("BatchNorm2d", "BatchNorm1d"))))


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
    params=lambda s, a: 2 * s[0] if a.affine else 0,
    imports=(Inverse("torch.nn:GroupNorm", {"groups": "num_groups", "eps": "eps",
                                            "affine": "affine"}),)))


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
    params=lambda s, a: 2 * s[0] if a.affine else 0,
    # nn.LayerNorm(C) normalises the channels of a vector, of a channels-last map, and in
    # subclasses that permute around it (timm's LayerNorm2d)
    imports=tuple(Inverse(t, {"eps": "eps", "affine": "elementwise_affine"})
                  for t in ("linkc.compiler.modules:ChannelLayerNorm", "torch.nn:LayerNorm"))))
