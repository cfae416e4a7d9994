"""Truncated, corrupted or mismatched weight files give clear errors where linkc loads
them (`linkc.train.checkpoint` and the export's weight loader), never a crash."""

from __future__ import annotations

import pytest

from linkc.cli import main

SPEC = ("linkc: 1\nname: small\ninput: [3, 8, 8]\nnodes:\n"
        "  a: {from: input, ops: [{conv: [4, 3]}, bn, relu]}\n"
        "  b: {from: a, ops: [gap, {linear: 2}]}\noutput: b\n")
OTHER = SPEC.replace("{conv: [4, 3]}", "{conv: [5, 3]}")


@pytest.fixture
def artifacts(tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC)
    assert main(["compile", str(spec), "-o", str(tmp_path / "out"), "--passes", "none"]) == 0
    capsys.readouterr()
    return tmp_path / "out" / "weights.safetensors"


def _corruptions(raw: bytes) -> dict[str, bytes]:
    header = int.from_bytes(raw[:8], "little")
    return {
        "empty": b"",
        "truncated_length": raw[:5],
        "truncated_header": raw[: 8 + header // 2],
        "truncated_data": raw[:-7],
        "huge_header_length": (2**62).to_bytes(8, "little") + raw[8:],
        "header_not_json": raw[:8] + b"\xff" * header + raw[8 + header:],
        "offsets_beyond_file": raw[:8] + raw[8:8 + header].replace(b'"data_offsets":[0,',
                                                                   b'"data_offsets":[999999,')
        + raw[8 + header:],
        "pickle_instead": b"\x80\x04\x95" + b"cos\nsystem\n" + raw[11:],
    }


def _all_cases(path):
    raw = path.read_bytes()
    return _corruptions(raw)


def test_every_corruption_is_a_checkpoint_error(artifacts):
    from linkc.train.checkpoint import CheckpointError, read_weights

    read_weights(artifacts)  # the intact file reads
    for name, data in _all_cases(artifacts).items():
        bad = artifacts.with_name(f"{name}.safetensors")
        bad.write_bytes(data)
        with pytest.raises(CheckpointError, match="truncated or corrupt|not a readable"):
            read_weights(bad)


def test_every_corruption_is_an_export_error(artifacts):
    from linkc import compile as compile_spec
    from linkc.compiler.emit.export import ExportError, load_weights

    gm = compile_spec(SPEC)
    load_weights(gm, artifacts)
    for name, data in _all_cases(artifacts).items():
        bad = artifacts.with_name(f"{name}.safetensors")
        bad.write_bytes(data)
        with pytest.raises(ExportError, match="cannot read weights"):
            load_weights(gm, bad)


def test_weights_of_another_spec_are_refused_with_the_differences(artifacts):
    from linkc import compile as compile_spec
    from linkc.compiler.emit.export import ExportError, load_weights
    from linkc.train.checkpoint import CheckpointError, check_model_keys, read_weights

    other = compile_spec(OTHER)
    with pytest.raises(ExportError, match="a.conv1.weight"):
        load_weights(other, artifacts)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        check_model_keys(read_weights(artifacts), other.state_dict(), "weights", "other")
    missing = {k: v for k, v in read_weights(artifacts).items() if not k.startswith("b.")}
    with pytest.raises(CheckpointError, match="missing"):
        check_model_keys(missing, compile_spec(SPEC).state_dict(), "weights", "small")
