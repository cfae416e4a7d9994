"""`linkc.transfer_weights`: a module's weights onto a spec written by hand, paired by
the graph both compute, not by the order the module registers its layers in."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import linkc
from linkc.importer.transfer import TransferError, transfer_weights

SPEC = """linkc: 1
name: resnet-10-cifar
params: {classes: 10}
input: [3, 16, 16]
blocks:
  basic:                       # torchvision's BasicBlock; a projection where the shape changes
    params: [c, stride]
    in: x
    nodes:
      f: {from: x, ops: ["conv(c, 3, stride=stride)", bn, relu, "conv(c, 3)", bn]}
      proj: {if: "stride != 1 or channels(x) != c", from: x,
             ops: ["conv(c, 1, stride=stride)", bn]}
      y: {from: [f, {ref: proj, else: x}], merge: add, ops: [relu]}
    out: y
nodes:
  stem: {from: input, ops: ["conv(16, 3)", bn, relu]}
  layer1: {from: stem, block: basic, args: {c: 16, stride: 1}}
  layer2: {from: layer1, block: basic, args: {c: 32, stride: 2}}
  layer3: {from: layer2, block: basic, args: {c: 64, stride: 2}}
  head: {from: layer3, ops: [gap, {linear: classes}]}
output: head
"""


class BasicBlock(nn.Module):
    """torchvision's BasicBlock, written as some repositories do: the shortcut registered
    first and the BN layers before the convolutions, so registration order is not the
    order of execution."""

    def __init__(self, cin: int, c: int, stride: int):
        super().__init__()
        self.downsample = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False),
                                        nn.BatchNorm2d(c)) if stride != 1 or cin != c else None
        self.bn2 = nn.BatchNorm2d(c)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, classes: int = 10, act=nn.ReLU):
        super().__init__()
        self.fc = nn.Linear(64, classes)          # the head registered first
        self.layer3 = BasicBlock(32, 64, 2)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.act = act()
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def trained_looking(module: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            elif t.dtype.is_floating_point:
                t.copy_(torch.randn(t.shape, generator=generator) * 0.2)
    return module.eval()


def test_registration_order_differs_from_the_spec_and_still_pairs():
    module = trained_looking(ResNet())
    names = [n for n, _ in module.named_parameters()]
    spec_names = list(linkc.compile(SPEC).state_dict())
    assert names[0] == "fc.weight" and spec_names[0].startswith("stem")  # orders differ
    result = transfer_weights(module, SPEC)
    assert len(result.pairs) == 2 + 3 * 4 + 2 * 2 + 1  # stem, blocks, projections, fc
    assert ("layer2.proj.conv1", "layer2.downsample.0") in result.pairs
    assert ("layer2.f.conv1", "layer2.conv1") in result.pairs
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        expected = module(x)
        fresh = linkc.compile(SPEC).eval()       # what a user does with the weights
        fresh.load_state_dict(result.weights)
        got = fresh(x)
    assert torch.equal(got, expected) or \
        float((got - expected).abs().max()) <= 1e-6 * float(expected.abs().max())
    assert result.difference <= 1e-6
    assert module.training is False  # left as it was given


def test_a_spec_of_another_network_names_the_first_node_where_they_part():
    wrong = SPEC.replace('"conv(c, 3)", bn]', '"conv(c, 1)", bn]')  # 1x1 where it is 3x3
    with pytest.raises(TransferError) as info:
        transfer_weights(trained_looking(ResNet()), wrong)
    e = info.value
    assert (e.loc.line, e.loc.col) == (10, 65)  # the second conv of the block's node f
    line = BasicBlock.forward.__code__.co_firstlineno  # the module's side: file and line
    assert e.message == (
        "the spec and the module part at spec op 'layer1.f.conv2' (conv, output [16, 16, 16], "
        "weights [16, 16, 1, 1]): the module computes no such unit from the same inputs "
        f"(spec op 'layer1.f.bn1' = module 'layer1.bn1', test_transfer.py:{line + 2}); from "
        f"them it computes module 'layer1.conv2', test_transfer.py:{line + 3} (conv, output "
        "[16, 16, 16], weights [16, 16, 3, 3])")


def test_an_activation_that_differs_is_named_where_values_part():
    with pytest.raises(TransferError) as info:
        transfer_weights(trained_looking(ResNet(act=nn.GELU)), SPEC)
    e = info.value
    assert (e.loc.line, e.loc.col) == (10, 26)  # the first conv of node f
    assert e.message.startswith("the spec and the module compute different values from "
                                "spec op 'layer1.f.conv1' on (paired with module "
                                "'layer1.conv1', test_transfer.py:")
    assert "its inputs (spec op 'stem.bn1') agree" in e.message


CONVNEXT = """linkc: 1
name: convnext-stage
input: [16, 8, 8]
blocks:
  convnext:
    in: x
    nodes:
      f: {from: x, ops: ["conv(16, 7, groups=16, bias=true)", {layernorm: {eps: 1.0e-6}},
                         "conv(64, 1, bias=true)", gelu, "conv(16, 1, bias=true)",
                         {scale: 1.0e-6}]}
      y: {from: [f, x], merge: add}
    out: y
  se:                            # squeeze-and-excitation, the gate first as torchvision has it
    in: x
    nodes:
      g: {from: x, ops: [{adaptive_avgpool: 1}, "conv(4, 1, bias=true)", relu,
                         "conv(16, 1, bias=true)", sigmoid]}
      y: {from: [g, x], merge: mul}
    out: y
