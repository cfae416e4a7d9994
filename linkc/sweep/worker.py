"""Train one variant of a sweep in this process: `python -m linkc.sweep.worker JOB.json`.

Each variant runs in its own process (a local subprocess or a Ray task that starts
one), so a crash, an out-of-memory kill or a Ctrl-C of one variant leaves the
others and the sweep's table intact. The run directory is a normal `linkc train`
run directory plus `variant.json` (what was swept) and, once training finished,
`result.json`; a run directory with a checkpoint and no result is resumed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

RESULT = "result.json"
VARIANT = "variant.json"

__all__ = ["RESULT", "VARIANT", "finished_result", "run_job"]


def finished_result(run_dir: Path) -> dict[str, Any] | None:
    """The result of a finished variant, or None when it has not finished."""
    path = run_dir / RESULT
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a torn write: train it again (the checkpoint resumes it)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    os.replace(tmp, path)


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train `job["variant"]` into `job["run_dir"]`; returns (and writes) its result."""
    from ..train.config import resolve_config
    from ..train.rundir import LAST
    from ..train.train import train
    from ..frontend import build

    variant, run_dir = job["variant"], Path(job["run_dir"])
    done = finished_result(run_dir)
    if done is not None:
        return done
    g = build(job["spec_path"], params=variant["params"])
    resume = (run_dir / LAST).exists()
    settings = {**job["shared"], **variant["settings"], "seed": variant["seed"],
                "run_dir": str(run_dir), "progress": False}
    if job.get("threads"):
        settings["threads"] = job["threads"]
    config = resolve_config([(f"{job['spec_path']}: train:", g.train or {}),
                             ("the sweep", settings)])
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / VARIANT, variant)
    result = train(g, config, resume=True if resume else None)
    payload = {**variant, "test_acc": result.test_acc, "best_acc": result.best_acc,
               "test_loss": result.test_loss, "steps": result.steps, "epochs": result.epochs,
               "train_s": result.step_seconds, "wall_s": result.wall_seconds,
               "resumed": resume}
    _write_json(run_dir / RESULT, payload)
    return payload


def main(argv: list[str]) -> int:
    from ..train.config import ConfigError
    from ..errors import SpecError

    job = json.loads(Path(argv[0]).read_text())
    if job.get("threads"):
        import torch

        torch.set_num_threads(int(job["threads"]))
    try:
        run_job(job)
    except (SpecError, ConfigError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
