"""What a training run shows and hears at the terminal: messages, bars and Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from tqdm import tqdm

from .data import KINDS, parse_data_arg
from .distributed import Dist
from .heads import unweighted_heads

__all__ = ["ctrl_c", "epoch_bar", "run_lines", "say_to"]


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


def _dims(shape) -> str:
    return "x".join(str(d) for d in shape)


def data_line(g, config, sets, classes: int) -> str:
    """`1438 train / 359 test images`, and where the data set is not what the spec takes,
    what was made of it: its images resized to the input, its classes under a wider head
    (both legitimate, neither silent)."""
    parts = [f"{len(sets.train)} train / {len(sets.test)} test images"]
    own = KINDS[parse_data_arg(config.data).kind].shape
    if own is not None and tuple(own) != tuple(g.input_shape):
        parts.append(f"{_dims(own)} images resized to {_dims(g.input_shape)}")
    if sets.num_classes != classes:
        parts.append(f"{sets.num_classes} classes for a {classes}-class head")
    return "; ".join(parts)


def run_lines(g, config, dist: Dist, sets, classes: int, steps_per_epoch: int, model,
              run_dir, loss_weights: tuple[float, ...]) -> list[str]:
    """What a run is about to do (its first line), and which heads it leaves untrained."""
    amp = f"; {AMP_NAMES[model.amp_dtype]} autocast" if model.amp_dtype is not None else ""
    first = (f"training {g.name} on {config.data} ({data_line(g, config, sets, classes)}) on "
             f"{dist.device}{f' x {dist.world} processes' if dist.world > 1 else ''}, "
             f"{config.epochs} epochs of {steps_per_epoch} steps; passes "
             f"{', '.join(model.passes) or 'none'}"
             f"{' + torch.compile' if config.compile else ''}{amp}; run directory {run_dir}")
    lines = [first]
    untrained = unweighted_heads(g, loss_weights)
    if untrained:
        lines.append(f"auxiliary outputs without a loss weight are computed but not trained: "
                     f"{', '.join(untrained)} (set train: {{loss_weights: {{NAME: W}}}})")
    return lines


@contextmanager
def ctrl_c() -> Iterator[threading.Event]:
    """While active, Ctrl-C (SIGINT) sets the event instead of raising, so the loop stops
    at a step's end; a second Ctrl-C raises as usual. Off the main thread (where no
    signal handler can be set) the event is never set."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return

    def handler(signum, frame):
        pressed.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
