"""Paper repositories' CIFAR units that read shapes: PyramidNet's zero-padded shortcut
`F.pad(shortcut, (0, 0, 0, 0, 0, out.shape[1] - shortcut.shape[1]))`, a MixNet-style
unit that branches on `x.shape[1]` and splits channels with `narrow` and `split`, a
ShuffleNet-style `torch.chunk`, and `x[:, a:b, ...]`."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT = (3, 16, 16)


class PyramidBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.pool = nn.AvgPool2d(2) if stride != 1 else None

    def forward(self, x):
        out = self.bn3(self.conv2(F.relu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = self.pool(x) if self.pool is not None else x
        pad = out.shape[1] - shortcut.shape[1]
        if pad != 0:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, pad))
        return out + shortcut


class MixUnit(nn.Module):
    """Half the channels feed a residual path, half a dense path (MixNet's idea)."""

    def __init__(self, cin, k):
        super().__init__()
        self.k = k
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 2 * k, 3, 1, 1))

    def forward(self, x):
        y = self.body(x)
        inner = x.narrow(1, 0, self.k)
        if x.shape[1] > self.k:
            rest = x[:, self.k:, ...]
            a, b = torch.split(y, [self.k, self.k], dim=1)
            return torch.cat([inner + a, rest, b], 1)
        return torch.cat([inner + y[:, :self.k], y[:, self.k:, :, :]], 1)


class Halves(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.left = nn.Conv2d(c // 2, c // 2, 1)
        self.right = nn.Conv2d(c // 2, c // 2, 3, padding=1)

    def forward(self, x):
        a, b = torch.chunk(x, 2, dim=1)
        return torch.cat([self.left(a), self.right(b)], dim=1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.pyramid = nn.Sequential(PyramidBlock(8, 10, 1), PyramidBlock(10, 12, 2),
                                     PyramidBlock(12, 14, 1))
        self.mix = nn.Sequential(MixUnit(14, 4), MixUnit(18, 4))
        self.halves = Halves(22)
        self.fc = nn.Linear(22, 10)

    def forward(self, x):
        x = self.halves(self.mix(self.pyramid(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, (1, 1)).view(x.size(0), -1))


def build():
    return Net()
