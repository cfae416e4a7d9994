"""RegNet as torchvision writes it: widths and group widths from a quantised linear
rule, `AnyStage` an `nn.Sequential` whose blocks are named `block1-0` by `add_module`,
`ResBottleneckBlock` with an SE of ReLU and Sigmoid and a projection when the shape
changes."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import torch
from torch import nn

INPUT = (3, 32, 32)


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels, squeeze_channels):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, input):
        scale = self.avgpool(input)
        scale = self.activation(self.fc1(scale))
        scale = self.scale_activation(self.fc2(scale))
        return scale * input


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BottleneckTransform(nn.Sequential):
    def __init__(self, width_in, width_out, stride, group_width, bottleneck_multiplier,
                 se_ratio):
        w_b = int(round(width_out * bottleneck_multiplier))
        g = w_b // group_width
        layers = {"a": conv_bn(width_in, w_b, 1), "b": conv_bn(w_b, w_b, 3, stride, g)}
        if se_ratio:
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)))
        layers["c"] = conv_bn(w_b, width_out, 1, act=False)
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)


class ResBottleneckBlock(nn.Module):
    def __init__(self, width_in, width_out, stride, group_width=8, bottleneck_multiplier=1.0,
                 se_ratio=0.25):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = conv_bn(width_in, width_out, 1, stride, act=False)
        self.f = BottleneckTransform(width_in, width_out, stride, group_width,
                                     bottleneck_multiplier, se_ratio)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    def __init__(self, width_in, width_out, stride, depth, group_width, stage_index):
        super().__init__()
        for i in range(depth):
            block = ResBottleneckBlock(width_in if i == 0 else width_out, width_out,
                                       stride if i == 0 else 1, group_width)
            self.add_module(f"block{stage_index}-{i}", block)


class RegNet(nn.Module):
    def __init__(self, widths, depths, group_width=8, stem_width=16, num_classes=10):
        super().__init__()
        self.stem = conv_bn(3, stem_width, 3, 2)
        blocks = []
        current = stem_width
        for i, (w, d) in enumerate(zip(widths, depths)):
            blocks.append((f"block{i + 1}", AnyStage(current, w, 2, d, group_width, i + 1)))
            current = w
        self.trunk_output = nn.Sequential()
        for name, stage in blocks:
            self.trunk_output.add_module(name, stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(current, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.trunk_output(x)
        x = self.avgpool(x)
        x = x.flatten(start_dim=1)
        return self.fc(x)


def build():
    return RegNet(widths=[16, 32, 64], depths=[1, 2, 3])
