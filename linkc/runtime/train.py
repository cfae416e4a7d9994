"""``train(spec, config)``: one function that reads top to bottom.

data -> model -> optimizer -> schedule -> (resume) -> loop (eval, checkpoint) -> artifacts.

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
weights to one that was never interrupted.

Under ``torchrun`` every process draws the same global batch, augments it the
same way, and trains on its slice ``batch[rank::world]``. The loss each process
back-propagates is its sum of per-sample losses times ``world / global_batch``,
so after DistributedDataParallel averages the gradients they equal the
gradients of the mean loss over the global batch, even when the last batch
does not split evenly. (BatchNorm statistics are per process, as usual for DDP.)
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .config import ConfigError, TrainConfig, config_yaml, resolve_config
from .data import parse_data_arg
from .data.augment import augment_batch
from .data.load import load_datasets
from .distributed import all_sum, setup, teardown
from .evaluate import evaluate, output_classes
from .model_setup import amp_settings, build_model, training_passes
from .heads import Trainable, data_shape, output_weights, unweighted_heads, weighted_loss
from .rundir import BEST, LAST, MetricsLog, choose_run_dir, write_plot, write_text

__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "train"]

#: Settings that may change between a run and its resumption (they do not change the math).
RESUMABLE_CHANGES = {"device", "amp", "channels_last", "compile", "passes", "memory_efficient",
                     "threads", "run_dir", "max_memory",
                     "checkpoint_every", "progress", "tensorboard", "plot", "eval_batch_size"}


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
    seconds: float
    weights: Path


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1 over ``warmup`` steps, then cosine decay to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on BN parameters or biases."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's sample order: depends on (seed, epoch) only, so resuming re-creates it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


@contextmanager
def sigint_flag():
    """While active, Ctrl-C sets ``flag[0]`` instead of raising; a second Ctrl-C raises."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag[0] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def train(spec, config: TrainConfig | None = None, resume: str | bool | None = None,
          runs_root: str | Path = "runs") -> TrainResult:
    """Train ``spec`` (path, YAML text or built graph) with ``config`` (default: the
    spec's ``train:`` section). ``resume``: True, a run directory or a checkpoint."""
    from ..topology import build

    g = spec if hasattr(spec, "input_shape") else build(spec)
    if config is None:
        config = resolve_config([(f"{g.source.name} train:", g.train or {})])
    dist = setup(config.device)
    try:
        return _train(g, config, resume, runs_root, dist)
    finally:
        teardown(dist)


