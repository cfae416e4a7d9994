"""The report's ratios and its table."""

from __future__ import annotations

import torch

from .timing import round_ratios

MODES = ("infer", "train")
#: Column heads of the ratio bases (the number of the variant in linkc.bench's list).
BASE_MARK = {"reference": "1", "expert": "2", "reference_bf16": "1b", "expert_bf16": "2b",
             "onnxruntime": "6", "openvino": "7", "openvino_bf16": "7b"}


def fill_ratios(report: dict, times: dict, bases: list[str]) -> None:
    """`round_ratios` (per base, key and mode: median/min/max of the per-round ratios) and
    each variant's `vs_<base>`: the median ratio per mode and peak training memory.
    `vs_reference` and `vs_expert` are always there (None without that base)."""
    variants = report["variants"]
    report["round_ratios"] = {
        base: {key: {mode: round_ratios(times[mode], key, base) for mode in MODES}
               for key in variants} for base in bases}
    for base, per_key in report["round_ratios"].items():
        for key, modes in per_key.items():
            for mode, r in modes.items():
                if variants[key][mode] is not None:
                    variants[key][mode].setdefault("round_ratio", {})[base] = \
                        r["median"] if r else None
    for entry in variants.values():
        for base in dict.fromkeys(["reference", "expert", *bases]):
            if base not in bases:
                entry[f"vs_{base}"] = None
                continue
            ratio = {mode: (entry[mode]["round_ratio"][base] if entry[mode] else None)
                     for mode in MODES}
            mine, theirs = entry.get("train_peak_mb"), variants[base].get("train_peak_mb")
            ratio["train_peak_mem"] = mine / theirs if mine and theirs else None
            entry[f"vs_{base}"] = ratio


def fill_best_anchor(report: dict, times: dict, built: dict) -> None:
    """Each variant's `vs_best_anchor`: per mode, the median of its per-round ratios to the
    fastest anchor of its own precision in that mode (variants.ANCHORS; fastest by median
    images/s), and that anchor's key under "anchor". None where its precision has no
    anchor in the run; `best_anchor` names them per precision and mode."""
    from .variants import ANCHORS

    variants, best = report["variants"], {}
    for precision, groups in ANCHORS.items():
        present = [next((k for k in group if k in built), None) for group in groups]
        for mode in MODES:
            rated = [k for k in present if k and variants[k][mode]]
            if rated:
                best.setdefault(precision, {})[mode] = max(
                    rated, key=lambda k: variants[k][mode]["images_per_s"])
    report["best_anchor"] = best
    for key, entry in variants.items():
        anchors = best.get(entry["precision"], {})
        ratio = {mode: (round_ratios(times[mode], key, anchors[mode]) or {}).get("median")
                 if mode in anchors else None for mode in MODES}
        entry["vs_best_anchor"] = {**ratio, "anchor": dict(anchors)} if anchors else None


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    import platform
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _ratio_cell(v: dict, base: str) -> str:
    r = v.get(f"vs_{base}")
    if not r:
        return "-"
    return "/".join("-" if r[m] is None else f"{r[m]:.2f}" for m in MODES)


def _anchor_cell(v: dict) -> str:
    r = v.get("vs_best_anchor")
    if not r:
        return "-"
    return "/".join("-" if r[m] is None else f"{r[m]:.2f}" for m in MODES)


def _rate_cell(t: dict | None) -> str:
    return f"{t['images_per_s']:12.1f} {t['spread']:7.1%}" if t else f"{'-':>12} {'':7}"


def format_table(report: dict) -> str:
    lines = [f"{report['spec']} on {report['device']}, batch {report['batch']}, "
             f"{report['reps']} reps after {report['warmup']} warm-up (torch {report['torch']})"]
    ref = report["reference"]
    if ref:
        lines.append(f"reference {ref['name']}: {ref['params']:,} params, linkc "
                     f"{ref['linkc_params']:,}" + ("" if ref["params_equal"] else "  <-- DIFFER"))
    lines.append(f"default passes: infer {','.join(report['passes']['infer']) or 'none'}; "
                 f"train {','.join(report['passes']['train']) or 'none'}")
    bases = [b for b in BASE_MARK if b in report.get("round_ratios", {})] or ["reference",
                                                                              "expert"]
    lines.append(f"{'variant':52} {'prec':>4} {'infer img/s':>12} {'spread':>7} "
                 f"{'train img/s':>12} {'spread':>7} {'peak MiB':>9} "
                 + " ".join(f"{f'x({BASE_MARK[b]}) inf/tr':>13}" for b in bases)
                 + f" {'x best anchor':>13} {'compile s':>10}")
    for v in report["variants"].values():
        comp = [v[m]["compile_s"] for m in MODES if v[m] and v[m]["compile_s"] is not None]
        mem = v.get("train_peak_mb")
        lines.append(
            f"{v['label']:52} {v['precision']:>4} {_rate_cell(v['infer'])} "
            f"{_rate_cell(v['train'])} {(f'{mem:9.0f}' if mem is not None else '        -')} "
            + " ".join(f"{_ratio_cell(v, b):>13}" for b in bases)
            + f" {_anchor_cell(v):>13} {('/'.join(f'{c:.0f}' for c in comp) or '-'):>10}")
    lines.append("ratios: the median of per-round ratios (rounds interleave every variant)")
    for precision, modes in report.get("best_anchor", {}).items():
        lines.append(f"best anchor, {precision}: " + ", ".join(
            f"{mode} {report['variants'][k]['label']}" for mode, k in modes.items()))
    for key, choice in report.get("auto_choice", {}).items():
        lines.append(f"{report['variants'][key]['label']}: chose {choice['backend']} "
                     f"({choice['source']})")
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)
