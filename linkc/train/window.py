"""The steps since the loop last read their numbers (``log_every`` of them at most).

Reading a loss on the host waits for the device to finish, and under ``torchrun``
summing it over processes is one more collective. So a step leaves its summed loss
and its count of correct predictions on the device, and the loop reads the whole
window at once: one transfer and one all-reduce per window, which also carries
every process's Ctrl-C flag so that all of them stop after the same step. Each
step's numbers stay separate, so the first step whose loss is not finite is still
known exactly.
"""

from __future__ import annotations

import time

import torch

from .distributed import Dist, all_sum
from .position import StepRecord

__all__ = ["StepWindow"]


class StepWindow:
    def __init__(self) -> None:
        self._stats: list[torch.Tensor] = []  # per step: (loss sum, correct), on the device
        self._host: list[tuple[int, float, float]] = []  # per step: (count, lr, seconds)

    def __len__(self) -> int:
        return len(self._stats)

    def add(self, loss_sum: torch.Tensor, correct: torch.Tensor, count: int, lr: float,
            seconds: float) -> None:
        self._stats.append(torch.stack([loss_sum.double(), correct.double()]))
        self._host.append((count, lr, seconds))

    def read(self, dist: Dist, interrupted: bool) -> tuple[list[StepRecord], bool]:
        """(the window's steps summed over processes, whether any process was interrupted);
        empties the window. The wait for the device counts to the last step's seconds."""
        start = time.perf_counter()
        flag = torch.tensor([float(interrupted)], dtype=torch.float64,
                            device=self._stats[0].device)
        values = all_sum(torch.cat([torch.stack(self._stats).flatten(), flag]), dist).tolist()
        waited = time.perf_counter() - start
        records = [StepRecord(values[2 * i], round(values[2 * i + 1]), count, lr, seconds)
                   for i, (count, lr, seconds) in enumerate(self._host)]
        records[-1].seconds += waited
        self._stats, self._host = [], []
        return records, values[-1] > 0
