"""`linkc bench --openvino --amp`: every row says its precision, and its ratio is to the
fastest anchor of that precision (the hand-written module's, ONNX Runtime, OpenVINO)."""

from __future__ import annotations

import json
import statistics

import pytest

import linkc.train.model_setup as model_setup
from linkc.bench.report import fill_best_anchor
from linkc.bench.variants import Variant
from linkc.cli import main

TINY = """linkc: 1
name: tiny
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu, gap, {linear: 10}]}
output: a
"""
QUICK = ["--json", "--reps", "2", "--warmup", "0", "--batch", "2", "--no-compile",
         "--reference", "lowered"]


def test_best_anchor_is_the_fastest_of_the_rows_own_precision():
    # seconds per call in two rounds; images/s = batch / median
    times = {"infer": {"reference": [2.0, 2.0], "onnxruntime": [1.0, 1.0],
                       "openvino": [1.5, 1.5], "linkc_passes": [0.5, 2.0],
                       "reference_bf16": [1.0, 1.0], "openvino_bf16": [0.5, 0.5],
                       "linkc_passes_bf16": [0.25, 1.0]},
             "train": {"reference": [4.0, 4.0], "linkc_passes": [2.0, 4.0],
                       "reference_bf16": [2.0, 2.0], "linkc_passes_bf16": [1.0, 4.0]}}
    precision = {k: "bf16" if k.endswith("_bf16") else "fp32" for k in times["infer"]}
    report = {"variants": {
        k: {"precision": precision[k],
            **{m: ({"images_per_s": 2 / statistics.median(times[m][k])}
                   if k in times[m] else None) for m in ("infer", "train")}}
        for k in times["infer"]}}
    built = {k: Variant(k, {}, None, precision=precision[k]) for k in times["infer"]}
    fill_best_anchor(report, times, built)
    assert report["best_anchor"] == {"fp32": {"infer": "onnxruntime", "train": "reference"},
                                     "bf16": {"infer": "openvino_bf16",
                                              "train": "reference_bf16"}}
    v = report["variants"]
    # median of per-round ratios: fp32 inference 1.0/0.5 and 1.0/2.0 -> 2.0 and 0.5
    assert v["linkc_passes"]["vs_best_anchor"]["infer"] == pytest.approx(1.25)
    assert v["linkc_passes"]["vs_best_anchor"]["train"] == pytest.approx(1.5)
    # a bf16 row is measured against bf16 anchors only: 0.5/0.25 and 0.5/1.0
    assert v["linkc_passes_bf16"]["vs_best_anchor"]["infer"] == pytest.approx(1.25)
    assert v["linkc_passes_bf16"]["vs_best_anchor"]["anchor"]["infer"] == "openvino_bf16"
    assert v["onnxruntime"]["vs_best_anchor"]["infer"] == 1.0


def test_openvino_rows_are_pinned_and_say_their_precision(capsys, tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(model_setup, "cpu_bf16_supported", lambda: True)
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), *QUICK, "--onnx", "--openvino",
                 "--amp"]) == 0
    report = json.loads(capsys.readouterr().out)
    v = report["variants"]
    assert set(v) == {"reference", "linkc", "linkc_passes", "reference_bf16",
                      "linkc_passes_bf16", "onnxruntime", "openvino", "openvino_bf16"}
    for key, entry in v.items():
        assert entry["precision"] == ("bf16" if key.endswith("_bf16") else "fp32")
        assert entry["vs_best_anchor"]["anchor"]["infer"] in (
            ("reference_bf16", "openvino_bf16") if key.endswith("_bf16") else
            ("reference", "onnxruntime", "openvino"))
    assert v["openvino"]["train"] is None and v["openvino"]["infer"]["images_per_s"] > 0
    assert set(report["best_anchor"]) == {"fp32", "bf16"}


def test_the_table_prints_every_rows_precision_and_the_best_anchors(capsys, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(model_setup, "cpu_bf16_supported", lambda: True)
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), *QUICK[1:], "--amp"]) == 0
    table = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(table) if line.startswith("variant"))
    assert "prec" in table[head] and "x best anchor" in table[head]
    rows = table[head + 1:head + 6]
    for row in rows:  # label (52 columns), then the precision
        label, precision = row[:52], row[52:57].strip()
        assert precision == ("bf16" if "bf16" in label else "fp32")
    assert any(line.startswith("best anchor, bf16: infer hand-written eager, bf16")
               for line in table)


def test_mode_infer_times_inference_only(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["bench", str(tmp_path / "tiny.yaml"), *QUICK, "--mode", "infer"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["variants"]) == {"reference", "linkc", "linkc_passes"}
    for entry in report["variants"].values():
        assert entry["infer"]["images_per_s"] > 0
        assert entry["train"] is None and entry["train_peak_mb"] is None
