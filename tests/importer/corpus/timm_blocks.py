"""timm-style residual blocks: `GroupNorm1` (a GroupNorm subclass that fixes one group),
an SE module on `x.mean((2, 3), keepdim=True)` gating by `x * x_se.sigmoid()`, layer
scale as `x * self.gamma.view(1, -1, 1, 1)` and as a `LayerScale2d` module, DropPath."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
import torch.nn as nn

INPUT = (3, 32, 32)


class GroupNorm1(nn.GroupNorm):
    def __init__(self, num_channels, **kwargs):
        super().__init__(1, num_channels, **kwargs)


class SEModule(nn.Module):
    def __init__(self, channels, rd_ratio=0.25):
        super().__init__()
        rd_channels = max(1, int(channels * rd_ratio))
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.fc1(x_se)
        x_se = self.act(x_se)
        x_se = self.fc2(x_se)
        return x * x_se.sigmoid()


class LayerScale2d(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        gamma = self.gamma.view(1, -1, 1, 1)
        return x * gamma


class DropPath(nn.Module):
    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
        random_tensor.div_(keep_prob)
        return x * random_tensor


class MetaBlock(nn.Module):
    """PoolFormer-like: norm, token mixer, layer scale, drop path; then an MLP the same way."""

    def __init__(self, dim, drop_path=0.1):
        super().__init__()
        self.norm1 = GroupNorm1(dim)
        self.mixer = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.ls1 = LayerScale2d(dim)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = GroupNorm1(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, dim * 2, 1), nn.GELU(), nn.Conv2d(dim * 2, dim, 1))
        self.se = SEModule(dim)
        self.gamma = nn.Parameter(1e-5 * torch.ones(dim))
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path1(self.ls1(self.mixer(self.norm1(x))))
        x = x + self.drop_path2(self.se(self.mlp(self.norm2(x))) * self.gamma.view(1, -1, 1, 1))
        return x


class Net(nn.Module):
    def __init__(self, dim=16, depth=3, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.ReLU())
        self.blocks = nn.Sequential(*[MetaBlock(dim) for _ in range(depth)])
        self.norm = GroupNorm1(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.norm(self.blocks(self.stem(x)))
        return self.head(x.mean((2, 3)))


def build():
    return Net()