def _train(g, config, resume, runs_root, dist) -> TrainResult:
    device, cuda = dist.device, dist.device.type == "cuda"
    say = (lambda msg: tqdm.write(msg, file=sys.stdout)) if dist.is_main else (lambda msg: None)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    classes = output_classes(g)
    weights = output_weights(g, config)  # of each output; the first (main) one is 1
    if config.batch_size < dist.world:
        raise ConfigError(f"batch_size {config.batch_size} is smaller than the number of "
                          f"processes ({dist.world}).")

    _check_memory(g, config, dist)

    # --- run directory -------------------------------------------------------------
    run_dir, resume_from = choose_run_dir(g.name, config.run_dir, resume, runs_root)
    if resume_from is not None and not resume_from.exists():
        raise ckpt.CheckpointError(f"cannot resume: there is no checkpoint '{resume_from}'.")

    # --- data ----------------------------------------------------------------------
    sets = load_datasets(parse_data_arg(config.data), data_shape(g, config.data), seed=config.seed,
                         synthetic_size=config.synthetic_size, num_classes_hint=classes)
    augment = sets.augment if config.augment is None else config.augment
    data_bytes = sum(t.numel() * t.element_size() for t in (sets.train.x, sets.test.x))
    on_device = not cuda or data_bytes < 0.5 * torch.cuda.mem_get_info(device)[0]
    train_x, train_y = sets.train.x, sets.train.y
    test_x, test_y = sets.test.x, sets.test.y
    if on_device:
        train_x, train_y, test_x, test_y = (t.to(device) for t in (train_x, train_y, test_x, test_y))
    elif cuda:
        train_x, train_y, test_x, test_y = (t.pin_memory() for t in (train_x, train_y, test_x, test_y))
    augment_gen = torch.Generator(device=train_x.device).manual_seed(config.seed + 1)

    # --- model -------------------------------------------------------------------------
    net, runner = build_model(g, training_passes(config))  # runner: passes, net's weights
    channels_last = cuda and config.channels_last
    net.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    trainable = model = Trainable(runner, g)  # one batch tensor in, the tuple of outputs out
    if dist.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(trainable, device_ids=[device.index] if cuda else None)
    if config.compile:
        model = torch.compile(model)
    use_amp, amp_dtype = amp_settings(config, device)
    autocast = partial(torch.autocast, device.type, dtype=amp_dtype, enabled=use_amp)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    if cuda:
        torch.backends.cudnn.benchmark = True

    # --- optimizer and schedule ----------------------------------------------------------
    optimizer = torch.optim.SGD(param_groups(net, config.weight_decay), lr=config.lr,
                                momentum=config.momentum, nesterov=config.nesterov)
    n_train, batch = train_x.shape[0], config.batch_size
    # A last batch too small to give every process a sample is dropped.
    steps_per_epoch = n_train // batch + (1 if n_train % batch >= dist.world else 0)
    total_steps = steps_per_epoch * config.epochs
    warmup = round(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(
        lr_factor, warmup=warmup, total=total_steps, min_ratio=config.min_lr / config.lr))

    # --- resume --------------------------------------------------------------------------
    pos = {"step": 0, "epoch": 0, "batch": 0, "loss_sum": 0.0, "correct": 0.0, "count": 0.0,
           "epoch_s": 0.0, "time_s": 0.0, "best_acc": -1.0, "best_epoch": 0}
    if resume_from is not None:
        saved = ckpt.read_checkpoint(resume_from)
        _check_resumable(saved, g.name, config, net)
        net.load_state_dict(saved.model)
        ckpt.restore_training_state(saved, optimizer, scheduler, scaler, augment_gen, pos)
        say(f"resuming {run_dir} from step {pos['step']} (epoch {pos['epoch'] + 1}, "
            f"batch {pos['batch']})")
    log = None
    if dist.is_main:  # only now: a failed resume must not overwrite the run's files
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "spec.yaml", g.source.text)
        write_text(run_dir / "config.yaml", config_yaml(config))
        write_text(run_dir / "data.json", _data_json(config, sets, augment))
        log = MetricsLog(run_dir, config.tensorboard, pos["step"] if resume_from else None)

    def save(name: str) -> Path:
        rng_doc, rng_tensors = ckpt.capture_rng()
        rng_tensors["augment"] = augment_gen.get_state()
        state = {"spec": g.name, "config": config.model_dump(), "position": dict(pos),
                 "scheduler": scheduler.state_dict(),
                 "scaler": scaler.state_dict() if scaler.is_enabled() else None, "rng": rng_doc}
        path = run_dir / name
        if dist.is_main:
            ckpt.save_checkpoint(path, net.state_dict(), optimizer.state_dict(), state, rng_tensors)
        return path

    def last_good() -> str:
        path = run_dir / LAST
        if not path.exists():
            return "No checkpoint had been written yet."
        step = ckpt.read_checkpoint(path).state["position"]["step"]
        return f"The last good checkpoint is kept: {path} (step {step})."

    # --- loop ----------------------------------------------------------------------------
    show_bars = dist.is_main and (config.progress if config.progress is not None
                                  else sys.stdout.isatty())
    say(f"training {g.name} on {config.data} ({n_train} train / {test_x.shape[0]} test images) "
        f"on {device}{f' x {dist.world} processes' if dist.world > 1 else ''}, "
        f"{config.epochs} epochs of {steps_per_epoch} steps; run directory {run_dir}")
    if unweighted_heads(g, weights):
        say(f"auxiliary outputs without a loss weight are computed but not trained: "
            f"{', '.join(unweighted_heads(g, weights))} (set train: {{loss_weights: {{NAME: W}}}})")
    eval_model = trainable if dist.world > 1 else model  # DDP's forward is a collective
    result_eval = None
    clock = time.perf_counter()
    with sigint_flag() as interrupted, _closing(log):
        for epoch in range(pos["epoch"], config.epochs):
            order = epoch_order(n_train, config.seed, epoch).to(train_x.device)
            bar = tqdm(total=n_train, initial=min(pos["batch"] * batch, n_train), unit="img",
                       desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show_bars,
                       leave=False, dynamic_ncols=True)
            model.train()
            for b in range(pos["batch"], steps_per_epoch):
                t0 = time.perf_counter()
                idx = order[b * batch:(b + 1) * batch]
                x, y = train_x[idx], train_y[idx]
                if augment:
                    x = augment_batch(x, augment_gen)
                x, y = x[dist.rank::dist.world], y[dist.rank::dist.world]
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast():
                    outs = model(x)
                logits = outs[0]  # the main output
                loss_sum, _ = weighted_loss(outs, y, weights, config.label_smoothing)
                stats = torch.stack([loss_sum.detach().double(),
                                     (logits.argmax(1) == y).sum().double(),
                                     torch.tensor(float(y.numel()), dtype=torch.float64, device=device),
                                     torch.tensor(float(interrupted[0]), dtype=torch.float64, device=device)])
                step_loss, step_correct, step_count, stop = all_sum(stats, dist).tolist()
                if not math.isfinite(step_loss):
                    raise TrainingDiverged(
                        f"training stopped: the loss became {step_loss} at step {pos['step'] + 1} "
                        f"(epoch {epoch + 1}, learning rate {scheduler.get_last_lr()[0]:.4g}). "
                        f"{last_good()} Lower the learning rate (lr, now {config.lr}) or lengthen "
                        "the warmup (warmup_epochs), then start again.")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss_sum * (dist.world / idx.numel())).backward()
                scaler.step(optimizer)
                scaler.update()
                lr = scheduler.get_last_lr()[0]
                scheduler.step()
                dt = time.perf_counter() - t0
                pos.update(step=pos["step"] + 1, batch=b + 1,
                           loss_sum=pos["loss_sum"] + step_loss, correct=pos["correct"] + step_correct,
                           count=pos["count"] + step_count, epoch_s=pos["epoch_s"] + dt,
                           time_s=pos["time_s"] + dt)
                if log:
                    log.step({"step": pos["step"], "epoch": epoch + 1, "loss": step_loss / step_count,
                              "acc": step_correct / step_count, "lr": lr,
                              "images_per_s": step_count / dt, "time_s": pos["time_s"]})
                bar.update(idx.numel())
                bar.set_postfix(loss=f"{pos['loss_sum'] / pos['count']:.3f}",
                                acc=f"{pos['correct'] / pos['count']:.1%}", refresh=False)
                if stop:
                    bar.close()
                    if log and config.plot:
                        write_plot(run_dir)
                    raise TrainingInterrupted(run_dir, save(LAST), pos["step"])
                if config.checkpoint_every and pos["step"] % config.checkpoint_every == 0:
                    save(LAST)
            bar.close()

            # --- end of epoch: evaluate, log, checkpoint ------------------------------------
            result_eval = evaluate(eval_model, test_x, test_y, batch_size=config.eval_batch_size,
                                   device=device, dist=dist, autocast=autocast,
                                   channels_last=channels_last)
            train_loss, train_acc = pos["loss_sum"] / pos["count"], pos["correct"] / pos["count"]
            row = {"epoch": epoch + 1, "step": pos["step"], "train_loss": train_loss,
                   "train_acc": train_acc, "test_loss": result_eval.loss,
                   "test_acc": result_eval.accuracy, "lr": scheduler.get_last_lr()[0],
                   "epoch_s": pos["epoch_s"], "time_s": pos["time_s"]}
            if log:
                log.epoch(row)
            say(f"epoch {epoch + 1:>3}/{config.epochs}  train loss {train_loss:.4f} "
                f"acc {train_acc:6.2%}  test loss {result_eval.loss:.4f} "
                f"acc {result_eval.accuracy:6.2%}  {pos['epoch_s']:.1f}s")
            improved = result_eval.accuracy > pos["best_acc"]
            if improved:
                pos.update(best_acc=result_eval.accuracy, best_epoch=epoch + 1)
            pos.update(epoch=epoch + 1, batch=0, loss_sum=0.0, correct=0.0, count=0.0, epoch_s=0.0)
            save(LAST)
            if improved:
                save(BEST)

    # --- artifacts ---------------------------------------------------------------------------
    if result_eval is None:  # resumed from a finished run
        result_eval = evaluate(eval_model, test_x, test_y, batch_size=config.eval_batch_size,
                               device=device, dist=dist, autocast=autocast,
                               channels_last=channels_last)
    weights = run_dir / "weights.safetensors"
    if log:
        from ..compiler.codegen import write_artifacts

        net.to("cpu", memory_format=torch.contiguous_format)
        write_artifacts(net, g, run_dir, spec_name=f"{g.source.name}, trained by linkc train")
        if config.plot:
            write_plot(run_dir)
    say(f"{g.name}: test accuracy {result_eval.accuracy:.2%} (loss {result_eval.loss:.4f}); "
        f"best {pos['best_acc']:.2%} at epoch {pos['best_epoch']}; "
        f"{time.perf_counter() - clock:.0f}s; weights in {weights}")
    return TrainResult(run_dir, config.epochs, pos["step"], result_eval.loss, result_eval.accuracy,
                       pos["best_acc"], pos["time_s"], weights)


