"""Activations: elementwise functions of one tensor."""

from __future__ import annotations


from pydantic import Field, PositiveFloat

from .registry import OPS, Args, Inverse, Lowering, NoArgs, OpDef


_F = "torch.nn.functional:"


def _spellings(target: str, functions: tuple[str, ...], args: dict | None = None,
               fixed: dict | None = None) -> tuple[Inverse, ...]:
    """The layer and the functional spellings (`F.relu`, `torch.relu`, `x.relu()`) of an
    activation, all reading the same arguments."""
    return tuple(Inverse(t, args or {}, fixed or {}) for t in (target, *functions))


def _activation(name: str, target: str, doc: str, args: type[Args] = NoArgs,
                kwargs=lambda s, a: {}, traits=frozenset({"elementwise", "fresh"}), returns_input=None,
                imports: tuple[Inverse, ...] = ()) -> None:
    OPS.add(OpDef(name, args, lambda s, a: s, Lowering(target, kwargs), doc, traits,
                  returns_input=returns_input, imports=imports))


class LeakyArgs(Args):
    slope: float = Field(0.01, allow_inf_nan=False, description="slope for negative inputs")


class EluArgs(Args):
    alpha: PositiveFloat = Field(1.0, allow_inf_nan=False, description="alpha * (exp(x) - 1) for negative inputs")


_activation("relu", "torch.nn:ReLU", "max(x, 0)",
            imports=_spellings("torch.nn:ReLU", (_F + "relu", _F + "relu_", "torch:relu",
                                                 "torch:relu_", "torch:Tensor.relu",
                                                 "torch:Tensor.relu_")))
_activation("relu6", "torch.nn:ReLU6", "min(max(x, 0), 6) (MobileNet)",
            imports=_spellings("torch.nn:ReLU6", (_F + "relu6",)))
_activation("leaky_relu", "torch.nn:LeakyReLU", "x for x >= 0, slope * x below", LeakyArgs,
            lambda s, a: dict(negative_slope=a.slope),
            imports=_spellings("torch.nn:LeakyReLU", (_F + "leaky_relu",),
                               {"slope": "negative_slope"}))
_activation("elu", "torch.nn:ELU", "x for x > 0, alpha * (exp(x) - 1) below", EluArgs,
            lambda s, a: dict(alpha=a.alpha),
            imports=_spellings("torch.nn:ELU", (_F + "elu",), {"alpha": "alpha"}))
_activation("sigmoid", "torch.nn:Sigmoid", "logistic function (e.g. squeeze-and-excitation gates)",
            imports=_spellings("torch.nn:Sigmoid", (_F + "sigmoid", "torch:sigmoid",
                                                    "torch:sigmoid_", "torch:Tensor.sigmoid",
                                                    "torch:Tensor.sigmoid_")))
_activation("hardsigmoid", "torch.nn:Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3 gates)",
            imports=_spellings("torch.nn:Hardsigmoid", (_F + "hardsigmoid",)))
_activation("gelu", "torch.nn:GELU", "Gaussian error linear unit",
            imports=_spellings("torch.nn:GELU", (_F + "gelu",), fixed={"approximate": "none"}))
_activation("silu", "torch.nn:SiLU", "x * sigmoid(x)",
            imports=_spellings("torch.nn:SiLU", (_F + "silu",)))
_activation("hardswish", "torch.nn:Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)",
            imports=_spellings("torch.nn:Hardswish", (_F + "hardswish",)))
_activation("tanh", "torch.nn:Tanh", "hyperbolic tangent",
            imports=_spellings("torch.nn:Tanh", (_F + "tanh", "torch:tanh",
                                                 "torch:Tensor.tanh")))
_activation("identity", "torch.nn:Identity", "returns its input",
            returns_input=lambda s, a: True,
            traits=frozenset({"elementwise"}),  # the input itself: not fresh
            imports=_spellings("torch.nn:Identity", ()))
