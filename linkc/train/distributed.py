"""Process group and device for one training process (plain or under ``torchrun``).

``torchrun --nproc_per_node N -m linkc train SPEC`` starts N processes with
RANK, LOCAL_RANK and WORLD_SIZE set; each calls :func:`setup`, which joins the
process group (NCCL on CUDA, gloo on CPU) and picks its device. Every process
then sees the same global batch of indices and trains on its rank's slice
(``batch[rank::world]``); DistributedDataParallel averages the gradients.
Without those variables this is a single process and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import ConfigError, device_name

__all__ = ["Dist", "setup", "teardown", "all_sum", "resolve_device"]


@dataclass
class Dist:
    rank: int
    world: int
    device: torch.device
    owns_group: bool  # whether setup() created the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(text: str, local_rank: int = 0) -> torch.device:
    """The torch device that `text` (auto, cpu, cuda, cuda:N, mps) names on this machine;
    ConfigError, saying what to use instead, for a name it does not have. auto and
    bare cuda take process `local_rank`'s GPU."""
    try:
        name = device_name(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    kind = name.split(":", 1)[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine "
                              "(use --device cpu or auto).")
        index = int(name.split(":", 1)[1]) if ":" in name else local_rank
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s).")
        return torch.device("cuda", index)
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: MPS is not available on this machine.")
    return torch.device(name)


def setup(device: str) -> Dist:
    """Join the torchrun process group if there is one, and choose this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    owns = False
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        owns = True
    return Dist(rank, world, dev, owns)


def teardown(d: Dist, finished: bool) -> None:
    """Leave the process group setup() created. After a run every rank ``finished``, they
    meet at a barrier first, so no rank tears down while another still sends; after a
    failure they do not (a barrier the others never reach would wait for its timeout)."""
    if not (d.owns_group and dist.is_initialized()):
        return
    if finished:
        # rank 0 still writes the weights and model.py after the last collective; a rank
        # that tore its group down and exited meanwhile was seen to abort at exit
        # ("terminate called without an active exception") on a loaded 2-core machine
        dist.barrier()
    dist.destroy_process_group()


def all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum ``t`` over all processes in place (a no-op in a single process)."""
    if d.world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t
