"""EfficientNet as torchvision writes it: MBConv with a SiLU squeeze-and-excitation
(`scale * input`), `StochasticDepth(p, "row")` on the residual branch, the stage
table scaled by width and depth multipliers."""
# ruff: noqa  (the file keeps its project's own idioms on purpose)

import math

import torch
from torch import nn

INPUT = (3, 32, 32)


def stochastic_depth(input, p, mode, training=True):
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p, mode):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels, squeeze_channels):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, input):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))
        return scale * input


def conv_bn_act(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-3)]
    if act:
        layers.append(nn.SiLU(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels,
                 stochastic_depth_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and input_channels == out_channels
        layers = []
        expanded = input_channels * expand_ratio
        if expanded != input_channels:
            layers.append(conv_bn_act(input_channels, expanded, 1))
        layers.append(conv_bn_act(expanded, expanded, kernel, stride, groups=expanded))
        layers.append(SqueezeExcitation(expanded, max(1, input_channels // 4)))
        layers.append(conv_bn_act(expanded, out_channels, 1, act=False))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


class EfficientNet(nn.Module):
    def __init__(self, setting, width_mult=1.0, depth_mult=1.0, stochastic_depth_prob=0.2,
                 num_classes=10, last_channel=128):
        super().__init__()
        first = setting[0][3]
        layers = [conv_bn_act(3, first, 3, 2)]
        total = sum(math.ceil(s[5] * depth_mult) for s in setting)
        stage_block_id = 0
        for expand, k, stride, cin, cout, n in setting:
            stage = []
            for i in range(math.ceil(n * depth_mult)):
                sd_prob = stochastic_depth_prob * float(stage_block_id) / total
                stage.append(MBConv(expand, k, stride if i == 0 else 1,
                                    cin if i == 0 else cout, cout, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
        layers.append(conv_bn_act(setting[-1][4], last_channel, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2, inplace=True),
                                        nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def build():
    setting = [(1, 3, 1, 8, 8, 1), (4, 3, 2, 8, 16, 2), (4, 5, 2, 16, 24, 3)]
    return EfficientNet(setting)
