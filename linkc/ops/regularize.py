"""Ops that act only in training: dropout and stochastic depth."""

from __future__ import annotations


from pydantic import Field, NonNegativeFloat

from .registry import OPS, Args, Inverse, Lowering, OpDef


class DropoutArgs(Args):
    p: float = Field(0.5, ge=0, lt=1, description="drop probability")


OPS.add(OpDef("dropout", DropoutArgs, lambda s, a: s,
              Lowering("torch.nn:Dropout", lambda s, a: dict(p=a.p)),
              "dropout (training only)", frozenset({"random"}),
              imports=tuple(Inverse(t, {"p": "p"}) for t in ("torch.nn:Dropout",
                                                              "torch.nn.functional:dropout"))))


class DropPathArgs(Args):
    p: NonNegativeFloat = Field(lt=1, description="probability of dropping a sample's branch")


OPS.add(OpDef("drop_path", DropPathArgs, lambda s, a: s,
              Lowering("linkc.compiler.modules:DropPath", lambda s, a: dict(p=a.p)),
              "stochastic depth: drops the whole input of a sample with probability p and "
              "scales the kept ones by 1/(1-p) (training only)", frozenset({"random"}),
              # timm's DropPath and torchvision's StochasticDepth (mode "row") by class
              # name: the importer checks in training that they draw and scale as this does
              imports=(Inverse("linkc.compiler.modules:DropPath", {"p": "p"}),
                       Inverse("DropPath", {"p": "drop_prob"}),
                       Inverse("StochasticDepth", {"p": "p"}, {"mode": "row"}))))
