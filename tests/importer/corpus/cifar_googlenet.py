"""GoogLeNet for CIFAR as the kuangliu repository writes it: Inception blocks of four
branches concatenated with `torch.cat([y1, y2, y3, y4], 1)`."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
import torch.nn as nn

INPUT = (3, 32, 32)


class Inception(nn.Module):
    def __init__(self, in_planes, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool_planes):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(in_planes, n1x1, kernel_size=1),
                                nn.BatchNorm2d(n1x1), nn.ReLU(True))
        self.b2 = nn.Sequential(nn.Conv2d(in_planes, n3x3red, kernel_size=1),
                                nn.BatchNorm2d(n3x3red), nn.ReLU(True),
                                nn.Conv2d(n3x3red, n3x3, kernel_size=3, padding=1),
                                nn.BatchNorm2d(n3x3), nn.ReLU(True))
        self.b3 = nn.Sequential(nn.Conv2d(in_planes, n5x5red, kernel_size=1),
                                nn.BatchNorm2d(n5x5red), nn.ReLU(True),
                                nn.Conv2d(n5x5red, n5x5, kernel_size=3, padding=1),
                                nn.BatchNorm2d(n5x5), nn.ReLU(True),
                                nn.Conv2d(n5x5, n5x5, kernel_size=3, padding=1),
                                nn.BatchNorm2d(n5x5), nn.ReLU(True))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                nn.Conv2d(in_planes, pool_planes, kernel_size=1),
                                nn.BatchNorm2d(pool_planes), nn.ReLU(True))

    def forward(self, x):
        y1 = self.b1(x)
        y2 = self.b2(x)
        y3 = self.b3(x)
        y4 = self.b4(x)
        return torch.cat([y1, y2, y3, y4], 1)


class GoogLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre_layers = nn.Sequential(nn.Conv2d(3, 24, kernel_size=3, padding=1),
                                        nn.BatchNorm2d(24), nn.ReLU(True))
        self.a3 = Inception(24, 8, 12, 16, 4, 4, 4)
        self.b3 = Inception(32, 16, 16, 24, 4, 12, 8)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.a4 = Inception(60, 24, 12, 26, 4, 6, 8)
        self.avgpool = nn.AvgPool2d(16, stride=1)
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        out = self.pre_layers(x)
        out = self.a3(out)
        out = self.b3(out)
        out = self.maxpool(out)
        out = self.a4(out)
        out = self.avgpool(out)
        out = out.view(out.size(0), -1)
        return self.linear(out)


def build():
    return GoogLeNet()
