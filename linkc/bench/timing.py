"""Timed calls: one inference call, one training step, interleaved rounds, ratios."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass
class Timing:
    median: float  # images/s
    min: float
    max: float
    compile_s: float | None = None

    def as_dict(self) -> dict:
        return {"images_per_s": self.median, "min": self.min, "max": self.max,
                "spread": (self.max - self.min) / self.median if self.median else None,
                "compile_s": self.compile_s}


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    """A fresh autocast context per call (None: fp32, no context)."""
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=dtype)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def warm_up(fn: Callable[[], object], warmup: int, device: torch.device,
            compiled: bool) -> float | None:
    """Untimed calls; for a compiled module the first one, which compiles, is returned."""
    first = None
    for i in range(max(warmup, 1 if compiled else 0)):
        t = _timed(fn, device)
        if i == 0:
            first = t
    return first


#: Idle seconds before each timed call of a round. A thread pool that keeps spinning
#: after its work (ONNX Runtime's, by default) holds a core while the next variant
#: runs: on the 2-core CPU the expert's ResNet-110 inference right after ONNX Runtime
#: took 128 ms with no gap, 105 ms after 0.02 s and 86 ms after 0.2 s (interleaved,
#: benchmarks/RESULTS.md).
SETTLE = 0.25


def interleaved(calls: dict[str, Callable[[], object]], reps: int,
                device: torch.device, settle: float = SETTLE) -> dict[str, list[float]]:
    """Seconds per call, `reps` rounds, each round calling every variant once, each
    call after `settle` idle seconds."""
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(reps):
        for key, fn in calls.items():
            if settle:
                time.sleep(settle)
            times[key].append(_timed(fn, device))
    return times


def timing(times: list[float], batch: int, first: float | None) -> Timing:
    med = statistics.median(times)
    compile_s = max(first - med, 0.0) if first is not None else None
    return Timing(batch / med, batch / max(times), batch / min(times), compile_s)


def round_ratios(times: dict[str, list[float]], key: str, base: str) -> dict | None:
    """Throughput of `key` over `base`, round by round: median, min, max."""
    if key not in times or base not in times:
        return None
    per_round = [b / t for t, b in zip(times[key], times[base])]
    return {"median": statistics.median(per_round), "min": min(per_round),
            "max": max(per_round)}


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               autocast=contextlib.nullcontext) -> Callable[[], None]:
    """One SGD step; forward and loss under `autocast` (backward outside it, as AMP does)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            out = model(x)
            out = out[0] if isinstance(out, tuple) else out  # several outputs: the main one
            loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
    return step


def infer_call(model: nn.Module, x: torch.Tensor,
               autocast=contextlib.nullcontext) -> Callable[[], None]:
    def call():
        with torch.no_grad(), autocast():
            model(x)
    return call
