"""Reading torch layers back as linkc ops: the inverse of each op's lowering.

`ADOPT` maps a layer class to a rule `(module, in_shape) -> (op name, args)` that
returns the spec arguments that lower to an equal layer, or raises `NotExpressible`
with what differs (a reflect-padded conv, a non-square kernel). Only the op's own
arguments are returned; the writer drops those equal to the op's defaults. A layer
class with no rule here is reported with its module path and class, and the hint
that a plugin op lowering to that class would cover it.

Why a table here and not a field of each registry entry: a torch class spells
several ops (an `AdaptiveAvgPool2d(1)` then a flatten is `gap`) and an op is spelled
by several classes (`bn` is BatchNorm1d or BatchNorm2d), so the inverse is a fact
about torch's classes as much as about linkc's ops. The op names and argument
fields it produces are checked against the registry when the spec is compiled.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..compiler import modules as linkc_modules

__all__ = ["ADOPT", "MERGE_MODULES", "NotExpressible", "adopt", "is_adopted", "merge_of"]


class NotExpressible(Exception):
    """This layer's settings have no spelling in the op's arguments."""


def _square(value: Any, what: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise NotExpressible(f"{what} {tuple(value)} is not square")
        value = value[0]
    return int(value)


def _conv(m: nn.Conv2d, in_shape) -> tuple[str, dict]:
    if m.padding_mode != "zeros":
        raise NotExpressible(f"padding_mode '{m.padding_mode}' (linkc pads with zeros)")
    if isinstance(m.padding, str):
        raise NotExpressible(f"padding '{m.padding}' given as a word")
    k = _square(m.kernel_size, "kernel")
    dilation = _square(m.dilation, "dilation")
    pad = _square(m.padding, "padding")
    args = {"out": m.out_channels, "k": k, "stride": _square(m.stride, "stride"),
            "groups": m.groups, "dilation": dilation, "bias": m.bias is not None}
    if pad != dilation * (k - 1) // 2:  # linkc's default is "same" for odd kernels
        args["padding"] = pad
    return "conv", args


def _bn(m: nn.modules.batchnorm._BatchNorm, in_shape) -> tuple[str, dict]:
    if not (m.affine and m.track_running_stats):
        raise NotExpressible("affine=False or track_running_stats=False")
    if m.momentum is None:
        raise NotExpressible("momentum=None (a cumulative average)")
    return "bn", {"eps": m.eps, "momentum": m.momentum}


def _pool(name: str) -> Callable:
    def rule(m, in_shape) -> tuple[str, dict]:
        if _square(getattr(m, "dilation", 1), "dilation") != 1:
            raise NotExpressible("dilation")
        k = _square(m.kernel_size, "kernel")
        stride = k if m.stride is None else _square(m.stride, "stride")
        args = {"k": k, "stride": None if stride == k else stride,
                "padding": _square(m.padding, "padding"), "ceil_mode": bool(m.ceil_mode)}
        if name == "avgpool":
            if getattr(m, "divisor_override", None):
                raise NotExpressible("divisor_override")
            args["count_include_pad"] = bool(m.count_include_pad)
        return name, args
    return rule


def _linear(m: nn.Linear, in_shape) -> tuple[str, dict]:
    return "linear", {"out": m.out_features, "bias": m.bias is not None}


def _flatten(m: nn.Flatten, in_shape) -> tuple[str, dict]:
    if m.start_dim != 1 or m.end_dim != -1:
        raise NotExpressible(f"start_dim={m.start_dim}, end_dim={m.end_dim}")
    return "flatten", {}


def _named(op: str) -> Callable:
    return lambda m, in_shape: (op, {})


def _gelu(m: nn.GELU, in_shape) -> tuple[str, dict]:
    if m.approximate != "none":
        raise NotExpressible(f"approximate='{m.approximate}'")
    return "gelu", {}


def _adaptive(name: str) -> Callable:
    def rule(m, in_shape) -> tuple[str, dict]:
        size = m.output_size
        size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        if None in size:
            raise NotExpressible(f"output_size {m.output_size} (None keeps the input size)")
        return name, {"size": size[0] if size[0] == size[1] else list(size)}
    return rule


def _conv_transpose(m: nn.ConvTranspose2d, in_shape) -> tuple[str, dict]:
    if m.padding_mode != "zeros":
        raise NotExpressible(f"padding_mode '{m.padding_mode}'")
    return "conv_transpose", {
        "out": m.out_channels, "k": _square(m.kernel_size, "kernel"),
        "stride": _square(m.stride, "stride"), "padding": _square(m.padding, "padding"),
        "output_padding": _square(m.output_padding, "output_padding"), "groups": m.groups,
        "dilation": _square(m.dilation, "dilation"), "bias": m.bias is not None}


def _upsample(m: nn.Upsample, in_shape) -> tuple[str, dict]:
    if m.mode not in ("nearest", "bilinear"):
        raise NotExpressible(f"mode '{m.mode}'")
    args: dict = {"mode": m.mode}
    if m.size is not None:
        size = m.size if isinstance(m.size, (tuple, list)) else (m.size, m.size)
        args["size"] = size[0] if size[0] == size[1] else list(size)
    else:
        args["scale"] = float(_square(m.scale_factor, "scale") if isinstance(
            m.scale_factor, (tuple, list)) else m.scale_factor)
    if m.mode == "bilinear":
        args["align_corners"] = bool(m.align_corners)
    return "upsample", args


def _groupnorm(m: nn.GroupNorm, in_shape) -> tuple[str, dict]:
    return "groupnorm", {"groups": m.num_groups, "eps": m.eps, "affine": m.affine}


def _layernorm(m, in_shape) -> tuple[str, dict]:
    return "layernorm", {"eps": m.eps, "affine": m.elementwise_affine}


ADOPT: dict[type, Callable[[nn.Module, tuple], tuple[str, dict]]] = {
    nn.Conv2d: _conv,
    nn.BatchNorm2d: _bn,
    nn.BatchNorm1d: _bn,
    nn.ReLU: _named("relu"),
    nn.Sigmoid: _named("sigmoid"),
    nn.GELU: _gelu,
    nn.SiLU: _named("silu"),
    nn.Tanh: _named("tanh"),
    nn.Identity: _named("identity"),
    nn.MaxPool2d: _pool("maxpool"),
    nn.AvgPool2d: _pool("avgpool"),
    nn.Linear: _linear,
    nn.Flatten: _flatten,
    nn.Dropout: lambda m, s: ("dropout", {"p": m.p}),
    nn.AdaptiveAvgPool2d: _adaptive("adaptive_avgpool"),
    nn.AdaptiveMaxPool2d: _adaptive("adaptive_maxpool"),
    linkc_modules.GlobalAvgPool: _named("gap"),
    nn.ReLU6: _named("relu6"),
    nn.Hardswish: _named("hardswish"),
    nn.Hardsigmoid: _named("hardsigmoid"),
    nn.LeakyReLU: lambda m, s: ("leaky_relu", {"slope": m.negative_slope}),
    nn.ELU: lambda m, s: ("elu", {"alpha": m.alpha}),
    nn.GroupNorm: _groupnorm,
    linkc_modules.ChannelLayerNorm: _layernorm,
    linkc_modules.DropPath: lambda m, s: ("drop_path", {"p": m.p}),
    nn.Upsample: _upsample,
    nn.ConvTranspose2d: _conv_transpose,
    nn.ChannelShuffle: lambda m, s: ("channel_shuffle", {"groups": m.groups}),
}

#: Layers that are merges: the module takes every input of the merge.
MERGE_MODULES: dict[type, str] = {linkc_modules.DepthwiseSum: "dwsum"}


def adopted_classes() -> tuple[type, ...]:
    return (*ADOPT, *MERGE_MODULES)


def linkc_class(m: nn.Module) -> type | None:
    """The linkc module class a layer copies: a generated model.py carries its own
    copies of linkc's helper modules (it imports only torch), recognised by name in a
    file that says it was generated by linkc."""
    home = getattr(type(m).forward, "__globals__", {})
    if "generated by linkc" not in (home.get("__doc__") or ""):
        return None
    original = getattr(linkc_modules, type(m).__name__, None)
    return original if original in ADOPT or original in MERGE_MODULES else None


def is_adopted(m: nn.Module) -> bool:
    return isinstance(m, adopted_classes()) or linkc_class(m) is not None


def merge_of(m: nn.Module) -> str | None:
    return MERGE_MODULES.get(type(m)) or MERGE_MODULES.get(linkc_class(m))


def adopt(m: nn.Module, in_shape) -> tuple[str, dict]:
    """(op name, args) of a layer; KeyError when its class has no rule."""
    rule = ADOPT.get(type(m)) or ADOPT[linkc_class(m)]
    return rule(m, in_shape)
