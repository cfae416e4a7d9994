"""DMRNet (deep merge-and-run network) for CIFAR, written by hand in plain eager PyTorch.

Zhao, Wang, Li, Tu, Zeng, "Deep Convolutional Neural Networks with Merge-and-Run
Mappings" (seed 003). A merge-and-run block runs two residual branches in parallel on
two streams x1, x2 (Eq. 3):

    m  = (x1 + x2) / 2              merge: average the two branch inputs
    y1 = H1(x1) + m                 run: add the average to each branch's output
    y2 = H2(x2) + m

Each branch H is Conv3x3-BN-ReLU-Conv3x3-BN ("a Conv-BN-ReLU as a basic layer"), and
"all the + operations ... are between BN and ReLU" (Sec. 4.2), so each stream gets its
ReLU after the addition, as in a post-activation ResNet: x1' = ReLU(y1),
x2' = ReLU(y2).

Layout (Table 1, Sec. 4.2): conv0 = Conv3x3(16)-BN-ReLU feeds both streams; three
stages of widths 16 / 32 / 64; stride 2 in the first block of stages 2 and 3, where
"1x1 convolutions before merging" replace the identities: each stream gets its own
1x1 stride-2 Conv-BN projection, and the projected inputs are averaged. Head: global
average pool and a linear classifier.

Depth. L is the paper's Table 2 parameter: the DMRNet corresponds to a plain net of
depth 2L + 2 (a ResNet-(2L+2)) and has depth L + 2 along either stream, so each stage
has L / 6 merge-and-run blocks (each block = two ResNet basic blocks run side by side).
Table 1 prints "x L/3" blocks per stage, which is off by a factor of two against
Tables 2 and 3; the parameter counts below settle it. The authors' code
(github.com/zlmzju/fusenet, network/base.py + network/cross.py, "depth of the
corresponding plain network (if 62 for CrossNet, the actual depth is 32)") computes the
same (depth_plain - 2) / 12 blocks per stage.

Final merge. The paper only says "at the end of the last merge-and-run block, a global
average pooling is performed". Following the authors' code (cross.py), the last block
skips its per-stream ReLU, the two streams are added, and one ReLU follows before the
pooling: out = ReLU(y1 + y2). This has no parameters, so counts do not depend on it.

Chosen row: L = 54 in Table 2, printed as 1.7M, the same net as "DMRNet (ours), depth
56, 1.7M" in Table 3 (9 blocks per stage). This module has 1,710,426 parameters for 10
classes, which rounds to the printed 1.7M. L = 48 (1,515,994 -> 1.5M) and L = 96
(3,071,450 -> 3.1M) round to their printed figures too. The small rows do not:
L = 12, 18, 24, 30, 36 give 0.35M, 0.54M, 0.74M, 0.93M, 1.13M against a printed 0.4M,
0.6M, 0.8M, 1.0M, 1.2M. Table 2 prints one Params column for ResNets, DILNets and
DMRNets, and it tracks the ResNet-(2L+2) counts (0.37M, 0.56M, 0.76M, 0.95M, 1.15M).
A DMRNet is slightly smaller than its ResNet because both branches of a downsampling
block start from the narrow width (two 16->32 convs instead of one 16->32 and one
32->32), which outweighs its two extra 1x1 projections.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _residual_branch(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """H(x) = Conv3x3-BN-ReLU-Conv3x3-BN; the ReLU after the sum lives in the block."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity, or a 1x1 Conv-BN when the width or resolution changes."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class MergeAndRunBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.branch1 = _residual_branch(in_channels, out_channels, stride)
        self.branch2 = _residual_branch(in_channels, out_channels, stride)
        # "perform 1x1 convolutions before merging ... when the widths increase"
        self.proj1 = _projection(in_channels, out_channels, stride)
        self.proj2 = _projection(in_channels, out_channels, stride)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, activate: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        merged = 0.5 * (self.proj1(x1) + self.proj2(x2))
        y1 = self.branch1(x1) + merged
        y2 = self.branch2(x2) + merged
        if activate:
            return F.relu(y1), F.relu(y2)
        return y1, y2


class DMRNet(nn.Module):
    def __init__(self, L: int = 54, num_classes: int = 10, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        if L <= 0 or L % 6 != 0:
            raise ValueError(f"DMRNet L must be a positive multiple of 6, got {L}")
        blocks_per_stage = L // 6

        self.conv0 = nn.Conv2d(3, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(widths[0])

        blocks = []
        in_channels = widths[0]
        for stage, width in enumerate(widths):
            for index in range(blocks_per_stage):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(MergeAndRunBlock(in_channels, width, stride))
                in_channels = width
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(in_channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = x2 = F.relu(self.bn0(self.conv0(x)))
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            x1, x2 = block(x1, x2, activate=index != last)
        x = F.relu(x1 + x2)  # final merge of the two streams (authors' cross.py)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def dmrnet(L: int = 54, num_classes: int = 10) -> DMRNet:
    """DMRNet with Table 2's L; L=54 is the depth-56, 1.7M network of Table 3."""
    return DMRNet(L=L, num_classes=num_classes)