@contextmanager
def _closing(log: MetricsLog | None):
    try:
        yield
    finally:
        if log:
            log.close()


def _check_resumable(saved: ckpt.Checkpoint, spec_name: str, config: TrainConfig, net) -> None:
    ckpt.check_model_keys(saved.model, net.state_dict(), f"checkpoint '{saved.path}'", spec_name)
    bad = [k for k, t in saved.model.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad:
        raise ckpt.CheckpointError(
            f"checkpoint '{saved.path}' holds NaN or infinite weights ({', '.join(bad[:3])}"
            f"{' ...' if len(bad) > 3 else ''}): it was saved after training diverged, or it "
            "is corrupt. Resume from an earlier checkpoint, or start again.")
    stored = saved.state.get("config")
    stored = stored if isinstance(stored, dict) else {}
    current = config.model_dump()
    changed = [f"{k}: {stored.get(k)!r} in the checkpoint, {current[k]!r} now"
               for k in current if k not in RESUMABLE_CHANGES and stored.get(k) != current[k]]
    if changed:
        raise ckpt.CheckpointError(
            f"checkpoint '{saved.path}' was written with other training settings ("
            + "; ".join(changed) + "). Resume with the settings of the original run, or start "
            "a new run.")


def _check_memory(g, config: TrainConfig, dist) -> None:
    """Refuse a run that cannot fit before any data or weights exist (analyze.budget)."""
    from ..analyze.budget import check_memory, estimate_memory
    from .data import dataset_bytes

    per_process = -(-config.batch_size // dist.world)
    data = dataset_bytes(parse_data_arg(config.data), data_shape(g, config.data),
                         config.synthetic_size)
    what = f"training {g.name} on {config.data}"
    flags = "--batch-size (or --eval-batch-size)"
    estimate = estimate_memory(g, per_process, training=True,
                               optimizer_buffers=1 if config.momentum else 0,
                               eval_batch=config.eval_batch_size, data_bytes=data)
    if dist.device.type != "cuda":
        check_memory(estimate, config.max_memory, what, flags)
        return
    # On a GPU the model and its activations live in device memory, the data set on the host
    # (it moves to the device only when it fits beside them).
    del estimate.parts["data set in memory"]
    free = (torch.cuda.mem_get_info(dist.device)[0], f"the free memory of {dist.device}")
    check_memory(estimate, config.max_memory, what + f" on {dist.device}", flags, free)


def _data_json(config: TrainConfig, sets, augment: bool) -> str:
    """What a user of the trained model needs: classes and the input normalisation."""
    import json

    return json.dumps({"data": config.data, "seed": config.seed, "classes": sets.class_names,
                       "mean": sets.mean.tolist(), "std": sets.std.tolist(),
                       "train_samples": len(sets.train), "test_samples": len(sets.test),
                       "augment": augment}, indent=1)
