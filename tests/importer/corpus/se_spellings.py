"""Squeeze-and-excitation in the spellings papers' repositories use: Linear + `view`,
`unsqueeze`, `[:, :, None, None]`, `expand_as`, the gate first or second."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT = (3, 16, 16)


class SEView(nn.Module):  # hujie-frank / moskomule style
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channel, channel // reduction, bias=False),
                                nn.ReLU(inplace=True),
                                nn.Linear(channel // reduction, channel, bias=False),
                                nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SEUnsqueeze(nn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.fc1 = nn.Linear(channel, channel // reduction)
        self.fc2 = nn.Linear(channel // reduction, channel)

    def forward(self, x):
        y = F.adaptive_avg_pool2d(x, 1).flatten(1)
        y = torch.sigmoid(self.fc2(F.relu(self.fc1(y))))
        return y.unsqueeze(-1).unsqueeze(-1) * x


class SENone(nn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.fc1 = nn.Linear(channel, channel // reduction)
        self.fc2 = nn.Linear(channel // reduction, channel)

    def forward(self, x):
        y = x.mean((2, 3))
        y = self.fc2(F.relu(self.fc1(y))).sigmoid()
        return x * y[:, :, None, None]


class Block(nn.Module):
    def __init__(self, channels, se):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.se = se(channels)

    def forward(self, x):
        return F.relu(x + self.se(self.bn(self.conv(x))))


class Net(nn.Module):
    def __init__(self, channels=16):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.Sequential(Block(channels, SEView), Block(channels, SEUnsqueeze),
                                    Block(channels, SENone))
        self.fc = nn.Linear(channels, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build():
    return Net()
