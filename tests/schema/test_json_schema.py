"""linkc schema: every zoo spec validates against the generated JSON Schema, typos are
flagged, every field is described, and ops and merges come from their registries."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from linkc.cli import main
from linkc.spec.jsonschema import missing_descriptions, spec_json_schema
from tests.conftest import zoo_params

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", zoo_params(SPECS))
def test_zoo_spec_validates(path, validator):
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(
        yaml.safe_load(path.read_text()))]
    assert not errors


def test_misspelled_node_key_is_flagged(validator):
    data = yaml.safe_load((SPECS[0].parent / "resnet_110.yaml").read_text())
    data["nodes"]["stem"]["form"] = data["nodes"]["stem"].pop("from")
    messages = [e.message for e in validator.iter_errors(data)]
    assert any("'form' was unexpected" in m for m in messages)


@pytest.mark.parametrize("ops, ok", [
    (["bn", "relu", {"conv": [16, 3]}, {"conv": {"out": "2*k", "stride": 2}}], True),
    (["conv(64, 3, stride=2)", {"maxpool": 2}, {"dropout": None}, "gap"], True),
    (["conv"], False),  # conv needs its out channels
    (["batchnorm"], False),
    ([{"conv": {"outs": 16}}], False),
    ([{"conv": [16, 3, 1, 1, 1, False, 0, 9]}], False),
    ([{"bn": 1, "relu": None}], False),
])
def test_op_items(ops, ok, validator):
    data = {"linkc": 1, "name": "t", "input": [3, 8, 8], "output": "a",
            "nodes": {"a": {"from": "input", "ops": ops}}}
    assert validator.is_valid(data) is ok


def test_merges_from_the_registry(validator):
    data = {"linkc": 1, "name": "t", "input": [3], "output": "a",
            "nodes": {"a": {"from": ["input", "input"], "merge": "‖"}}}
    assert validator.is_valid(data)
    data["nodes"]["a"]["merge"] = "plus"
    assert not validator.is_valid(data)


def test_every_field_is_described():
    assert missing_descriptions(spec_json_schema()) == []


def test_cli_writes_the_schema(tmp_path, capsys):
    out = tmp_path / "linkc.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["$defs"]["OpItem"]
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "linkc topology spec"


def test_one_of_input_or_inputs_and_output_or_outputs(validator):
    base = {"linkc": 1, "name": "t", "nodes": {"a": {"from": "image", "ops": ["relu"]}}}
    assert validator.is_valid({**base, "inputs": {"image": [3, 8, 8]}, "outputs": ["a"]})
    assert validator.is_valid({**base, "input": [3, 8, 8], "output": "a"})
    assert not validator.is_valid({**base, "input": [3], "inputs": {"image": [3]}, "output": "a"})
    assert not validator.is_valid({**base, "inputs": {"image": [3]}})
    assert not validator.is_valid({**base, "inputs": {"image": [3, 8, 8, 8]}, "output": "a"})
