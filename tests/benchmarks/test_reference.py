"""The hand-written benchmark references: they build, run, and have the papers' sizes."""

from __future__ import annotations

import ast

from pathlib import Path

import pytest
import torch

from linkc import references as reference
from linkc.references import REFERENCES, expected_params
from linkc.references.densenet import densenet_bc
from linkc.references.dmrnet import dmrnet

# Parameter counts as the papers print them, in millions, with the printed precision.
PRINTED_MILLIONS = {
    "densenet-bc-100": 0.8,  # Huang et al. 2017, Table 2: DenseNet-BC (k=12), depth 100
    "resnet-110": 1.7,  # He et al. 2016, Table 6: ResNet-110
    "dmrnet-56": 1.7,  # Zhao et al. 2017, Table 2 row L=54 and Table 3 depth 56
}


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def printed(count: int, decimals: int = 1) -> float:
    return round(count / 1e6, decimals)


def test_every_reference_has_an_expected_count() -> None:
    assert set(REFERENCES) == set(expected_params) == set(PRINTED_MILLIONS)


def test_references_do_not_use_linkc() -> None:
    """They ship inside linkc, but import only torch, the standard library and each other."""
    for source in Path(reference.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{source.name}: import from outside the references"
                names = [node.module or ""] if node.level == 0 else []
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not [n for n in names if n.split(".")[0] == "linkc"], source.name


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_forward_and_size(name: str) -> None:
    torch.manual_seed(0)
    model = REFERENCES[name]()

    n = count_params(model)
    assert n == expected_params[name]
    assert printed(n) == PRINTED_MILLIONS[name]

    model.eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_reference_trains_one_step() -> None:
    # Train mode (batch statistics) and backward work, on the smallest reference.
    model = REFERENCES["densenet-bc-100"]()
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("depth", "k", "millions"),
    [(250, 24, 15.3), (190, 40, 25.6)],  # Huang et al. 2017, Table 2
)
def test_densenet_bc_other_sizes_match_the_paper(depth: int, k: int, millions: float) -> None:
    assert printed(count_params(densenet_bc(depth=depth, k=k))) == millions


@pytest.mark.parametrize(
    ("L", "millions"),
    # Zhao et al. 2017, Table 2. Rows L <= 36 print the ResNet-(2L+2) size, which is
    # larger than the DMRNet's (see dmrnet.py), so only these rows are exact.
    [(48, 1.5), (54, 1.7), (96, 3.1)],
)
def test_dmrnet_table2_rows(L: int, millions: float) -> None:
    assert printed(count_params(dmrnet(L=L))) == millions


def test_dmrnet_L_sets_blocks_per_stage() -> None:
    # Depth L + 2 along one stream: L / 6 blocks per stage, 3 stages.
    model = dmrnet(L=12)
    assert len(model.blocks) == 6
    with pytest.raises(ValueError):
        dmrnet(L=50)
