"""ResNet for CIFAR (depth 6n+2), written by hand in plain eager PyTorch.

He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016),
Section 4.2:

    stem      conv3x3(3 -> 16)-BN-ReLU
    3 stages  of n basic blocks, widths 16 / 32 / 64, the first block of stages 2 and 3
              with stride 2; a basic block is Conv3x3-BN-ReLU-Conv3x3-BN, + shortcut,
              then ReLU (post-activation)
    head      global average pool-Linear(num_classes)

Downsampling shortcut: this reference uses option B, a 1x1 convolution with stride 2
followed by BN (as torchvision does). The original paper used option A on CIFAR: an
identity shortcut that subsamples with stride 2 and zero-pads the extra channels, which
has no parameters. Option B adds two 1x1 Conv-BN pairs, 2,752 parameters.

ResNet-110 (n = 18) has 1,730,714 parameters here (1,727,962 with option A); the
paper prints 1.7M.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            # Option B projection (the paper's CIFAR nets used option A zero padding).
            self.shortcut: nn.Module = nn.Sequential(
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
    def __init__(self, depth: int = 110, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6

        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_stage(16, 16, n, stride=1)
        self.layer2 = self._make_stage(16, 32, n, stride=2)
        self.layer3 = self._make_stage(32, 64, n, stride=2)
        self.fc = nn.Linear(64, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _make_stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(in_channels, out_channels, stride)]
        layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def resnet_cifar(depth: int = 110, num_classes: int = 10) -> CifarResNet:
    """ResNet-(6n+2) for 32x32 inputs; depth=110 gives ResNet-110."""
    return CifarResNet(depth=depth, num_classes=num_classes)
