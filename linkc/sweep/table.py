"""A sweep's results as one table (per point: seeds aggregated) and its plots.

    OUT/table.csv, table.jsonl   one row per point: spec, swept values, params, MACs,
                                 test accuracy mean/std/min/max over seeds, seeds done,
                                 train seconds mean
    OUT/runs.jsonl               one row per variant (each seed), as its worker wrote it
    OUT/pareto.png               accuracy against parameters and against MACs, Pareto
                                 front (fewer params/MACs, higher accuracy) marked
    OUT/settings.png             accuracy per value of each swept name, per spec
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

__all__ = ["aggregate", "pareto_front", "write_plots", "write_table"]


def aggregate(points: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`points`: one dict per point (point id, spec, values, params, macs); `results`: the
    finished variants. Returns the table rows, in the order of `points`."""
    by_point: dict[str, list[dict]] = {}
    for r in results:
        by_point.setdefault(r["point"], []).append(r)
    rows = []
    for p in points:
        accs = [r["test_acc"] for r in by_point.get(p["point"], [])]
        secs = [r["train_s"] for r in by_point.get(p["point"], [])]
        rows.append({
            "point": p["point"], "spec": p["spec"], **{f"set.{k}": v for k, v in p["values"].items()},
            "params": p["params"], "macs": p["macs"],
            "seeds_done": len(accs), "seeds": p["seeds"],
            "acc_mean": statistics.fmean(accs) if accs else None,
            "acc_std": statistics.stdev(accs) if len(accs) > 1 else (0.0 if accs else None),
            "acc_min": min(accs) if accs else None, "acc_max": max(accs) if accs else None,
            "train_s_mean": statistics.fmean(secs) if secs else None,
        })
    return rows


def write_table(out: Path, rows: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with open(out / "table.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c)) for c in columns})
    (out / "table.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    (out / "runs.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in results))


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def pareto_front(costs: list[float], scores: list[float]) -> list[int]:
    """Indices of the points no other point beats: lower or equal cost and higher or
    equal score, strictly better in one. Sorted by cost."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i]))
    front, best = [], float("-inf")
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front


def _label(row: dict[str, Any]) -> str:
    values = ", ".join(f"{k[4:]}={v}" for k, v in row.items() if k.startswith("set."))
    return f"{Path(row['spec']).stem}" + (f" ({values})" if values else "")


def write_plots(out: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Write pareto.png and settings.png; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["acc_mean"] is not None]
    if not done:
        return []
    specs = sorted({r["spec"] for r in done})
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(specs)}
    written = [_plot_pareto(plt, out / "pareto.png", done, specs, colors)]
    swept = [k for k in done[0] if k.startswith("set.")]
    if swept:
        written.append(_plot_settings(plt, out / "settings.png", done, specs, colors, swept))
    return written


def _plot_pareto(plt, path: Path, done: list[dict], specs: list[str], colors: dict) -> Path:
    """Accuracy against parameters and against MACs, each with its Pareto front."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for ax, key, name in ((axes[0], "params", "parameters"), (axes[1], "macs", "MACs per sample")):
        for spec in specs:
            mine = [r for r in done if r["spec"] == spec]
            ax.errorbar([r[key] for r in mine], [100 * r["acc_mean"] for r in mine],
                        yerr=[100 * r["acc_std"] for r in mine], fmt="o", capsize=3,
                        color=colors[spec], label=Path(spec).stem)
        front = pareto_front([r[key] for r in done], [r["acc_mean"] for r in done])
        ax.plot([done[i][key] for i in front], [100 * done[i]["acc_mean"] for i in front],
                "--o", color="0.3", lw=1, ms=11, mfc="none", label="Pareto front", zorder=0)
        for i in front:
            ax.annotate(_label(done[i]), (done[i][key], 100 * done[i]["acc_mean"]),
                        fontsize=7, xytext=(4, -10), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("test accuracy (%), mean ± std over seeds")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_settings(plt, path: Path, done: list[dict], specs: list[str], colors: dict,
                   swept: list[str]) -> Path:
    """Accuracy against each swept setting, one panel a setting, one line a spec."""
    fig, axes = plt.subplots(1, len(swept), figsize=(4.5 * len(swept), 3.8),
                             constrained_layout=True, squeeze=False)
    for ax, key in zip(axes[0], swept):
        values = sorted({json.dumps(r.get(key), default=str) for r in done})
        for spec in specs:
            xs, ys, es = [], [], []
            for j, v in enumerate(values):
                same = [r for r in done if r["spec"] == spec
                        and json.dumps(r.get(key), default=str) == v]
                if same:
                    xs.append(j)
                    ys.append(100 * statistics.fmean(r["acc_mean"] for r in same))
                    es.append(100 * max(r["acc_std"] for r in same))
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, color=colors[spec],
                        label=Path(spec).stem)
        ax.set_xticks(range(len(values)), [json.loads(v) for v in values])
        ax.set_xlabel(key[4:])
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
