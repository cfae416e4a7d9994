"""Where a training run stands: the typed position every checkpoint carries.

A checkpoint stores the position as a JSON mapping under ``state["position"]`` with
one key per field. Checkpoints written before the latest test result was recorded
have no ``test_loss``/``test_acc``; they read back with those unknown (None).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from .checkpoint import CheckpointError

__all__ = ["RunPosition", "StepRecord"]

#: Fields that a checkpoint may lack (added after the format was first written).
_LATER_FIELDS = ("test_loss", "test_acc")


@dataclass
class StepRecord:
    """The numbers of one optimizer step, summed over all processes."""

    loss_sum: float  # summed per-sample loss (weighted heads included)
    correct: int  # main-output predictions equal to the label
    count: int  # samples in the global batch
    lr: float  # the learning rate the step used
    seconds: float  # host time of the step (a log window's wait for the device included)


@dataclass
class RunPosition:
    step: int = 0  # optimizer steps done in the whole run
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches done in the current epoch
    loss_sum: float = 0.0  # the current epoch's summed training loss ...
    correct: int = 0  # ... correct predictions ...
    count: int = 0  # ... and samples, so far
    epoch_s: float = 0.0  # seconds in train steps, this epoch
    time_s: float = 0.0  # seconds in train steps, the whole run (across resumptions)
    best_acc: float = -1.0  # best test accuracy at an epoch's end
    best_epoch: int = 0
    test_loss: Optional[float] = None  # the latest epoch's test loss and accuracy
    test_acc: Optional[float] = None

    def add_step(self, record: StepRecord) -> None:
        self.step += 1
        self.batch += 1
        self.loss_sum += record.loss_sum
        self.correct += record.correct
        self.count += record.count
        self.epoch_s += record.seconds
        self.time_s += record.seconds

    def end_epoch(self, test_loss: float, test_acc: float) -> bool:
        """Start the next epoch; returns whether ``test_acc`` is a new best."""
        improved = test_acc > self.best_acc
        if improved:
            self.best_acc, self.best_epoch = test_acc, self.epoch + 1
        self.test_loss, self.test_acc = test_loss, test_acc
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.correct, self.count, self.epoch_s = 0.0, 0, 0, 0.0
        return improved

    def state(self) -> dict[str, Any]:
        """The JSON mapping a checkpoint stores."""
        return asdict(self)

    @classmethod
    def from_state(cls, doc: Any) -> RunPosition:
        """The position a checkpoint stores; CheckpointError unless it is laid out as
        :meth:`state` writes it (or as checkpoints did before ``test_*``)."""
        fresh = cls()
        known = {f.name for f in fields(cls)}
        if not isinstance(doc, dict) or not (known - set(_LATER_FIELDS) <= set(doc) <= known):
            raise CheckpointError("position has other entries than linkc writes")
        values = {}
        for key, value in doc.items():
            default = getattr(fresh, key)
            if value is None and key in _LATER_FIELDS:
                values[key] = None
                continue
            if not _is_number(value):
                kind = type(default).__name__ if default is not None else "float"
                raise CheckpointError(f"position.{key} is {value!r}, not a {kind}")
            if not math.isfinite(value):
                raise CheckpointError(f"position.{key} is {value!r}, not a finite number")
            values[key] = int(value) if isinstance(default, int) else float(value)
        if (values.get("test_loss") is None) != (values.get("test_acc") is None):
            raise CheckpointError("position has one of test_loss and test_acc without the "
                                  "other (linkc writes both, or neither)")
        if any(values[k] < 0 for k in ("step", "epoch", "batch", "best_epoch")):
            raise CheckpointError("position has a negative step, epoch or batch")
        return cls(**values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
