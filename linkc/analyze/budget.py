"""Memory as a limit: what a run of a spec needs at a batch size, checked before it allocates.

The shape limits (`max_activations`, ...) are per sample; whether a batch fits
depends on the machine. `estimate_memory` adds up, in float32:

- weights, from each op's `params` rule (the same estimate as `max_params`);
- for training, their gradients and the optimizer's state (SGD momentum: one
  buffer per parameter), and every activation the forward pass keeps for the
  backward pass (`memory.activation_memory`'s `stored`), plus the input batch;
- for inference (and a training run's evaluation pass), the peak of activations
  alive at once, input included;
- the data set when the run holds it in memory (given by the caller).

`check_memory` compares the total with a cap: `--max-memory SIZE` on the command
line, else the environment variable `LINKC_MAX_MEMORY`, else the memory the
machine has available now (MemAvailable in /proc/meminfo), or this process's own
headroom when that is lower (an address-space cap, `ulimit -v`, or a container's
cgroup memory.max). SIZE is bytes or a
number with K, M, G or T (powers of 1024); `0` or `off` turns the check off. The
figures are estimates (allocator slack, library workspaces and the interpreter
itself come on top), so the check catches runs that cannot fit, not every one
that will not. This module does not import torch.
"""

from __future__ import annotations

from ..errors import UserError

import os
import re
from dataclasses import dataclass, field
from math import prod

from ..expand.flat_graph import FlatGraph
from .memory import activation_memory

ENV = "LINKC_MAX_MEMORY"
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class MemoryLimitError(UserError):
    """A run would need more memory than the cap: exit 2, with how to raise the cap."""


@dataclass
class MemoryEstimate:
    batch: int
    eval_batch: int | None = None
    parts: dict[str, int] = field(default_factory=dict)  # what -> bytes

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def param_estimate(g: FlatGraph) -> int:
    """Learnable parameters from the registry's rules (no module is built)."""
    return g.rule_params()


def estimate_memory(g: FlatGraph, batch: int, *, training: bool, optimizer_buffers: int = 1,
                    eval_batch: int | None = None, data_bytes: int = 0,
                    bytes_per_value: int = 4) -> MemoryEstimate:
    """Bytes a run of `g` needs (see the module docstring); `eval_batch` adds the
    inference peak of an evaluation at that batch size when it is the larger."""
    weights = param_estimate(g) * bytes_per_value
    parts = {"weights": weights}
    input_elements = sum(prod(shape) for shape in g.inputs.values())
    acts = 0
    if training:
        parts["gradients"] = weights
        if optimizer_buffers:
            parts["optimizer state"] = weights * optimizer_buffers
        acts = activation_memory(g, batch, bytes_per_value)["stored_bytes"] + \
            batch * input_elements * bytes_per_value
        parts[f"activations kept for backward (batch {batch})"] = acts
    n = eval_batch if eval_batch is not None else (None if training else batch)
    if n is not None:  # inference: the activations (and input) alive at the peak
        peak = activation_memory(g, n, bytes_per_value)["peak_inference_bytes"]
        if not training:
            parts[f"activations (batch {n})"] = peak
        elif peak > acts:  # the evaluation pass is the larger: it sets the peak
            del parts[f"activations kept for backward (batch {batch})"]
            parts[f"evaluation activations (batch {n})"] = peak
    if data_bytes:
        parts["data set in memory"] = data_bytes
    evaluation = f"evaluation activations (batch {n})" in parts
    return MemoryEstimate(batch, n if evaluation else None, parts)


def parse_size(text: str | int) -> int:
    """'8G' -> 8 * 2**30, '512M', '1.5T', '123456' (bytes); '0' or 'off' -> 0 (no check)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return max(text, 0)
    value = str(text).strip().lower()
    if value in ("off", "none", "no", "0"):
        return 0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", value)
    if not match:
        raise MemoryLimitError(f"memory size '{text}' is not understood: write bytes or a number "
                               "with K, M, G or T (e.g. 16G, 512M), or 'off'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_memory() -> int | None:
    """Bytes the machine can give a new allocation now (MemAvailable), None if unknown."""
    return _read_int("/proc/meminfo", "MemAvailable")


def _read_int(path: str, field: str | None = None) -> int | None:
    """An integer from a /proc or /sys file (the value after `field:` when given)."""
    try:
        with open(path) as f:
            for line in f:
                if field is None:
                    return int(line.split()[0])
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_headroom() -> tuple[int, str] | None:
    """Bytes this process may still allocate under its own limits, when one is tighter
    than the machine: an address-space cap (`ulimit -v`: RLIMIT_AS counts virtual
    memory, so what is mapped already is spent) or a cgroup's memory.max (a container)."""
    import resource

    limits = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    mapped = _read_int("/proc/self/status", "VmSize")
    if soft != resource.RLIM_INFINITY and mapped is not None:
        limits.append((max(soft - mapped, 0), "this process's address-space limit, ulimit -v"))
    high, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if high is not None and used is not None:
        limits.append((max(high - used, 0), "this container's memory limit, memory.max"))
    return min(limits) if limits else None


def machine_cap() -> tuple[int | None, str]:
    """The default cap: what the machine has available, or this process's own limit
    when that is lower (a MemoryError there would come mid-allocation, not here)."""
    available = available_memory()
    own = process_headroom()
    if own is not None and (available is None or own[0] < available):
        return own
    return available, "the memory available on this machine"


def memory_cap(flag: str | int | None,
               default: tuple[int | None, str] | None = None) -> tuple[int | None, str]:
    """(cap in bytes or None for no check, where it came from). `default` replaces
    the machine's available memory (a GPU's free memory, say)."""
    if flag is not None:
        return parse_size(flag) or None, "--max-memory"
    if os.environ.get(ENV):
        return parse_size(os.environ[ENV]) or None, ENV
    return default or machine_cap()


def _size(n: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def check_memory(estimate: MemoryEstimate, flag: str | int | None, what: str,
                 batch_flag: str, default: tuple[int | None, str] | None = None) -> None:
    """Raise MemoryLimitError when `estimate` is over the cap (see the module docstring)."""
    cap, source = memory_cap(flag, default)
    if cap is None or estimate.total <= cap:
        return
    parts = ", ".join(f"{k} {_size(v)}" for k, v in estimate.parts.items() if v)
    raise MemoryLimitError(
        f"{what} at batch size {estimate.batch}"
        + (f" (evaluation batch size {estimate.eval_batch})" if estimate.eval_batch else "")
        + f" needs about {_size(estimate.total)} "
        f"({parts}), more than {_size(cap)} ({source}). Use a smaller {batch_flag} or input "
        f"size, or raise the cap with --max-memory SIZE (or {ENV}=SIZE; 'off' turns the "
        "check off).")
