"""`linkc sweep`: variants, the table, plots, resuming, and the Ray backend."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linkc.cli import main
from linkc.sweep import SweepError, SweepPlan, parse_set, prepare, run_sweep
from linkc.sweep.plan import plan_variants
from linkc.sweep.table import pareto_front

ROOT = Path(__file__).resolve().parents[2]

# Two widths of a tiny conv net on 8x8 digits: a sweep of it trains in seconds.
TINY = """\
linkc: 1
name: tiny
params: {w: 8, classes: 10, join: add}
input: [1, 8, 8]
nodes:
  stem: {from: input, ops: [{conv: w}, bn, relu]}
  body: {from: stem, ops: [{conv: w}, bn, relu]}
  mix:  {from: [stem, body], merge: join}
  head: {from: mix, ops: [gap, {linear: classes}]}
output: head
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def worker_env(monkeypatch):
    """Worker subprocesses import this checkout and use one thread each."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


# ------------------------------------------------------------------ the plan
def test_set_values_are_yaml_and_commas_inside_brackets_do_not_split():
    grid = parse_set(["L=12,24", "merge=add,mean", "stages=[1, 2],[3, 4]", "lr=0.1"])
    assert grid == {"L": [12, 24], "merge": ["add", "mean"], "stages": [[1, 2], [3, 4]],
                    "lr": [0.1]}


@pytest.mark.parametrize("item, message", [
    ("L", "--set expects NAME=V1,V2,..., got 'L'"),
    ("L=12,,24", "--set L: empty value in '12,,24'"),
    ("1x=2", "--set expects NAME=V1,V2,..., got '1x=2'"),
])
def test_bad_set_items(item, message):
    with pytest.raises(SweepError) as err:
        parse_set([item])
    assert str(err.value) == message


def test_grid_times_seeds_and_names_sorted_into_params_and_settings():
    plan = SweepPlan(specs=["a.yaml", "b.yaml"], grid={"L": [1, 2], "lr": [0.1, 0.2]}, seeds=3)
    variants = plan_variants(plan, {"a.yaml": {"L"}, "b.yaml": {"L", "k"}}, {"lr", "epochs"})
    assert len(variants) == 2 * 2 * 2 * 3
    assert {(v.spec, v.params["L"], v.settings["lr"]) for v in variants} == {
        (s, L, lr) for s in ("a.yaml", "b.yaml") for L in (1, 2) for lr in (0.1, 0.2)}
    assert len({v.id for v in variants}) == len(variants)
    assert len({v.point for v in variants}) == 8
    # ids depend only on the variant, so a re-run finds its run directories again
    again = plan_variants(plan, {"a.yaml": {"L"}, "b.yaml": {"L", "k"}}, {"lr", "epochs"})
    assert [v.id for v in again] == [v.id for v in variants]


def test_a_swept_name_that_is_neither_param_nor_setting_is_an_error():
    plan = SweepPlan(specs=["a.yaml"], grid={"depht": [1]})
    with pytest.raises(SweepError, match="'depht' is neither a param of a.yaml nor a training "
                                         r"setting \(its params: depth, k\)"):
        plan_variants(plan, {"a.yaml": {"depth", "k"}}, {"lr"})


def test_random_sampling_is_seeded_and_stays_in_its_ranges():
    raw = {"specs": ["a.yaml"], "grid": {"L": [1, 2]},
           "random": {"budget": 5, "seed": 3,
                      "space": {"k": [12, 24], "lr": {"low": 0.01, "high": 0.3, "log": True},
                                "w": {"low": 2, "high": 9, "int": True}}}}
    names = {"a.yaml": {"L", "k", "w"}}
    first = plan_variants(SweepPlan.model_validate(raw), names, {"lr"})
    second = plan_variants(SweepPlan.model_validate(raw), names, {"lr"})
    assert [v.as_dict() for v in first] == [v.as_dict() for v in second]
    assert len(first) == 2 * 5  # the grid crossed with the draws
    for v in first:
        assert v.params["k"] in (12, 24) and 0.01 <= v.settings["lr"] <= 0.3
        assert isinstance(v.params["w"], int) and 2 <= v.params["w"] <= 9


def test_pareto_front_against_brute_force():
    rng = random.Random(0)
    for _ in range(50):
        costs = [rng.randint(1, 20) for _ in range(12)]
        scores = [rng.randint(1, 20) for _ in range(12)]
        dominated = {i for i in range(12) for j in range(12)
                     if costs[j] <= costs[i] and scores[j] >= scores[i]
                     and (costs[j], scores[j]) != (costs[i], scores[i])}
        front = pareto_front(costs, scores)
        # ties keep one representative: compare the (cost, score) pairs
        assert {(costs[i], scores[i]) for i in front} == {
            (costs[i], scores[i]) for i in range(12) if i not in dominated}


def test_prepare_counts_every_point_and_sweeps_a_merge_kind_through_a_param(tiny):
    plan = SweepPlan(specs=[str(tiny)], grid={"w": [4, 8], "join": ["add", "concat"]})
    variants, points = prepare(plan)
    by_values = {(p["values"]["w"], p["values"]["join"]): p for p in points}
    # conv(1->w, 3x3) + bn + conv(w->w) + bn + linear(C->10), C = w for add, 2w for concat
    for (w, join), p in by_values.items():
        c = w if join == "add" else 2 * w
        assert p["params"] == 9 * w + 2 * w + 9 * w * w + 2 * w + c * 10 + 10
    assert len(variants) == 4


def test_dry_run_rejects_an_invalid_variant_with_its_located_error(tiny, capsys):
    code = main(["sweep", str(tiny), "--set", "w=4,0", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert "1 variant(s) do not build" in err
    assert f"{tiny}:6:36: error: conv argument 'out': input should be greater than 0" in err


def test_dry_run_lists_variants(tiny, capsys):
    assert main(["sweep", str(tiny), "--set", "w=4,8", "--seeds", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "4 variant(s): 2 point(s) x 2 seed(s)"
    assert "w=4, join=add" not in out and "w=4" in out and "params" in out


# ----------------------------------------------------------- training sweeps
def test_sweep_trains_tabulates_plots_and_skips_finished_variants(tiny, tmp_path, worker_env,
                                                                  capsys):
    out = tmp_path / "sw"
    args = ["sweep", str(tiny), "--set", "w=4,8", "--seeds", "2", "--epochs", "1",
            "--workers", "2", "-o", str(out)]
    assert main(args) == 0
    assert "4 variant(s): 4 trained, 0 already done, 0 failed" in capsys.readouterr().out
    with open(out / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["set.w"] for r in rows] == ["4", "8"]
    assert {"params", "macs", "acc_mean", "acc_std", "seeds_done", "train_s_mean"} <= set(rows[0])
    assert all(r["seeds_done"] == "2" for r in rows)
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    for row in rows:
        accs = [r["test_acc"] for r in runs if r["point"] == row["point"]]
        assert float(row["acc_mean"]) == pytest.approx(sum(accs) / 2)
    for name in ("pareto.png", "settings.png"):
        w, h = png_size(out / name)
        assert w > 400 and h > 300
    for run in (out / "runs").iterdir():  # each variant is a normal run directory
        assert (run / "weights.safetensors").exists() and (run / "epochs.csv").exists()
    assert main(args) == 0
    assert "4 variant(s): 0 trained, 4 already done, 0 failed" in capsys.readouterr().out


def test_a_killed_variant_resumes_on_the_next_run(tiny, tmp_path, worker_env, capsys):
    out = tmp_path / "sw"
    plan = SweepPlan(specs=[str(tiny)], grid={"w": [4]},
                     train={"epochs": 2, "checkpoint_every": 1, "batch_size": 64})
    variants, _ = prepare(plan)
    (variant,) = variants
    run_dir = out / "runs" / variant.id
    job = {"variant": variant.as_dict(), "run_dir": str(run_dir), "spec_path": str(tiny),
           "shared": dict(plan.train), "threads": 1}
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps(job))
    proc = subprocess.Popen([sys.executable, "-m", "linkc.sweep.worker",
                             str(run_dir / "job.json")], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (run_dir / "last.safetensors").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "the worker never wrote a checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "result.json").exists()

    report = run_sweep(plan, out, progress=False)
    assert report.trained == 1 and not report.failures
    result = json.loads((run_dir / "result.json").read_text())
    assert result["resumed"] is True
    steps_per_epoch = -(-1437 // 64)  # digits: 80% of 1,797 images for training
    assert result["steps"] == 2 * steps_per_epoch


def test_ray_backend_on_a_local_instance(tiny, tmp_path, worker_env):
    ray = pytest.importorskip("ray")
    out = tmp_path / "sw"
    plan = SweepPlan(specs=[str(tiny)], grid={"w": [4, 8]}, train={"epochs": 1})
    try:
        report = run_sweep(plan, out, backend="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    assert report.trained == 2 and not report.failures
    with open(out / "table.csv") as f:
        assert [r["seeds_done"] for r in csv.DictReader(f)] == ["1", "1"]
