"""What a training run keeps in its checkpoints, and how a resumed run gets it back.

checkpoint.py is the file format (safetensors + one JSON document); this module is
the run's state inside it: the weights, the optimizer's momentum, the schedule, the
gradient scaler, every random generator and the :class:`RunPosition`. A resumed run
checks all of it against what this run would write before it trains a single step.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint as ckpt
from .config import TrainConfig
from .network import check_same_network
from .position import RunPosition

__all__ = ["RESUMABLE_CHANGES", "last_good", "read_resumable", "restore_run", "save_run"]

#: Settings that may change between a run and its resumption (they do not change the math).
RESUMABLE_CHANGES = {"device", "amp", "channels_last", "compile", "passes", "memory_efficient",
                     "threads", "run_dir", "max_memory", "log_every",
                     "checkpoint_every", "progress", "tensorboard", "plot", "eval_batch_size"}


def save_run(path: Path, spec_name: str, network: dict, config: TrainConfig, pos: RunPosition,
             net, optimizer, scheduler, scaler, augment_gen: torch.Generator) -> Path:
    """Write the run's checkpoint to ``path`` (atomically; see checkpoint.py); ``network``
    is the record of the graph it trains (network.network_record)."""
    rng_doc, rng_tensors = ckpt.capture_rng()
    rng_tensors["augment"] = augment_gen.get_state()
    state = {"spec": spec_name, "network": network, "config": config.model_dump(),
             "position": pos.state(), "scheduler": scheduler.state_dict(),
             "scaler": scaler.state_dict() if scaler.is_enabled() else None, "rng": rng_doc}
    return ckpt.save_checkpoint(path, net.state_dict(), optimizer.state_dict(), state,
                                rng_tensors)


def read_resumable(path: Path, g, run_dir: Path, config: TrainConfig) -> ckpt.Checkpoint:
    """The checkpoint at ``path``, checked to hold the network ``g`` (network.py), finite
    weights, and the same math-changing settings as ``config`` (a setting it predates
    counts as its default): all before any data, model or file of this run exists."""
    if not path.exists():
        raise ckpt.CheckpointError(f"cannot resume: there is no checkpoint '{path}'.")
    saved = ckpt.read_checkpoint(path)
    check_same_network(saved.state.get("network"), g, path, run_dir)
    bad = [k for k, t in saved.model.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad:
        raise ckpt.CheckpointError(
            f"checkpoint '{saved.path}' holds NaN or infinite weights ({', '.join(bad[:3])}"
            f"{' ...' if len(bad) > 3 else ''}): it was saved after training diverged, or it "
            "is corrupt. Resume from an earlier checkpoint, or start again.")
    stored = saved.state.get("config")
    stored = stored if isinstance(stored, dict) else {}
    current = config.model_dump()
    defaults = TrainConfig.model_construct().model_dump()
    changed = [f"{k}: {stored.get(k, defaults[k])!r} in the checkpoint, {current[k]!r} now"
               for k in current
               if k not in RESUMABLE_CHANGES and stored.get(k, defaults[k]) != current[k]]
    if changed:
        raise ckpt.CheckpointError(
            f"checkpoint '{saved.path}' was written with other training settings ("
            + "; ".join(changed) + "). Resume with the settings of the original run, or start "
            "a new run.")
    return saved


def restore_run(saved: ckpt.Checkpoint, spec_name: str, net, optimizer, scheduler, scaler,
                augment_gen: torch.Generator) -> RunPosition:
    """Load a checked checkpoint (read_resumable) into this run; returns where the run
    stood. Its tensors must fit the model (the only check a checkpoint that predates the
    network record gets)."""
    ckpt.check_model_keys(saved.model, net.state_dict(), f"checkpoint '{saved.path}'", spec_name)
    net.load_state_dict(saved.model)
    return restore_training_state(saved, optimizer, scheduler, scaler, augment_gen)


def last_good(path: Path) -> str:
    """What a diverged run says about the checkpoint it kept."""
    if not path.exists():
        return "No checkpoint had been written yet."
    step = ckpt.read_checkpoint(path).state["position"]["step"]
    return f"The last good checkpoint is kept: {path} (step {step})."


def restore_training_state(saved: ckpt.Checkpoint, optimizer, scheduler, scaler,
                           augment_gen: torch.Generator) -> RunPosition:
    """Load a checkpoint's optimizer, schedule, scaler and RNG states into a run being
    resumed, and return its position. A checkpoint whose state is not what
    :func:`save_run` writes for this run is a CheckpointError here, before training,
    not a crash at its first step."""
    try:
        state = saved.state
        position = RunPosition.from_state(state["position"])
        ckpt.same_layout(state["scheduler"], scheduler.state_dict(), "scheduler")
        ckpt.same_layout([_hyper(g) for g in saved.optimizer["param_groups"]],
                         [_hyper(g) for g in optimizer.state_dict()["param_groups"]],
                         "optimizer.param_groups")
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for index, values in saved.optimizer["state"].items():
            buffer = values.get("momentum_buffer")
            if not 0 <= index < len(params) or (
                    buffer is not None and tuple(buffer.shape) != tuple(params[index].shape)):
                raise ckpt.CheckpointError(f"optimizer state {index} does not fit parameter "
                                           f"{index}")
        optimizer.load_state_dict(saved.optimizer)
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        ckpt.restore_rng(state["rng"], saved.rng_tensors)
        augment_gen.set_state(saved.rng_tensors["augment"])
    except ckpt.CheckpointError as exc:
        raise ckpt.CheckpointError(
            f"'{saved.path}' cannot be resumed: {exc}. Was it written by another version of "
            "linkc? Use another checkpoint, or start the run again without --resume.") from None
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError,
            ArithmeticError) as exc:
        raise ckpt.CheckpointError(
            f"'{saved.path}' cannot be resumed: its saved training state is not what linkc "
            f"writes ({type(exc).__name__}: {exc}). Use another checkpoint, or start the run "
            "again without --resume.") from None
    return position


def _hyper(group: dict) -> dict:
    """An optimizer parameter group's hyper-parameters (its parameter indices left out)."""
    return {k: v for k, v in group.items() if k != "params"}