nodes:
  b1: {from: input, block: convnext}
  s1: {from: b1, block: se}
  b2: {from: s1, block: convnext}
output: b2
"""


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape,
                                           self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """timm's block with conv_mlp: layer scale as a parameter multiplied in the forward."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))  # before the layers it scales
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc1 = nn.Conv2d(dim, 4 * dim, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(4 * dim, dim, 1)

    def forward(self, x):
        y = self.fc2(self.act(self.fc1(self.norm(self.conv_dw(x)))))
        return y.mul(self.gamma.reshape(1, -1, 1, 1)) + x


class SqueezeExcitation(nn.Module):
    def __init__(self, dim: int, squeeze: int):
        super().__init__()
        self.fc2 = nn.Conv2d(squeeze, dim, 1)
        self.fc1 = nn.Conv2d(dim, squeeze, 1)

    def forward(self, x):
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return scale * x


def test_layer_scale_parameters_and_gates_pair_with_scale_and_mul():
    module = trained_looking(nn.Sequential(ConvNeXtBlock(16), SqueezeExcitation(16, 4),
                                           ConvNeXtBlock(16)))
    result = transfer_weights(module, CONVNEXT)
    assert ("b1.f.scale1", "0.gamma") in result.pairs and ("b1.f.layernorm1", "0.norm") in \
        result.pairs and ("s1.g.conv1", "1.fc1") in result.pairs
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        got, expected = result.model(x), module(x)
    assert float((got - expected).abs().max()) <= 1e-6 * float(expected.abs().max())


def test_the_cli_writes_the_weights_onto_the_spec_or_names_where_it_parts(tmp_path, capsys):
    from safetensors.torch import load_file

    from linkc.cli import main

    source = tmp_path / "net.py"
    text = (f"import torch\nfrom torch import nn\n\n{_source(BasicBlock)}\n\n"
            f"{_source(ResNet)}\n\ndef build():\n    torch.manual_seed(3)\n    return ResNet()\n")
    source.write_text(text)
    (tmp_path / "net.yaml").write_text(SPEC)
    weights = tmp_path / "w.safetensors"
    assert main(["import", f"{source}:build", "--onto", str(tmp_path / "net.yaml"),
                 "--weights-out", str(weights)]) == 0
    assert "19 layers paired, outputs equal" in capsys.readouterr().err
    namespace: dict = {}
    exec(compile(text, str(source), "exec"), namespace)  # the module the command built
    module = namespace["build"]().eval()
    model = linkc.compile(SPEC).eval()
    model.load_state_dict(load_file(weights))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        got, expected = model(x), module(x)
    assert float((got - expected).abs().max()) <= 1e-6 * float(expected.abs().max())
    wrong = SPEC.replace("{c: 64, stride: 2}", "{c: 48, stride: 2}")  # layer3 narrower
    (tmp_path / "wrong.yaml").write_text(wrong)
    assert main(["import", f"{source}:build", "--onto", str(tmp_path / "wrong.yaml")]) == 2
    err = capsys.readouterr().err
    assert "wrong.yaml:10:26: error: the spec and the module part at spec op 'layer3.f.conv1'" \
        in err  # the block's op, named by its instance
    assert main(["import", f"{source}:build", "--onto", "x.yaml", "--input", "3,8,8"]) == 2
    assert "--onto takes its input shape" in capsys.readouterr().err
    # the --onto spec takes --set as every spec does: classes=12 is a head the module lacks
    assert main(["import", f"{source}:build", "--onto", str(tmp_path / "net.yaml"),
                 "--set", "classes=12"]) == 2
    assert "part at spec op 'head.linear1' (linear, output [12]" in capsys.readouterr().err


def _source(cls) -> str:
    import inspect

    return inspect.getsource(cls)


class ResNetGeluBlocks(ResNet):
    """The stem agrees with the spec; the last block's final activation does not."""

    def __init__(self):
        super().__init__()
        self.layer3.relu = nn.GELU()


def test_values_recorded_before_in_place_ops_name_the_right_place():
    # BasicBlock's `out += identity` and ReLU(inplace=True) overwrite tensors the
    # earlier layers returned: the first difference is still the one in layer3
    with pytest.raises(TransferError) as info:
        transfer_weights(trained_looking(ResNetGeluBlocks()), SPEC)
    assert info.value.message.startswith("the spec and the module compute different values "
                                         "from spec op 'layer3.f.conv2' on")


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: it concatenates the list of earlier features itself."""

    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, inputs):
        x = torch.cat(inputs, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    """torchvision's _DenseBlock: the layers under an nn.ModuleDict."""

    def __init__(self, n, cin, growth, bn_size):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, init):
        features = [init]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), DenseBlock(3, 16, 8, 4),
            nn.BatchNorm2d(40), nn.ReLU(inplace=True), nn.Conv2d(40, 20, 1, bias=False),
            nn.AvgPool2d(2), DenseBlock(3, 20, 8, 4), nn.BatchNorm2d(44))
        self.classifier = nn.Linear(44, 10)

    def forward(self, x):
        f = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))


