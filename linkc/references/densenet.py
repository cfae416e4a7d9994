"""DenseNet-BC for CIFAR, written by hand in plain eager PyTorch.

Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks"
(CVPR 2017), Section 3 and Table 2. The layout follows the authors' CIFAR code and
torchvision's DenseNet:

    stem      conv3x3(3 -> 2k)
    3 x       dense block of n layers, each BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k),
              the block input and every layer's output concatenated with torch.cat
    2 x       transition BN-ReLU-Conv1x1(floor(theta * c))-AvgPool2 between blocks
    head      BN-ReLU-global average pool-Linear(num_classes)

n = (depth - 4) // 6 because every layer holds two convolutions. Convolutions have no
bias (each is followed by BN); the classifier has one. DenseNet-BC-100 (k=12) has
769,162 parameters for 10 classes; the paper prints 0.8M.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k); the caller concatenates."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck_width: int = 4) -> None:
        super().__init__()
        inner = bottleneck_width * growth_rate
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, inner, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        return self.conv2(F.relu(self.bn2(out)))


class DenseBlock(nn.Module):
    def __init__(self, num_layers: int, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate) for i in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The straightforward formulation: re-concatenate after every layer.
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class Transition(nn.Sequential):
    """BN-ReLU-Conv1x1-AvgPool2: compresses channels and halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )


class DenseNetBC(nn.Module):
    def __init__(
        self,
        depth: int = 100,
        growth_rate: int = 12,
        compression: float = 0.5,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"DenseNet-BC depth must be 6n+4, got {depth}")
        num_layers = (depth - 4) // 6

        channels = 2 * growth_rate
        self.stem = nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False)

        stages: list[nn.Module] = []
        for index in range(3):
            stages.append(DenseBlock(num_layers, channels, growth_rate))
            channels += num_layers * growth_rate
            if index < 2:
                out_channels = int(math.floor(compression * channels))
                stages.append(Transition(channels, out_channels))
                channels = out_channels
        self.features = nn.Sequential(*stages)

        self.norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.stem(x))
        x = F.relu(self.norm(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


def densenet_bc(depth: int = 100, k: int = 12, num_classes: int = 10) -> DenseNetBC:
    """DenseNet-BC (bottleneck + compression 0.5) for 32x32 inputs."""
    return DenseNetBC(depth=depth, growth_rate=k, compression=0.5, num_classes=num_classes)
