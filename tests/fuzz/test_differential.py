"""Random valid specs compile, and the compiled module computes what the spec says:
the same output as an independent eager interpreter of the expanded graph, with
the output shape the generator expects. Half of the specs keep their blocks in a
file of their own that the spec includes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import yaml
from hypothesis import given, note

import linkc
from linkc.frontend import build

from .interpreter import interpret
from .oracles import differential_outcome, randomize
from .settings import fuzz_settings
from .specgen import valid_cases


def _with_included_blocks(text: str, directory: Path) -> Path:
    """The spec as a file whose blocks live in blocks/NAME.yaml, one file each."""
    spec = yaml.safe_load(text)
    blocks = spec.pop("blocks", {})
    (directory / "blocks").mkdir()
    for name, block in blocks.items():
        file = directory / "blocks" / f"{name}.yaml"
        file.write_text(yaml.safe_dump({"blocks": {name: block}}, allow_unicode=True))
    spec = {"include": [f"blocks/{name}.yaml" for name in blocks], **spec}
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return path


@fuzz_settings(ci_examples=40)
@given(valid_cases())
def test_compiled_module_matches_the_interpreter(case):
    text, shape = case
    note(text)
    with tempfile.TemporaryDirectory() as tmp:
        spec = _with_included_blocks(text, Path(tmp)) if len(text) % 2 else text
        differential_outcome(spec, shape)


def test_interpreter_catches_a_wrong_weight():
    """The oracle is not vacuous: perturbing one weight changes its answer."""
    text = ("linkc: 1\nname: t\ninput: [2, 4, 4]\nnodes:\n"
            "  a: {from: input, ops: [{conv: [3, 3]}, bn, relu]}\n"
            "  b: {from: [a, input], merge: concat, ops: [gap, {linear: 2}]}\noutput: b\n")
    g, gm = build(text), linkc.compile(text)
    randomize(gm, 0)
    gm.eval()
    x = torch.randn(2, 2, 4, 4)
    weights = dict(gm.state_dict())
    torch.testing.assert_close(gm(x), interpret(g, weights, x))
    weights["a.conv1.weight"] = weights["a.conv1.weight"] + 1
    assert not torch.allclose(gm(x), interpret(g, weights, x))
