"""The model a training run steps, and the precision it runs in.

Passes in training: ``train()`` keeps two views of one set of weights. ``net`` is
the spec's module as lowered (its state dict is what checkpoints, resumption and
the written model.py + weights use); ``runner`` is a second GraphModule over the
same leaf modules with the chosen compiler passes applied, and is what the loop
calls. A pass is usable in training only if every tensor of ``runner`` is one of
``net``'s (checkpoint_dense shares its originals' parameters and buffers); one
that makes new weights (its row says so: group_parallel stacks them) is refused, as the
trained values could not be written back to the spec's module.

Every run applies the compiler's training defaults (``default_passes("train")``: the
rows of linkc/compiler/passes/table.py that say so), rewrites that make no new weights.
On the 2-core CPU they make an eager training step 1.48x faster for ResNet-110 (52
shortcut copies gone, NHWC convolutions), 1.17x for DenseNet-BC-100 (1.12-1.14x more
with dense_chain) and 1.44x for digits_resnet (benchmarks/RESULTS.md).
The ``channels_last`` pass converts the 4-D weights and converts the input inside the
graph, so neither the loop nor evaluation touches the layout; ``channels_last=False``
leaves it out, ``passes: [none]`` leaves out every default. ``compile=True`` adds
torch.compile on top, with static shapes: the batch shapes other than each mode's first
(the partial last batch) run the same module eagerly (StaticBatch).

Precision: ``amp`` unset means mixed precision on CUDA only (bf16 where supported,
else fp16 with a gradient scaler). On the CPU it is opt-in (``--amp``): bf16 autocast
where the CPU has bf16 instructions (AVX-512 BF16 or AMX), else one line on stderr and
fp32 - without them bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import fx

from ..compiler import compile_graph
from ..compiler.passes import PassError, check_passes, default_passes, in_run_order, run_passes
from .config import ConfigError, TrainConfig
from .distributed import Dist
from .heads import Trainable

__all__ = ["RunModel", "StaticBatch", "amp_settings", "build_model", "cpu_bf16_supported",
           "setup_model", "training_passes"]


@dataclass
class RunModel:
    """The modules and precision settings of one run."""

    net: fx.GraphModule  # the spec's module as lowered: checkpoints and written artifacts
    train_model: torch.nn.Module  # what a step calls: passes, DDP, torch.compile
    eval_model: torch.nn.Module  # what evaluation calls (DDP's forward is a collective)
    autocast: Callable  # autocast() -> the run's autocast context
    scaler: torch.amp.GradScaler  # enabled for fp16 only
    passes: list[str]  # the compiler passes applied to train_model, in order
    amp_dtype: torch.dtype | None  # the autocast dtype (bf16, fp16), None when off


def setup_model(g, config: TrainConfig, dist: Dist) -> RunModel:
    """The spec's model on this process's device, with its passes, DDP and compile."""
    device = dist.device
    passes = training_passes(config)
    net, runner = build_model(g, passes)
    net.to(device)  # keeps the layout the passes chose (runner holds net's leaf modules)
    trainable = model = Trainable(runner, g)  # one batch tensor in, the tuple of outputs out
    if dist.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            trainable, device_ids=[device.index] if device.type == "cuda" else None)
    train_model, eval_model = model, trainable if dist.world > 1 else model
    if config.compile:
        compiled = torch.compile(model, dynamic=False)
        # this process's share of a full global batch (train._batch takes batch[rank::world])
        per_process = len(range(dist.rank, config.batch_size, dist.world))
        train_model = StaticBatch(compiled, model, per_process)
        eval_model = StaticBatch(compiled, eval_model) if dist.world == 1 else eval_model
    use_amp, amp_dtype = amp_settings(config, device)
    autocast = partial(torch.autocast, device.type, dtype=amp_dtype, enabled=use_amp)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return RunModel(net, train_model, eval_model, autocast, scaler, passes,
                    amp_dtype if use_amp else None)


class StaticBatch(torch.nn.Module):
    """Calls `compiled` on batches of `batch` samples (by default: as many as the first
    batch it is given) and `eager` (the same module, not compiled) on any other.

    The batches that differ are an epoch's last, partial one and the test set's remainder:
    compiling for them (a second graph, with dynamic shapes once torch.compile sees the
    batch size change) took 15 of a cold first epoch's 40 s on digits, to run one batch an
    epoch. Training and evaluation each hold their own, so each mode compiles once.
    Training names its batch size, since a run resumed at an epoch's last batch starts
    with the partial one; evaluation always starts with a full batch."""

    def __init__(self, compiled: torch.nn.Module, eager: torch.nn.Module,
                 batch: int | None = None):
        super().__init__()
        self.compiled, self.eager, self.batch = compiled, eager, batch

    def forward(self, x: torch.Tensor):
        if self.batch is None:
            self.batch = len(x)
        return (self.compiled if len(x) == self.batch else self.eager)(x)


def training_passes(config: TrainConfig) -> list[str]:
    """The passes a run applies, in the compiler's order: the training defaults
    (default_passes("train")), then ``passes`` and ``memory_efficient``;
    ``channels_last=False`` drops the layout pass, and ``passes: [none]`` every default
    (the module exactly as lowered). A pass that makes new weights is refused."""
    literal = "none" in config.passes
    chosen = [] if literal else list(default_passes("train"))
    chosen += [p for p in config.passes if p != "none"]
    chosen += ["checkpoint_dense"] if config.memory_efficient else []
    if not config.channels_last:
        chosen = [p for p in chosen if p != "channels_last"]
    try:
        return in_run_order(check_passes(chosen, "train", keep_weights=True))
    except PassError as exc:
        raise ConfigError(f"training setting passes: {exc}") from None


def build_model(g, passes: list[str]) -> tuple[fx.GraphModule, fx.GraphModule]:
    """(net, runner): the lowered module and the one with ``passes``, sharing weights."""
    net = compile_graph(g, (), mode="train")
    if not passes:
        return net, net
    # a GraphModule built from net holds net's leaf modules (fresh containers above them),
    # so a pass that swaps modules in runner leaves net's hierarchy as lowered
    try:
        runner = run_passes(fx.GraphModule(net, copy.deepcopy(net.graph)), passes, mode="train")
    except PassError as exc:
        raise ConfigError(f"training setting passes: {exc}") from None
    own = {id(t) for t in (*net.parameters(), *net.buffers())}
    for name, tensor in (*runner.named_parameters(), *runner.named_buffers()):
        if id(tensor) not in own:
            raise ConfigError(
                f"training setting passes: {', '.join(passes)} made new weights ({name}), which "
                "could not be written back to the spec's model; train without that pass.")
    return net, runner


def cpu_bf16_supported() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX-BF16)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # no /proc: ask torch
    return bool(check and check())


def amp_settings(config: TrainConfig, device: torch.device) -> tuple[bool, torch.dtype]:
    """(enabled, dtype) of autocast for this run; says so when a CPU cannot do bf16."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return config.amp is not False, dtype
    if device.type == "cpu" and config.amp:
        if cpu_bf16_supported():
            return True, torch.bfloat16
        print("--amp: this CPU has no bf16 instructions (avx512_bf16/amx_bf16); training in "
              "fp32.", file=sys.stderr)
    return False, torch.float32
