"""Where the variants of a sweep train: local worker processes, or Ray tasks on a cluster.

Both backends run the same thing, `python -m linkc.sweep.worker JOB.json`, so a
variant behaves the same on a laptop and on a cluster: one process per variant,
its own run directory, its own share of the cores. A backend only decides where
that process starts and reports `(job, returncode, stderr tail)` as each ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .plan import SweepError

__all__ = ["Outcome", "cpu_share", "run_local", "run_ray"]

#: How much of a failed worker's stderr the sweep keeps (the error message is at the end).
STDERR_TAIL = 2000


@dataclass
class Outcome:
    job: dict
    returncode: int
    stderr: str


def cpu_share(workers: int) -> int:
    """Threads each of `workers` local processes gets: the cores split evenly, at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers))


def _job_file(job: dict) -> Path:
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.json"
    path.write_text(json.dumps(job, indent=1, default=str))
    return path


def run_worker_process(job: dict) -> tuple[int, str]:
    """Run one job in a fresh Python process; (returncode, stderr tail)."""
    env = dict(os.environ)
    if job.get("threads"):
        # The math libraries read these at start-up, before torch.set_num_threads.
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(job["threads"])
    proc = subprocess.run([sys.executable, "-m", "linkc.sweep.worker", str(_job_file(job))],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc.returncode, proc.stderr[-STDERR_TAIL:]


def run_local(jobs: list[dict], workers: int) -> Iterator[Outcome]:
    """Run the jobs `workers` at a time in local processes; yield each as it ends."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(run_worker_process, job): job for job in jobs}
        for future in as_completed(futures):
            code, err = future.result()
            yield Outcome(futures[future], code, err)


def run_ray(jobs: list[dict], address: str | None, cpus_per_job: int,
            init: Callable[..., object] | None = None) -> Iterator[Outcome]:
    """Run the jobs as Ray tasks (one CPU share each) on the cluster at `address`
    (None: a local Ray instance); yield each as it ends.

    Every node must see the same paths (a shared file system, as for any Ray job
    that writes files) and have linkc installed."""
    try:
        import ray
    except ImportError:
        raise SweepError("--backend ray needs Ray: pip install 'linkc[sweep]'") from None
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": os.cpu_count()}
        (init or ray.init)(include_dashboard=False, log_to_driver=False, **kwargs)
    task = ray.remote(num_cpus=cpus_per_job, max_retries=0)(run_worker_process)
    pending = {task.remote(job): job for job in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            job = pending.pop(ref)
            try:
                code, err = ray.get(ref)
            except Exception as exc:  # a task lost with its node: report, do not stop the sweep
                code, err = -1, f"ray task failed: {exc}"
            yield Outcome(job, code, err)


def outcomes(jobs: list[dict], backend: str, workers: int, address: str | None,
             threads: int) -> Iterable[Outcome]:
    if backend == "local":
        return run_local(jobs, workers)
    if backend == "ray":
        return run_ray(jobs, address, threads)
    raise SweepError(f"unknown backend '{backend}': use local or ray")
