"""`backend="auto"`: the fastest installed backend for this model, batch and machine.

The choice is made at the module's first call, on that call's inputs: every installed
backend that can run the mode and precision is built, warmed up (the first call
compiles), then timed in interleaved rounds (each round calls every backend once, after
a short idle gap, so a noisy neighbour slows all of them alike and a spinning thread
pool does not slow the next); the lowest median wins. A backend that fails to build
(an op its exporter lacks) is left out, and the log says why.

The choice is cached in a small JSON file (`cache_path()`), keyed by the graph's code
and tensor shapes, the batch's shapes, mode, precision, and the machine: CPU model,
bf16 flags, thread count, host, and the versions of torch and each candidate. A later
call with the same key builds only the cached backend, with no timing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
from torch import fx, nn

from .backends import BackendError, Exports, build, candidates

LOG = logging.getLogger("linkc.optimize")
#: Timed rounds after the warm-up; with the idle gap a few seconds for a CIFAR net.
ROUNDS = 5
WARMUP = 2
SETTLE = 0.1  # idle seconds before each timed call (see linkc.bench.timing.SETTLE)
CACHE_ENV = "LINKC_CACHE_DIR"


def cache_path() -> Path:
    """$LINKC_CACHE_DIR/backends.json, else the user cache dir's linkc/backends.json."""
    root = os.environ.get(CACHE_ENV) or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "linkc"
    return Path(root) / "backends.json"


def _cpu() -> str:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return f"{model} [{' '.join(sorted(flags & {'avx512f', 'avx512_bf16', 'amx_bf16'}))}]"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def cache_key(gm: fx.GraphModule, xs: tuple, mode: str, precision: str,
              names: list[str]) -> str:
    """What the choice depends on, hashed: the graph, the batch, the machine, the versions."""
    shapes = [(k, tuple(v.shape), str(v.dtype)) for k, v in gm.state_dict().items()]
    parts = [gm.code, repr(shapes), repr([tuple(x.shape) for x in xs]), mode, precision,
             _cpu(), str(torch.get_num_threads()), platform.node(), torch.__version__,
             *(f"{n}={_version(n)}" for n in names)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _read_cache() -> dict:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, entry: dict) -> None:
    path = cache_path()
    data = _read_cache()
    data[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)  # atomic: a concurrent reader sees the old file or the new
    except OSError as exc:
        LOG.warning("linkc.optimize: cannot write the backend cache %s: %s", path, exc)


def time_backends(calls: dict[str, Callable[[], object]], rounds: int = ROUNDS,
                  settle: float = SETTLE) -> dict[str, float]:
    """Median seconds per call of each, in interleaved rounds (after WARMUP calls each)."""
    for call in calls.values():
        for _ in range(WARMUP):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            time.sleep(settle)
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


class AutoBackend(nn.Module):
    """Chooses its backend at its first call (see the module docstring), then forwards
    every call to it. `backend` is 'auto' until then and the chosen name after;
    `choice` says how it was made (timed: the median seconds of each; or cached)."""

    def __init__(self, gm: fx.GraphModule, mode: str, precision: str,
                 log: Callable[[str], None] | None = None):
        super().__init__()
        self.__dict__["source"] = gm
        self.mode, self.precision = mode, precision
        self.backend, self.choice, self.chosen = "auto", None, None
        self._log = log or LOG.info

    def forward(self, *xs):
        if self.chosen is None:
            self.choose(xs)
        return self.chosen(*xs)

    def choose(self, xs: tuple) -> nn.Module:
        gm, names = self.source, candidates(self.mode, self.precision)
        key = cache_key(gm, xs, self.mode, self.precision, names)
        cached = _read_cache().get(key)
        exports = Exports(gm)
        if isinstance(cached, dict) and cached.get("backend") in names:
            self._adopt(build(gm, cached["backend"], self.mode, self.precision, exports),
                        {**cached, "source": "cached"})
            return self.chosen
        built = {}
        for name in names:
            try:
                built[name] = build(gm, name, self.mode, self.precision, exports)
            except Exception as exc:  # noqa: BLE001 - one failing engine leaves the others
                self._log(f"linkc.optimize: {name} left out: "
                          f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]}")
        if not built:
            raise BackendError(f"no backend could run this model ({', '.join(names)} failed)")
        if len(built) == 1:  # training: inductor is the one backend that trains
            (only, module), = built.items()
            self._adopt(module, {"backend": only, "seconds": {}, "batch": len(xs[0]),
                                 "source": "the only candidate"})
            return self.chosen

        def call(module):
            def run():
                with torch.no_grad():
                    module(*xs)
            return run
        seconds = time_backends({name: call(m) for name, m in built.items()})
        best = min(seconds, key=seconds.get)
        entry = {"backend": best, "seconds": seconds, "batch": len(xs[0]),
                 "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_cache(key, entry)
        self._adopt(built[best], {**entry, "source": "timed"})
        return self.chosen

    def _adopt(self, module: nn.Module, choice: dict) -> None:
        self.chosen, self.choice, self.backend = module, choice, choice["backend"]
        how = "fastest of " + ", ".join(f"{n} {s * 1000:.1f} ms" for n, s in
                                        choice["seconds"].items()) \
            if choice["source"] == "timed" else choice["source"]
        self._log(f"linkc.optimize: backend {self.backend} ({self.precision}, batch "
                  f"{choice['batch']}; {how})")


def optimize(gm: fx.GraphModule, mode: str = "infer", backend: str = "inductor",
             precision: str = "fp32", log: Callable[[str], None] | None = None,
             **options) -> nn.Module:
    """`gm` (after its passes) run by `backend` at `precision` (see linkc.optimize)."""
    from .backends import check_request
    from .torch_compile import compile_module

    check_request(backend, mode, precision)
    if options:
        if backend != "inductor" or precision != "fp32":
            raise BackendError(f"torch.compile options ({', '.join(options)}) apply to "
                               "backend='inductor' at precision='fp32' only")
        return compile_module(gm, mode, **options)
    if backend != "auto":
        return build(gm, backend, mode, precision)
    gm.train(mode == "train")
    return AutoBackend(gm, mode, precision, log)
