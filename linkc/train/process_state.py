"""The process-wide settings a run changes, put back as they were when it ends.

A run sets torch's thread count, seeds torch's, numpy's and (when resumed) Python's
random generators, and turns on cuDNN's autotuner on a GPU. Those are the process's,
not the run's: code that calls ``train()`` (a notebook, a sweep, a test) finds them as
it left them afterwards, whether the run finished, diverged or was interrupted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["kept_process_state"]


@contextmanager
def kept_process_state() -> Iterator[None]:
    """Restore threads, every random generator and cudnn.benchmark on the way out."""
    threads = torch.get_num_threads()
    torch_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    numpy_rng, python_rng = np.random.get_state(), random.getstate()
    benchmark = torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(torch_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        np.random.set_state(numpy_rng)
        random.setstate(python_rng)
        torch.backends.cudnn.benchmark = benchmark
