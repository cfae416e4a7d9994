"""Ops that act only in training: dropout and stochastic depth."""

from __future__ import annotations


from pydantic import Field, NonNegativeFloat

from .registry import OPS, Args, Lowering, OpDef


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
