"""Markdown rows from `linkc bench --json` reports: the ratios the targets name.

    python benchmarks/bench_table.py REPORT.json [REPORT.json ...]

Per spec: linkc passes + compile (5) against the expert baseline (2) and against ONNX
Runtime (6), its bf16 twin (5b) against the expert's (2b), inference/training, each the
median of the per-round ratios (min-max in brackets; "~": the quotient of the two
variants' medians against (2), where the run did not take the base as one), and the
worst spread of a variant's rounds.
"""

from __future__ import annotations

import json
import sys


def _cell(report: dict, key: str, base: str, mode: str) -> str:
    ratios = report.get("round_ratios", {})
    r = ratios.get(base, {}).get(key, {}).get(mode)
    if r:
        return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"
    # not a base of the run: the quotient of the two medians against (2), marked ~
    mine, theirs = (ratios.get("expert", {}).get(k, {}).get(mode) for k in (key, base))
    return f"~{mine['median'] / theirs['median']:.2f}" if mine and theirs else "-"


def row(report: dict) -> str:
    v = report["variants"]
    rate = {k: v[k]["infer"]["images_per_s"] for k in v if v[k]["infer"]}
    train = {k: v[k]["train"]["images_per_s"] for k in v if v[k].get("train")}
    spread = max((v[k][m]["spread"] for k in v for m in ("infer", "train") if v[k][m]),
                 default=0)
    cells = [report["spec"], (report["reference"] or {}).get("name", "-"),
             f"{rate.get('expert', 0):.1f} / {train.get('expert', 0):.1f}",
             f"{rate.get('linkc_compiled', 0):.1f} / {train.get('linkc_compiled', 0):.1f}",
             _cell(report, "linkc_compiled", "expert", "infer"),
             _cell(report, "linkc_compiled", "expert", "train"),
             _cell(report, "linkc_compiled", "onnxruntime", "infer"),
             _cell(report, "linkc_compiled_bf16", "expert_bf16", "infer"),
             _cell(report, "linkc_compiled_bf16", "expert_bf16", "train"),
             _cell(report, "linkc_compiled_bf16", "linkc_compiled", "infer"),
             f"{spread:.0%}"]
    return "| " + " | ".join(cells) + " |"


HEAD = ("| spec | reference | (2) img/s inf / train | (5) img/s inf / train | (5)/(2) infer "
        "| (5)/(2) train | (5)/(6) infer | (5b)/(2b) infer | (5b)/(2b) train "
        "| (5b)/(5) infer | worst spread |\n|" + "---|" * 11)


def main(paths: list[str]) -> None:
    print(HEAD)
    for path in paths:
        print(row(json.load(open(path))))


if __name__ == "__main__":
    main(sys.argv[1:])
