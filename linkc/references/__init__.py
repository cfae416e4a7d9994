"""Hand-written PyTorch references for `linkc bench`.

These are the models "as a user would write them": plain eager modules in the style of
torchvision and the papers' own code, with no linkc import (only torch), so the
benchmark can set a compiled spec against them. They ship inside the package so that
`linkc bench` works from an installed wheel. Each entry of `REFERENCES` builds a fresh module for
3x32x32 inputs and 10 classes; `expected_params` is its exact parameter count
(tests/benchmarks/test_reference.py checks both, and checks them against the papers'
printed figures).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from .densenet import densenet_bc
from .dmrnet import dmrnet
from .resnet import resnet_cifar

REFERENCES: dict[str, Callable[[], nn.Module]] = {
    # DenseNet-BC, k=12, L=100 (Huang et al. 2017, Table 2: 0.8M)
    "densenet-bc-100": partial(densenet_bc, depth=100, k=12, num_classes=10),
    # ResNet-110 with option B projection shortcuts (He et al. 2016, Sec. 4.2: 1.7M)
    "resnet-110": partial(resnet_cifar, depth=110, num_classes=10),
    # DMRNet, Table 2 row L=54 = Table 3 "DMRNet, depth 56, 1.7M" (Zhao et al. 2017)
    "dmrnet-56": partial(dmrnet, L=54, num_classes=10),
}

expected_params: dict[str, int] = {
    "densenet-bc-100": 769_162,
    "resnet-110": 1_727_962,
    "dmrnet-56": 1_710_426,
}

__all__ = ["REFERENCES", "expected_params", "densenet_bc", "dmrnet", "resnet_cifar"]
