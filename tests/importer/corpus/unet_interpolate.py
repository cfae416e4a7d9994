"""A U-Net decoder that resizes with `F.interpolate(x, size=skip.shape[2:],
mode="bilinear", align_corners=False)` and by `scale_factor`, nearest."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT = (3, 32, 32)


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class Decoder(nn.Module):
    def __init__(self, base=8):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = block(3, base), block(base, base * 2), \
            block(base * 2, base * 4)
        self.dec2 = block(base * 6, base * 2)
        self.dec1 = block(base * 3, base)
        self.head = nn.Conv2d(base, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, kernel_size=2, stride=2))
        d2 = F.interpolate(e3, size=e2.shape[2:], mode="bilinear", align_corners=False)
        d2 = self.dec2(torch.cat([d2, e2], dim=1))
        d1 = F.interpolate(d2, scale_factor=2, mode="nearest")
        d1 = self.dec1(torch.cat([d1, e1], dim=1))
        return self.head(d1)


def build():
    return Decoder()
