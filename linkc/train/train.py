"""``train(spec, config)``: one function that reads top to bottom.

resume check -> data -> model (with its passes) -> optimizer -> schedule -> restore ->
the epoch loop -> artifacts. The loop gathers a batch, steps, reads the steps' numbers
every ``log_every`` steps (a read waits for the device), logs them, and checkpoints;
each epoch ends with evaluation, a log row and a checkpoint. A NaN loss still stops
the run at the step it appeared in (window.py keeps each step's numbers apart).

On CUDA it uses mixed precision (bf16 where supported, else fp16 with a gradient
scaler), channels-last tensors, pinned memory with non-blocking copies, and
keeps the data set on the GPU when it fits; ``compile=True`` adds the compiler's
default passes and ``torch.compile``, ``passes``/``memory_efficient`` any training-mode
pass (model_setup.py). On the CPU the same code runs without the CUDA parts; ``amp``
there is opt-in bf16 autocast.

Determinism: the data order of epoch ``e`` is a permutation drawn from a
generator seeded with ``(seed, e)``; augmentation draws from its own generator
and dropout from torch's global one, and both states go into every checkpoint.
A run resumed from a checkpoint on the CPU therefore produces bit-identical
weights to one that was never interrupted. The process's own threads, seeds and
cudnn.benchmark are put back when ``train()`` returns (process_state.py).

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

from .config import TrainConfig, resolve_config
from .console import ctrl_c, epoch_bar, run_lines, say_to
from .data import parse_data_arg
from .data.augment import augment_batch
from .data.load import load_datasets
from .distributed import Dist, setup, teardown
from .evaluate import evaluate, output_classes
from .heads import data_shape, loss_labels, output_weights, weighted_loss
from .model_setup import RunModel, setup_model
from .network import network_record
from .placement import DeviceData, batch_to, check_fits, place_data
from .position import RunPosition, StepRecord
from .process_state import kept_process_state
from .resume import last_good, read_resumable, restore_run, save_run
from .rundir import (BEST, LAST, check_artifacts, claim_run_dir, open_run_dir, refuse_taken,
                     resume_target, step_row, write_artifacts, write_plot)
from .schedule import epoch_order, lr_factor, make_optimizer, make_scheduler, param_groups
from .window import StepWindow

__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "epoch_order", "lr_factor",
           "param_groups", "train"]


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


def train(spec, config: TrainConfig | None = None, resume: str | bool | None = None,
          runs_root: str | Path = "runs") -> TrainResult:
    """Train ``spec`` (path, YAML text or built graph) with ``config`` (default: the
    spec's ``train:`` section). ``resume``: True, a run directory or a checkpoint."""
    from ..frontend import build

    g = spec if hasattr(spec, "input_shape") else build(spec)
    if config is None:
        config = resolve_config([(f"{g.source.name} train:", g.train or {})])
    with kept_process_state():
        dist = setup(config.device)
        finished = False
        try:
            result = _train(g, config, resume, runs_root, dist)
            finished = True
            return result
        finally:
            teardown(dist, finished)


def _train(g, config: TrainConfig, resume, runs_root, dist: Dist) -> TrainResult:
    clock, say = time.perf_counter(), say_to(dist)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    classes, loss_weights = output_classes(g), output_weights(g, config)
    check_fits(g, config, dist)
    # a checkpoint to resume is read and checked against this network and these settings
    # before anything is loaded, built or written
    saved = run_dir = None
    if resume:
        run_dir, checkpoint_path = resume_target(g.name, config.run_dir, resume, runs_root)
        saved = read_resumable(checkpoint_path, g, run_dir, config)
    else:
        refuse_taken(config.run_dir)
    # data
    sets = load_datasets(parse_data_arg(config.data), data_shape(g, config.data),
                         seed=config.seed, synthetic_size=config.synthetic_size,
                         num_classes_hint=classes)
    augment = sets.augment if config.augment is None else config.augment
    data = place_data(sets, dist.device)
    augment_gen = torch.Generator(device=data.train_x.device).manual_seed(config.seed + 1)
    # model, with its passes; optimizer and schedule
    model = setup_model(g, config, dist)
    check_artifacts(model.net, dist.is_main)  # model.py will be writable at the end
    optimizer = make_optimizer(model.net, config)
    n_train, batch = data.train_x.shape[0], config.batch_size
    # a last batch too small to give every process a sample is dropped
    steps_per_epoch = n_train // batch + (1 if n_train % batch >= dist.world else 0)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    # restore, or claim a fresh run directory
    pos = RunPosition()
    if saved is not None:
        pos = restore_run(saved, g.name, model.net, optimizer, scheduler, model.scaler,
                          augment_gen)
        say(f"resuming {run_dir} from step {pos.step} (epoch {pos.epoch + 1}, "
            f"batch {pos.batch})")
    else:
        run_dir = claim_run_dir(g.name, config.run_dir, runs_root, dist)
    log = open_run_dir(run_dir, g, config, sets, augment,
                       pos.step if saved is not None else None, dist.is_main)
    network, labels = network_record(g), loss_labels(g, loss_weights, config.label_smoothing)

    def checkpoint(name: str) -> Path:  # the main process writes; every process knows where
        if dist.is_main:
            save_run(run_dir / name, g.name, network, config, pos, model.net, optimizer,
                     scheduler, model.scaler, augment_gen)
        return run_dir / name

    def test() -> tuple[float, float]:
        ev = evaluate(model.eval_model, data.test_x, data.test_y,
                      batch_size=config.eval_batch_size, device=dist.device, dist=dist,
                      autocast=model.autocast)
        return ev.loss, ev.accuracy

    for line in run_lines(g, config, dist, sets, classes, steps_per_epoch, model, run_dir,
                          loss_weights):
        say(line)
    # the loop
    every = config.checkpoint_every
    with ctrl_c() as pressed, log or nullcontext():
        for epoch in range(pos.epoch, config.epochs):
            order = epoch_order(n_train, config.seed, epoch).to(data.train_x.device)
            model.train_model.train()
            window = StepWindow()
            with epoch_bar(config, dist, epoch, n_train, pos.batch) as bar:
                for b in range(pos.batch, steps_per_epoch):
                    start = time.perf_counter()
                    idx = order[b * batch:(b + 1) * batch]
                    x, y = _gather(data, idx, augment_gen if augment else None, dist)
                    loss_sum, correct, lr = _step(model, optimizer, scheduler, x, y, loss_weights,
                                                  config.label_smoothing, dist.world / len(idx))
                    window.add(loss_sum, correct, len(idx), lr, time.perf_counter() - start)
                    # read when the window is full, the epoch ends, a checkpoint is due (it
                    # must not hold unchecked steps), or on Ctrl-C in a single process
                    checkpoint_due = bool(every) and (pos.step + len(window)) % every == 0
                    if not (len(window) >= config.log_every or b + 1 == steps_per_epoch
                            or checkpoint_due or (pressed.is_set() and dist.world == 1)):
                        continue
                    records, stopped = window.read(dist, pressed.is_set())
                    rate = sum(r.count for r in records) / max(sum(r.seconds for r in records),
                                                               1e-12)
                    for record in records:
                        _check_finite(record, pos, epoch, config, run_dir)
                        pos.add_step(record)
                        if log:
                            log.step(step_row(pos, epoch, record, rate))
                    bar.update(sum(r.count for r in records))
                    bar.set_postfix(loss=f"{pos.loss_sum / pos.count:.3f}",
                                    acc=f"{pos.correct / pos.count:.1%}", refresh=False)
                    if stopped:
                        if log and config.plot:
                            write_plot(run_dir, labels)
                        raise TrainingInterrupted(run_dir, checkpoint(LAST), pos.step)
                    if checkpoint_due:
                        checkpoint(LAST)
            test_loss, test_acc = test()
            say(_end_epoch(pos, epoch, config, log, scheduler.get_last_lr()[0],
                           test_loss, test_acc, checkpoint))
    # artifacts; a run resumed after its last epoch reports the checkpoint's test result
    # (one written before checkpoints recorded it has none: that run is tested again)
    if pos.test_acc is None:
        pos.test_loss, pos.test_acc = test()
    weights = write_artifacts(run_dir, g, model.net, config, log, labels)
    wall = time.perf_counter() - clock
    say(f"{g.name}: test accuracy {pos.test_acc:.2%} (loss {pos.test_loss:.4f}); "
        f"best {pos.best_acc:.2%} at epoch {pos.best_epoch}; {pos.time_s:.1f}s in train "
        f"steps, {wall:.0f}s in all; weights in {weights}")
    return TrainResult(run_dir, config.epochs, pos.step, pos.test_loss, pos.test_acc,
                       pos.best_acc, pos.time_s, wall, weights)


def _gather(data: DeviceData, idx: torch.Tensor, augment_gen: torch.Generator | None,
            dist: Dist) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of the global batch ``idx``, augmented, on its device."""
    x, y = data.train_x[idx], data.train_y[idx]
    if augment_gen is not None:
        x = augment_batch(x, augment_gen)
    x, y = x[dist.rank::dist.world], y[dist.rank::dist.world]
    return batch_to(x, dist.device), batch_to(y, dist.device)


def _step(model: RunModel, optimizer, scheduler, x: torch.Tensor, y: torch.Tensor,
          loss_weights: tuple[float, ...], label_smoothing: float, scale: float):
    """One optimizer step: (summed loss, correct predictions) left on the device, and the
    learning rate the step used. ``scale`` (world / global batch) makes DDP's averaged
    gradients those of the global batch's mean loss."""
    with model.autocast():
        outs = model.train_model(x)
    loss_sum, _ = weighted_loss(outs, y, loss_weights, label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    model.scaler.scale(loss_sum * scale).backward()
    model.scaler.step(optimizer)
    model.scaler.update()
    lr = scheduler.get_last_lr()[0]
    scheduler.step()
    return loss_sum.detach(), (outs[0].argmax(1) == y).sum(), lr


def _check_finite(record: StepRecord, pos: RunPosition, epoch: int, config: TrainConfig,
                  run_dir: Path) -> None:
    """TrainingDiverged, naming the step, unless the step's loss is finite."""
    if not np.isfinite(record.loss_sum):
        raise TrainingDiverged(
            f"training stopped: the loss became {record.loss_sum} at step {pos.step + 1} "
            f"(epoch {epoch + 1}, learning rate {record.lr:.4g}). {last_good(run_dir / LAST)} "
            f"Lower the learning rate (lr, now {config.lr}) or lengthen the warmup "
            "(warmup_epochs), then start again.")


def _end_epoch(pos: RunPosition, epoch: int, config: TrainConfig, log, lr: float,
               test_loss: float, test_acc: float, checkpoint) -> str:
    """Log the epoch's row and checkpoint it (best.safetensors too when it is the best);
    returns the line that reports it."""
    train_loss, train_acc = pos.loss_sum / pos.count, pos.correct / pos.count
    if log:
        log.epoch({"epoch": epoch + 1, "step": pos.step, "train_loss": train_loss,
                   "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc,
                   "lr": lr, "epoch_s": pos.epoch_s, "time_s": pos.time_s})
    line = (f"epoch {epoch + 1:>3}/{config.epochs}  train loss {train_loss:.4f} "
            f"acc {train_acc:6.2%}  test loss {test_loss:.4f} acc {test_acc:6.2%}  "
            f"{pos.epoch_s:.1f}s")
    improved = pos.end_epoch(test_loss, test_acc)
    checkpoint(LAST)
    if improved:
        checkpoint(BEST)
    return line
