"""What a training run shows and hears at the terminal: messages, bars and Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable

import torch
from tqdm import tqdm

from .distributed import Dist
from .heads import unweighted_heads

__all__ = ["announce", "epoch_bar", "say_to", "sigint_flag"]


def say_to(dist: Dist) -> Callable[[str], None]:
    """Print a line on stdout from the main process (beside any progress bar)."""
    if dist.is_main:
        return lambda msg: tqdm.write(msg, file=sys.stdout)
    return lambda msg: None


def epoch_bar(config, dist: Dist, epoch: int, n_train: int, done_batches: int) -> tqdm:
    """The epoch's progress bar in images; off unless ``progress`` (default: a terminal)."""
    show = dist.is_main and (config.progress if config.progress is not None
                             else sys.stdout.isatty())
    return tqdm(total=n_train, initial=min(done_batches * config.batch_size, n_train),
                unit="img", desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show,
                leave=False, dynamic_ncols=True)


AMP_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16"}


def announce(run, say: Callable[[str], None]) -> None:
    """What a run (train.Run) is about to do, and which heads it leaves untrained."""
    g, config, dist = run.g, run.config, run.dist
    amp = (f"; {AMP_NAMES[run.model.amp_dtype]} autocast" if run.model.amp_dtype is not None
           else "")
    say(f"training {g.name} on {config.data} ({run.data.train_x.shape[0]} train / "
        f"{run.data.test_x.shape[0]} test images) on {dist.device}"
        f"{f' x {dist.world} processes' if dist.world > 1 else ''}, {config.epochs} epochs "
        f"of {run.steps_per_epoch} steps; passes {', '.join(run.model.passes) or 'none'}"
        f"{' + torch.compile' if config.compile else ''}"
        f"{amp}; run directory {run.run_dir}")
    if unweighted_heads(g, run.loss_weights):
        say(f"auxiliary outputs without a loss weight are computed but not trained: "
            f"{', '.join(unweighted_heads(g, run.loss_weights))} "
            "(set train: {loss_weights: {NAME: W}})")


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
