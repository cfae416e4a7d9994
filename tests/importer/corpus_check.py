"""What the corpus tests assert of one import: the compiled spec computes what the
module computes (outputs within 1e-6 of the output's scale, in eval mode, with BN
statistics and affines randomised as a trained network has them) with an equal
parameter count. Shared by tests/importer/test_corpus.py and benchmarks/import_zoo.py."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch
from torch import nn

CORPUS = [  # (file in tests/importer/corpus, factory)
    ("tv_resnet", "build"), ("tv_resnet", "build_bottleneck"), ("tv_densenet", "build"),
    ("tv_mobilenetv2", "build"), ("tv_mobilenetv3", "build"), ("tv_shufflenetv2", "build"),
    ("tv_efficientnet", "build"), ("tv_regnet", "build"), ("timm_convnext", "build"),
    ("timm_blocks", "build"), ("cifar_resnet_a", "build"), ("cifar_resnet_a", "build_option_b"),
    ("cifar_dpn", "build"), ("cifar_senet", "build"), ("cifar_googlenet", "build"),
    ("unet_transposed", "build"), ("unet_bilinear", "build"),
    ("unet_bilinear", "build_transposed"), ("unet_interpolate", "build"),
    ("se_spellings", "build"), ("cifar_shape_reads", "build"),
]


def load(name: str, factory: str):
    module = importlib.import_module(f"tests.importer.corpus.{name}")
    return getattr(module, factory)(), module.INPUT, module


def trained_looking(module: nn.Module, seed: int = 1) -> nn.Module:
    """BN statistics and affines, norm affines and layer scales as a trained network has
    them, so a wrong pairing of layers changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
            for name, p in m.named_parameters(recurse=False):
                if p.dim() == 1:  # affines, biases, layer scales
                    p.copy_(torch.rand(p.shape, generator=g) * 0.5 + (0.75 if name != "bias"
                                                                       else -0.25))
    return module.eval()


@dataclass
class Outcome:
    max_error: float      # max |difference| / max |output|
    params_module: int
    params_spec: int

    @property
    def exact(self) -> bool:
        return self.max_error <= 1e-6 and self.params_module == self.params_spec


def compare(module: nn.Module, result, shape) -> Outcome:
    import linkc

    gm = linkc.compile(result.spec)
    gm.load_state_dict(result.weights)
    gm.eval()
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        want, got = module.eval()(x), gm(x)
    scale = float(want.abs().max())
    error = float((want - got).abs().max()) / max(scale, 1e-12)
    return Outcome(error, sum(p.numel() for p in module.parameters()),
                   sum(p.numel() for p in gm.parameters()))


def repeats(spec: str) -> dict[str, int]:
    """Top-level node -> its repeat count, read through the spec's params."""
    import yaml

    doc = yaml.safe_load(spec)
    params = doc.get("params") or {}
    return {name: params.get(node["repeat"], node["repeat"])
            for name, node in doc["nodes"].items() if "repeat" in node}
