"""`linkc import` on model files written the way popular projects write them
(tests/importer/corpus): every one imports exactly, and keeps the structure that
makes the spec editable where the project's structure allows."""

from __future__ import annotations

import functools
import re

import pytest

from linkc.importer import import_module
from tests.importer.corpus_check import CORPUS, compare, load, repeats, trained_looking


@functools.cache
def imported(name: str, factory: str):
    """(module with trained-looking weights, its input shape, its file, the import):
    each corpus model imported once for all the tests that read it."""
    module, shape, source = load(name, factory)
    module = trained_looking(module)
    return module, shape, source, import_module(module, shape)


@pytest.mark.parametrize("name, factory", CORPUS)
def test_the_corpus_imports_exactly(name, factory):
    module, shape, _, result = imported(name, factory)
    outcome = compare(module, result, shape)
    assert outcome.params_spec == outcome.params_module
    assert outcome.max_error <= 1e-6, result.spec


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_a_moduledict_dense_block_becomes_a_dense_repeat():
    """torchvision's _DenseBlock is an nn.ModuleDict: its layers are instances."""
    spec = imported("tv_densenet", "build")[3].spec
    assert spec.count("connect: dense") == 4 and list(repeats(spec).values()) == [3] * 4
    assert len(_lines(spec)) < 30, spec


@pytest.mark.zoo
def test_densenet_121_is_four_dense_repeats_in_under_30_lines():
    module, _, _ = load("tv_densenet", "build_full")
    result = import_module(trained_looking(module), (3, 224, 224))
    assert result.spec.count("connect: dense") == 4 and len(_lines(result.spec)) < 30
    assert result.params == sum(p.numel() for p in module.parameters()) == 7978856


def test_changing_a_mobilenet_v2_stage_depth_is_one_edit():
    """The residual add of InvertedResidual stays in its block: a stage is its first
    block and one repeat whose count is a top-level param, so one more block is one
    `--set`."""
    import linkc

    module, _, corpus, result = imported("tv_mobilenetv2", "build")
    spec = result.spec
    counts = repeats(spec)
    assert list(counts.values()) == [2], spec
    (stage,) = [name for name, n in counts.items() if n == 2]  # (6, 24, 3, 2): 1 + 2 blocks
    depth = re.search(rf"  {stage}: {{.*repeat: (\w+)", spec).group(1)
    one_more = corpus.InvertedResidual(24, 24, 1, expand_ratio=6)
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(linkc.compile(spec, params={depth: 3})) == count(module) + count(one_more)
    block = re.search(rf"  {stage}: {{.*block: (\w+)", spec).group(1)
    body = spec.split(f"  {block}:\n", 1)[1].split("    out:")[0]
    assert "merge: add" in body, spec


@pytest.mark.parametrize("name, factory, shape", [("tv_resnet", "build_full", (3, 224, 224)),
                                                   ("tv_mobilenetv2", "build_full",
                                                    (3, 224, 224))])
@pytest.mark.zoo
def test_full_size_torchvision_networks_import_exactly(name, factory, shape):
    module, _, _ = load(name, factory)
    module = trained_looking(module)
    result = import_module(module, shape)
    outcome = compare(module, result, shape)
    assert outcome.exact, outcome


def test_layer_scale_drop_path_and_wrapped_norms_become_their_ops():
    """timm's spellings: LayerNorm2d (a subclass permuting around F.layer_norm), LayerNorm
    over a channels-last map, a Linear MLP there (1x1 convs), `x.mul(self.gamma)`,
    GroupNorm1 (a subclass fixing one group), DropPath by its drop_prob."""
    spec = imported("timm_convnext", "build")[3].spec
    for op in ("layernorm", "scale", "drop_path", "gelu", "conv: {out: 64, k: 1, bias: true}"):
        assert op in spec, (op, spec)
    spec = imported("timm_blocks", "build")[3].spec
    assert "groupnorm: 1" in spec and "scale" in spec and "drop_path: 0.1" in spec, spec


def test_option_a_shortcut_padded_on_both_sides_is_an_exact_concat_of_sums():
    spec = imported("cifar_resnet_a", "build")[3].spec
    assert '"conv1[0:8]", add_3_1, "conv1[24:32]"' in spec and "maxpool: {k: 1, stride: 2}" \
        in spec, spec


def test_a_channel_shuffle_written_with_view_and_transpose_is_channel_shuffle():
    spec = imported("tv_shufflenetv2", "build")[3].spec
    assert "channel_shuffle: 2" in spec and '"x[0:' in spec, spec


def test_a_timm_stage_of_equal_blocks_is_one_repeat_though_the_stages_differ():
    from tests.importer.corpus.timm_convnext import ConvNeXt

    module = trained_looking(ConvNeXt(depths=(1, 3, 2), dims=(8, 16, 24)))
    result = import_module(module, (3, 32, 32))
    assert 3 in repeats(result.spec).values(), result.spec
    assert compare(module, result, (3, 32, 32)).exact


def test_sequential_keys_that_differ_by_a_number_are_instances():
    """RegNet's AnyStage names its blocks `block3-0`, `block3-1`, ... with add_module: the
    last stage's equal blocks are one repeat."""
    result = imported("tv_regnet", "build")[3]
    assert 2 in repeats(result.spec).values(), result.spec
