"""ResNet for CIFAR (depth 6n+2), written by hand in plain eager PyTorch.

He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016),
Section 4.2:

    stem      conv3x3(3 -> 16)-BN-ReLU
    3 stages  of n basic blocks, widths 16 / 32 / 64, the first block of stages 2 and 3
              with stride 2; a basic block is Conv3x3-BN-ReLU-Conv3x3-BN, + shortcut,
              then ReLU (post-activation)
    head      global average pool-Linear(num_classes)

Downsampling shortcut: option A by default, as the paper used on CIFAR (and as
specs/resnet_110.yaml writes it): subsample with stride 2 and zero-pad the extra
channels, no parameters. `shortcut="B"` gives the 1x1 conv + BN projection that
torchvision uses, 2,752 parameters more.

ResNet-110 (n = 18) has 1,727,962 parameters with option A (1,730,714 with B); the
paper prints 1.7M.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ZeroPadShortcut(nn.Module):
    """Option A: take every `stride`-th pixel and append zero channels."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if (stride != 1 or in_channels != out_channels) and shortcut == "A":
            self.shortcut: nn.Module = ZeroPadShortcut(out_channels - in_channels, stride)
        elif stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int = 110, num_classes: int = 10, shortcut: str = "A") -> None:
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6

        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_stage(16, 16, n, 1, shortcut)
        self.layer2 = self._make_stage(16, 32, n, 2, shortcut)
        self.layer3 = self._make_stage(32, 64, n, 2, shortcut)
        self.fc = nn.Linear(64, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _make_stage(in_channels: int, out_channels: int, blocks: int, stride: int,
                    shortcut: str) -> nn.Sequential:
        layers = [BasicBlock(in_channels, out_channels, stride, shortcut)]
        layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def resnet_cifar(depth: int = 110, num_classes: int = 10, shortcut: str = "A") -> CifarResNet:
    """ResNet-(6n+2) for 32x32 inputs; depth=110 gives ResNet-110."""
    return CifarResNet(depth=depth, num_classes=num_classes, shortcut=shortcut)
