"""Markdown tables from `linkc bench --onnx --openvino --amp --backend inductor,auto --json`
reports: per spec and precision, linkc's path before (inductor, row (5)) and after
(`backend="auto"`) against the fastest anchor of that precision (the hand-written
module's compiled or autocast variant, ONNX Runtime, OpenVINO), and the training rows.

    python benchmarks/backends_table.py REPORT.json [REPORT.json ...]

Ratios are medians of per-round ratios from the run itself (`vs_best_anchor`, min-max
in brackets where the run took the anchor as a base); images/s are medians.
"""

from __future__ import annotations

import json
import sys

#: per precision: (linkc before, linkc after, the anchors in the order printed)
ROWS = {"fp32": ("linkc_compiled", "linkc_auto", ("expert", "reference", "onnxruntime",
                                                  "openvino")),
        "bf16": ("linkc_compiled_bf16", "linkc_auto_bf16", ("expert_bf16", "reference_bf16",
                                                            "openvino_bf16"))}
SHORT = {"expert": "expert", "reference": "hand-written", "onnxruntime": "ORT",
         "openvino": "OpenVINO", "expert_bf16": "expert", "reference_bf16": "hand-written",
         "openvino_bf16": "OpenVINO"}


def _rate(v: dict, key: str, mode: str) -> str:
    entry = v.get(key, {}).get(mode)
    return f"{entry['images_per_s']:.1f}" if entry else "-"


def _vs(v: dict, key: str, mode: str) -> str:
    r = (v.get(key) or {}).get("vs_best_anchor")
    return f"{r[mode]:.2f}" if r and r.get(mode) is not None else "-"


def infer_rows(report: dict) -> list[str]:
    v, rows = report["variants"], []
    for precision, (before, after, anchors) in ROWS.items():
        best = report.get("best_anchor", {}).get(precision, {}).get("infer")
        if best is None:
            continue
        chosen = report.get("auto_choice", {}).get(after, {}).get("backend", "-")
        rates = " / ".join(f"{SHORT[a]} {_rate(v, a, 'infer')}" for a in anchors if a in v)
        rows.append(f"| {report['spec']} | {precision} | {rates} | {_rate(v, before, 'infer')} "
                    f"| {_rate(v, after, 'infer')} ({chosen}) | {SHORT[best]} "
                    f"| {_vs(v, before, 'infer')} | **{_vs(v, after, 'infer')}** |")
    return rows


def train_rows(report: dict) -> list[str]:
    v, rows = report["variants"], []
    for precision, (before, _, anchors) in ROWS.items():
        hand = next((a for a in anchors[:2] if v.get(a, {}).get("train")), None)
        if hand is None or not v.get(before, {}).get("train"):
            continue
        ratio = report["round_ratios"].get(hand, {}).get(before, {}).get("train")
        cell = f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else \
            _vs(v, before, "train")
        rows.append(f"| {report['spec']} | {precision} | {_rate(v, hand, 'train')} "
                    f"| {_rate(v, before, 'train')} | {cell} |")
    return rows


INFER_HEAD = ("| spec | prec | anchors, img/s | linkc before (inductor) | linkc after (auto: "
              "chose) | best anchor | before / best | after / best |\n|" + "---|" * 8)
TRAIN_HEAD = ("| spec | prec | expert img/s | linkc img/s | linkc / expert |\n|"
              + "---|" * 5)


def main(paths: list[str]) -> None:
    reports = [json.loads(open(p).read()) for p in paths]
    infer = [r for rep in reports for r in infer_rows(rep)]
    train = [r for rep in reports for r in train_rows(rep)]
    if infer:
        print(INFER_HEAD, *infer, sep="\n")
    if train:
        print(("\n" if infer else "") + TRAIN_HEAD, *train, sep="\n")


if __name__ == "__main__":
    main(sys.argv[1:])
