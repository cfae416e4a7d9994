"""Peak memory of one training step.

CUDA: ``torch.cuda.max_memory_allocated`` during one step minus what was allocated
before it. CPU: tracemalloc does not see torch's allocations, so the bench measures
the process's resident peak, in a fresh process per eager variant (memory freed by
one variant is not reliably returned before the next in one process): it fixes
glibc's mmap threshold (``mallopt``) so that every large tensor is its own mapping
and freed memory goes back to the OS at once, takes a warm-up step, resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``), runs one training step, and
reports VmHWM minus the RSS before the step. That is the activations and
temporaries of a step, in bytes the OS really gave the process; None where /proc
does not allow it, and for compiled variants on the CPU.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import torch

from .refs import reference_factory
from .timing import _sync, train_step


def _proc_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_freed_memory_eagerly() -> bool:
    """glibc: every allocation >= 64 KiB its own mmap, returned to the OS on free."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-3, 64 * 1024) == 1  # M_MMAP_THRESHOLD
        libc.malloc_trim(0)
        return ok
    except (OSError, AttributeError):
        return False


def peak_step_memory_mb(step: Callable[[], None], device: torch.device) -> float | None:
    """Peak extra memory of one training step, in MiB (see the module docstring)."""
    if device.type == "cuda":
        _sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _proc_kb("VmRSS")
    step()
    peak = _proc_kb("VmHWM")
    return None if before is None or peak is None else (peak - before) / 1024


def peak_in_child(spec: str, key: str, ref_name: str | None, passes: list[str],
                  batch: int, options: dict) -> float | None:
    """One training step's peak extra memory (MiB), measured in a fresh process."""
    args = json.dumps([str(spec), key, ref_name, passes, batch, options])
    code = ("import json, linkc.bench.memory as m; "
            f"print(json.dumps(m.child_peak(*json.loads({args!r}))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=3600)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def child_peak(spec: str, key: str, ref_name: str | None, passes: list[str],
               batch: int, options: dict) -> float | None:
    """(In the child process.) Build one eager variant, take a warm-up step (so that
    gradients and one-time buffers exist), then measure the peak of the next step."""
    import linkc

    _release_freed_memory_eagerly()
    torch.manual_seed(0)
    if key == "reference" and ref_name != "lowered":
        model = reference_factory(ref_name)()
    else:
        chosen = passes if key == "linkc_passes" else []
        model = linkc.compile(spec, passes=chosen, mode="train", **options)
    graph = linkc.build(spec, **options)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *graph.input_shape), generator=gen)
    y = torch.randint(0, graph.nodes[graph.output].shape[0], (batch,), generator=gen)
    model.train()
    step = train_step(model, x, y)
    step()
    return peak_step_memory_mb(step, torch.device("cpu"))
