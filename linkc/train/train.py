"""``train(spec, config)``: one function that reads top to bottom.

data -> model (with its passes) -> optimizer -> schedule -> restore -> loop -> artifacts;
each epoch ends with evaluation, a log row and a checkpoint.

On CUDA it uses mixed precision (bf16 where supported, else fp16 with a gradient
scaler), channels-last tensors, pinned memory with non-blocking copies, and
keeps the data set on the GPU when it fits; ``compile=True`` adds the compiler's
default passes and ``torch.compile``, ``passes``/``memory_efficient`` any training-mode
pass (model_setup.py). On the CPU the same code runs without the CUDA parts; ``amp``
there is opt-in bf16 autocast.

The loop reads the step losses every ``log_every`` steps, not every step (a read
waits for the device); a NaN loss still stops the run at the step it appeared in
(window.py).

Determinism: the data order of epoch ``e`` is a permutation drawn from a
generator seeded with ``(seed, e)``; augmentation draws from its own generator
and dropout from torch's global one, and both states go into every checkpoint.
A run resumed from a checkpoint on the CPU therefore produces bit-identical
weights to one that was never interrupted.

Under ``torchrun`` every process draws the same global batch, augments it the
same way, and trains on its slice ``batch[rank::world]``. The loss each process
back-propagates is its sum of per-sample losses times ``world / global_batch``,
so after DistributedDataParallel averages the gradients they equal the
gradients of the mean loss over the global batch, even when the last batch
does not split evenly. (BatchNorm statistics are per process, as usual for DDP.)
Ctrl-C stops a single process after the current step, several processes after the
current window (they agree on the step through the window's all-reduce).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError
from .config import TrainConfig, resolve_config
from .data import parse_data_arg
from .data.augment import augment_batch
from .data.load import load_datasets
from .distributed import Dist, setup, teardown
from .evaluate import Evaluation, evaluate, output_classes
from .heads import data_shape, output_weights, weighted_loss
from .console import announce, epoch_bar, say_to, sigint_flag
from .model_setup import RunModel, setup_model
from .network import network_record
from .placement import DeviceData, batch_to, check_fits, place_data
from .position import RunPosition
from .resume import last_good, restore_run, save_run
from .rundir import (BEST, LAST, MetricsLog, choose_run_dir, open_run_dir, step_row,
                     write_artifacts, write_plot)
from .schedule import epoch_order, lr_factor, make_optimizer, make_scheduler, param_groups
from .window import StepWindow

__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "train",
           "epoch_order", "lr_factor", "param_groups"]


class TrainingInterrupted(Exception):
    """Ctrl-C (SIGINT): a checkpoint was saved; ``checkpoint`` resumes the run."""

    def __init__(self, run_dir: Path, checkpoint: Path, step: int):
        super().__init__(f"interrupted at step {step}; checkpoint saved to {checkpoint}")
        self.run_dir, self.checkpoint, self.step = run_dir, checkpoint, step


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


@dataclass
class TrainResult:
    run_dir: Path
    epochs: int
    steps: int
    test_loss: float
    test_acc: float
    best_acc: float
    step_seconds: float  # time in train steps over the whole run, resumed parts included
    wall_seconds: float  # wall-clock time of this call: data, model, eval, checkpoints too
    weights: Path


@dataclass
class Run:
    """What the loop's helpers share, made in train()'s order."""

    g: object  # the built graph (linkc.build)
    config: TrainConfig
    dist: Dist
    data: DeviceData
    model: RunModel
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    augment: bool
    augment_gen: torch.Generator
    steps_per_epoch: int
    loss_weights: tuple[float, ...]  # of each output; the main one's is 1
    pos: RunPosition
    run_dir: Path
    log: MetricsLog | None
    network: dict  # the record of g every checkpoint carries (network.py)


def train(spec, config: TrainConfig | None = None, resume: str | bool | None = None,
          runs_root: str | Path = "runs") -> TrainResult:
    """Train ``spec`` (path, YAML text or built graph) with ``config`` (default: the
    spec's ``train:`` section). ``resume``: True, a run directory or a checkpoint."""
    from ..frontend import build

    g = spec if hasattr(spec, "input_shape") else build(spec)
    if config is None:
        config = resolve_config([(f"{g.source.name} train:", g.train or {})])
    dist = setup(config.device)
    try:
        return _train(g, config, resume, runs_root, dist)
    finally:
        teardown(dist)


def _train(g, config: TrainConfig, resume, runs_root, dist: Dist) -> TrainResult:
    clock = time.perf_counter()
    say = say_to(dist)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    classes, loss_weights = output_classes(g), output_weights(g, config)
    check_fits(g, config, dist)
    run_dir, resume_from = choose_run_dir(g.name, config.run_dir, resume, runs_root)
    if resume_from is not None and not resume_from.exists():
        raise CheckpointError(f"cannot resume: there is no checkpoint '{resume_from}'.")
    # data
    sets = load_datasets(parse_data_arg(config.data), data_shape(g, config.data),
                         seed=config.seed, synthetic_size=config.synthetic_size,
                         num_classes_hint=classes)
    augment = sets.augment if config.augment is None else config.augment
    data = place_data(sets, dist.device)
    augment_gen = torch.Generator(device=data.train_x.device).manual_seed(config.seed + 1)
    # model, with its passes
    model = setup_model(g, config, dist)
    # optimizer and schedule
    optimizer = make_optimizer(model.net, config)
    n_train = data.train_x.shape[0]
    # A last batch too small to give every process a sample is dropped.
    steps_per_epoch = n_train // config.batch_size + (
        1 if n_train % config.batch_size >= dist.world else 0)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    # restore
    pos = RunPosition()
    if resume_from is not None:
        pos = restore_run(resume_from, g, run_dir, config, model.net, optimizer, scheduler,
                          model.scaler, augment_gen)
        say(f"resuming {run_dir} from step {pos.step} (epoch {pos.epoch + 1}, "
            f"batch {pos.batch})")
    log = open_run_dir(run_dir, g, config, sets, augment,
                       pos.step if resume_from is not None else None, dist.is_main)
    run = Run(g, config, dist, data, model, optimizer, scheduler, augment, augment_gen,
              steps_per_epoch, loss_weights, pos, run_dir, log, network_record(g))
    # loop
    announce(run, say)
    with sigint_flag() as interrupted, log or nullcontext():
        for epoch in range(pos.epoch, config.epochs):
            _train_epoch(run, epoch, interrupted)
            _end_epoch(run, epoch, say)
    # artifacts
    if pos.test_acc is None:  # resumed after its last epoch, from a checkpoint that
        pos.test_loss, pos.test_acc = _test(run)  # predates recording the test result
    weights = write_artifacts(run_dir, g, model.net, config, log)
    wall = time.perf_counter() - clock
    say(f"{g.name}: test accuracy {pos.test_acc:.2%} (loss {pos.test_loss:.4f}); "
        f"best {pos.best_acc:.2%} at epoch {pos.best_epoch}; {pos.time_s:.1f}s in train "
        f"steps, {wall:.0f}s in all; weights in {weights}")
    return TrainResult(run_dir, config.epochs, pos.step, pos.test_loss, pos.test_acc,
                       pos.best_acc, pos.time_s, wall, weights)