DENSE = """linkc: 1
name: dn
params: {k: 8}
input: [3, 16, 16]
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [4*k, 1]}, bn, relu, {conv: [k, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [16, 3]}]}
  d1: {from: stem, repeat: 3, block: layer, connect: dense}
  t1: {from: d1, ops: [bn, relu, {conv: [20, 1]}, {avgpool: 2}]}
  d2: {from: t1, repeat: 3, block: layer, connect: dense}
  head: {from: d2, ops: [bn, relu, gap, {linear: 10}]}
output: head
"""


def test_torchvision_densenet_blocks_pair_with_dense_repeats():
    module = trained_looking(DenseNet())
    result = transfer_weights(module, DENSE)
    assert len(result.pairs) == 1 + 2 * 3 * 4 + 2 + 1 + 1  # stem, layers, transition, bn, fc
    assert ("d2.2.h.conv2", "features.6.denselayer3.conv2") in result.pairs
    assert result.difference <= 1e-6


class DirectWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.extra = nn.Linear(4, 4)  # a child with weights: the module is traced through
        self.weight = nn.Parameter(torch.randn(16, 16, 3, 3))

    def forward(self, x):
        return torch.nn.functional.conv2d(self.conv(x), self.weight, padding=1)


def test_a_parameter_read_directly_in_a_call_is_named_with_its_line():
    spec = ("linkc: 1\nname: t\ninput: [3, 8, 8]\nnodes:\n"
            "  a: {from: input, ops: [\"conv(16, 3)\", \"conv(16, 3)\"]}\noutput: a\n")
    with pytest.raises(TransferError) as info:
        transfer_weights(DirectWeights(), spec)
    line = DirectWeights.forward.__code__.co_firstlineno + 1
    assert info.value.message == (f"'conv2d' in the module's forward, test_transfer.py:{line} "
                                  "reads the parameter 'weight' directly in 'conv2d'")


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (v1.5: the stride on the 3x3 conv)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet50(nn.Module):
    """torchvision's resnet50, written as torchvision writes it."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, 3)
        self.layer2 = self._make_layer(128, 4, 2)
        self.layer3 = self._make_layer(256, 6, 2)
        self.layer4 = self._make_layer(512, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@pytest.mark.zoo
def test_torchvision_resnet50_onto_the_zoo_spec():
    module = trained_looking(ResNet50())
    result = transfer_weights(module, "resnet-50-imagenet")
    assert len(result.pairs) == 53 * 2 + 1  # 53 convs with their BNs, and fc
    assert ("stages.1.b.0.proj.conv1", "layer2.0.downsample.0") in result.pairs
    assert result.difference <= 1e-6


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    """torchvision's ConvNeXt block: channels-last LayerNorm and Linear layers, and a
    (C, 1, 1) layer scale multiplied in front."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim),
            nn.GELU(), nn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, input):
        result = self.layer_scale * self.block(input)
        result += input
        return result


CONVNEXT_STAGE = CONVNEXT.split("nodes:\n  b1")[0] + """nodes:
  b1: {from: input, block: convnext}
  b2: {from: b1, block: convnext}
output: b2
"""


def test_torchvision_convnext_channels_last_layers_pair_with_layernorm_and_1x1_convs():
    module = trained_looking(nn.Sequential(CNBlock(16), CNBlock(16)))
    result = transfer_weights(module, CONVNEXT_STAGE)
    assert ("b1.f.conv2", "0.block.3") in result.pairs  # a 1x1 conv and a Linear
    assert ("b2.f.scale1", "1.layer_scale") in result.pairs
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        got, expected = result.model(x), module(x)
    assert float((got - expected).abs().max()) <= 1e-6 * float(expected.abs().max())
