"""Activations: elementwise functions of one tensor."""

from __future__ import annotations


from pydantic import Field, PositiveFloat

from .registry import OPS, Args, Lowering, NoArgs, OpDef


def _activation(name: str, target: str, doc: str, args: type[Args] = NoArgs,
                kwargs=lambda s, a: {}, traits=frozenset({"elementwise", "fresh"}), returns_input=None) -> None:
    OPS.add(OpDef(name, args, lambda s, a: s, Lowering(target, kwargs), doc, traits, returns_input=returns_input))


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
            returns_input=lambda s, a: True,
            traits=frozenset({"elementwise"}))  # the input itself: not fresh