def _train_epoch(run: Run, epoch: int, interrupted: list[bool]) -> None:
    """The epoch's remaining steps, read and logged one window at a time."""
    config, pos, batch = run.config, run.pos, run.config.batch_size
    order = epoch_order(run.data.train_x.shape[0], config.seed, epoch)
    order = order.to(run.data.train_x.device)
    bar = epoch_bar(config, run.dist, epoch, run.data.train_x.shape[0], pos.batch)
    run.model.train_model.train()
    window = StepWindow()
    try:
        for b in range(pos.batch, run.steps_per_epoch):
            start = time.perf_counter()
            idx = order[b * batch:(b + 1) * batch]
            loss_sum, correct, lr = _train_step(run, *_batch(run, idx), idx.numel())
            window.add(loss_sum, correct, idx.numel(), lr, time.perf_counter() - start)
            if not _window_due(run, len(window), b, interrupted[0]):
                continue
            if _read_window(run, window, epoch, bar, interrupted[0]):
                if run.log and config.plot:
                    write_plot(run.run_dir)
                raise TrainingInterrupted(run.run_dir, _save(run, LAST), pos.step)
            if config.checkpoint_every and pos.step % config.checkpoint_every == 0:
                _save(run, LAST)
    finally:
        bar.close()


def _batch(run: Run, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of the global batch ``idx``, augmented, on its device."""
    x, y = run.data.train_x[idx], run.data.train_y[idx]
    if run.augment:
        x = augment_batch(x, run.augment_gen)
    rank, world, device = run.dist.rank, run.dist.world, run.dist.device
    x, y = x[rank::world], y[rank::world]
    return batch_to(x, device), batch_to(y, device)


def _train_step(run: Run, x: torch.Tensor, y: torch.Tensor, global_batch: int):
    """One optimizer step: (summed loss, correct predictions) left on the device, and the
    learning rate the step used."""
    model, optimizer = run.model, run.optimizer
    with model.autocast():
        outs = model.train_model(x)
    loss_sum, _ = weighted_loss(outs, y, run.loss_weights, run.config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    model.scaler.scale(loss_sum * (run.dist.world / global_batch)).backward()
    model.scaler.step(optimizer)
    model.scaler.update()
    lr = run.scheduler.get_last_lr()[0]
    run.scheduler.step()
    return loss_sum.detach(), (outs[0].argmax(1) == y).sum(), lr


def _window_due(run: Run, steps: int, b: int, interrupted: bool) -> bool:
    """Whether to read the window after batch ``b``: it is full, the epoch ends, a
    checkpoint is due (it must not hold unchecked steps), or Ctrl-C in one process."""
    every = run.config.checkpoint_every
    return (steps >= run.config.log_every or b + 1 == run.steps_per_epoch
            or bool(every and (run.pos.step + steps) % every == 0)
            or (interrupted and run.dist.world == 1))


def _read_window(run: Run, window: StepWindow, epoch: int, bar, interrupted: bool) -> bool:
    """Check and log the window's steps; returns whether a process was interrupted.
    TrainingDiverged at the first step whose loss is not finite."""
    records, stop = window.read(run.dist, interrupted)
    rate = sum(r.count for r in records) / max(sum(r.seconds for r in records), 1e-12)
    for record in records:
        if not np.isfinite(record.loss_sum):
            raise TrainingDiverged(
                f"training stopped: the loss became {record.loss_sum} at step "
                f"{run.pos.step + 1} (epoch {epoch + 1}, learning rate {record.lr:.4g}). "
                f"{last_good(run.run_dir / LAST)} Lower the learning rate (lr, now "
                f"{run.config.lr}) or lengthen the warmup (warmup_epochs), then start again.")
        run.pos.add_step(record)
        if run.log:
            run.log.step(step_row(run.pos, epoch, record, rate))
        bar.update(record.count)
    bar.set_postfix(loss=f"{run.pos.loss_sum / run.pos.count:.3f}",
                    acc=f"{run.pos.correct / run.pos.count:.1%}", refresh=False)
    return stop


def _test(run: Run) -> tuple[float, float]:
    """(loss, accuracy) on the test set: the one place the run evaluates."""
    ev: Evaluation = evaluate(run.model.eval_model, run.data.test_x, run.data.test_y,
                              batch_size=run.config.eval_batch_size, device=run.dist.device,
                              dist=run.dist, autocast=run.model.autocast)
    return ev.loss, ev.accuracy


def _end_epoch(run: Run, epoch: int, say) -> None:
    """Evaluate, log the epoch's row, and checkpoint (best.safetensors when it is best)."""
    pos = run.pos
    test_loss, test_acc = _test(run)
    train_loss, train_acc = pos.loss_sum / pos.count, pos.correct / pos.count
    if run.log:
        run.log.epoch({"epoch": epoch + 1, "step": pos.step, "train_loss": train_loss,
                       "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc,
                       "lr": run.scheduler.get_last_lr()[0], "epoch_s": pos.epoch_s,
                       "time_s": pos.time_s})
    say(f"epoch {epoch + 1:>3}/{run.config.epochs}  train loss {train_loss:.4f} "
        f"acc {train_acc:6.2%}  test loss {test_loss:.4f} acc {test_acc:6.2%}  "
        f"{pos.epoch_s:.1f}s")
    improved = pos.end_epoch(test_loss, test_acc)
    _save(run, LAST)
    if improved:
        _save(run, BEST)


def _save(run: Run, name: str) -> Path:
    path = run.run_dir / name
    if run.dist.is_main:
        save_run(path, run.g.name, run.config, run.pos, run.model.net, run.optimizer,
                 run.scheduler, run.model.scaler, run.augment_gen, run.network)
    return path
