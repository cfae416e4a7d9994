"""Caps on what a spec may ask for, checked during shape inference before any tensor
exists: per activation (`check_shape`), and running totals of parameters and of one
sample's activations (`Totals`)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..errors import SpecError, limit_hint
from ..ops.registry import Shape


@dataclass(frozen=True)
class ShapeLimits:
    """Caps on what a spec may ask for, checked before any tensor exists."""

    max_channels: int = 1 << 16
    max_spatial: int = 1 << 14
    max_elements: int = 1 << 28  # of one sample's activation
    max_activations: int = 1 << 30  # elements of all of one sample's activations together
    max_params: int = 1 << 28  # learnable parameters, estimated from each op's `params` rule


@dataclass
class Totals:
    """Running estimates of what lowering will allocate, checked as they grow."""

    params: int = 0
    activations: int = 0

    def charge(self, params: int, elements: int, where, limits: ShapeLimits) -> None:
        self.params += params
        self.activations += elements
        if self.params > limits.max_params:
            raise SpecError(f"the model would have about {self.params:,} parameters by here, over "
                            f"the limit of {limits.max_params:,}", where,
                            limit_hint("max_params", "ShapeLimits"))
        if self.activations > limits.max_activations:
            raise SpecError(f"one sample's activations would take {self.activations:,} elements "
                            f"by here, over the limit of {limits.max_activations:,}", where,
                            limit_hint("max_activations", "ShapeLimits"))


def check_shape(shape: Shape, where, limits: ShapeLimits) -> None:
    if shape[0] > limits.max_channels:
        raise SpecError(f"{shape[0]} channels is over the limit of {limits.max_channels}", where,
                        limit_hint("max_channels", "ShapeLimits"))
    if any(d > limits.max_spatial for d in shape[1:]):
        raise SpecError(f"spatial size {list(shape[1:])} is over the limit of "
                        f"{limits.max_spatial}", where, limit_hint("max_spatial", "ShapeLimits"))
    elements = prod(shape)
    if elements > limits.max_elements:
        raise SpecError(f"one sample's activation {list(shape)} has {elements} elements, over "
                        f"the limit of {limits.max_elements}", where,
                        limit_hint("max_elements", "ShapeLimits"))
