"""`linkc bench` with a tiny budget: the JSON report has every field, for every variant."""

import json
from pathlib import Path

from linkc.cli import main

SPEC = Path(__file__).resolve().parents[2] / "specs" / "resnet_20.yaml"


def test_bench_cli_tiny_budget_json(capsys, tmp_path):
    text = SPEC.read_text().replace("input: [3, 32, 32]", "input: [3, 8, 8]")
    spec = tmp_path / "resnet_20.yaml"
    spec.write_text(text)
    code = main(["bench", str(spec), "--json", "--reps", "1", "--warmup", "0",
                 "--batch", "4", "--no-compile", "--reference", "resnet-110"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["batch"] == 4 and report["reps"] == 1 and report["compile"] is False
    assert set(report["passes"]) == {"infer", "train"}
    assert set(report["variants"]) == {"reference", "linkc", "linkc_passes"}
    ref = report["reference"]
    assert ref["name"] == "resnet-110" and ref["params"] == 1_727_962
    assert ref["params_equal"] is False  # resnet-20 is not resnet-110: said loudly
    assert any("PARAMETER COUNTS DIFFER" in w for w in report["warnings"])
    for key, v in report["variants"].items():
        for mode in ("infer", "train"):
            assert v[mode]["images_per_s"] > 0
            assert v[mode]["min"] <= v[mode]["images_per_s"] <= v[mode]["max"]
            assert v[mode]["compile_s"] is None  # nothing compiled
        assert v["train_peak_mb"] is None or v["train_peak_mb"] >= 0
        assert set(v["vs_reference"]) == {"infer", "train", "train_peak_mem"}
        assert v["vs_expert"] is None  # (2) needs torch.compile
    assert report["variants"]["reference"]["vs_reference"]["infer"] == 1.0


def test_bench_unknown_reference_is_a_usage_error(capsys):
    assert main(["bench", str(SPEC), "--reference", "nope", "--no-compile"]) == 2
    assert "no reference 'nope'" in capsys.readouterr().err
