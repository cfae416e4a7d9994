"""Training checkpoints: one safetensors file, written atomically, never pickled.

A checkpoint file holds

- ``model.<key>``: the model's state dict (its keys read like the spec),
- ``optimizer.<i>.<name>``: the optimizer's per-parameter tensors (momentum),
- ``rng.<name>``: random-generator states that are tensors (torch, CUDA, numpy),

and, in the safetensors header's metadata under ``linkc_checkpoint``, a small
JSON document with the step, epoch, scheduler, scaler and remaining RNG states,
the optimizer's hyper-parameters, the resolved config, and a SHA-256 of all
tensor bytes. Keeping the JSON inside the same file makes the write a single
``os.replace`` of a finished temporary file: a crash at any moment leaves
either the previous checkpoint or the new one, never a mix of two steps.
Loading uses ``safetensors`` only (no pickle, no ``torch.load``), checks the
digest, and reports a truncated, corrupt or mismatched file as a
:class:`CheckpointError` that says what does not match.
"""

from __future__ import annotations

from ..errors import UserError

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

__all__ = [
    "CheckpointError", "Checkpoint", "save_checkpoint", "read_checkpoint", "read_weights",
    "check_model_keys", "capture_rng", "restore_rng", "same_layout",
    "FORMAT",
]

FORMAT = "linkc-checkpoint/1"
_META_KEY = "linkc_checkpoint"


class CheckpointError(UserError):
    """A checkpoint or weights file that cannot be used: missing, corrupt or mismatched."""


@dataclass
class Checkpoint:
    """A checkpoint read back: model tensors, optimizer state in torch's format, JSON state."""

    path: Path
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    state: dict[str, Any]
    rng_tensors: dict[str, torch.Tensor]


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes. The bytes are hashed where
    they lie (a uint8 view through the buffer protocol), not copied out first: a copy
    per tensor would double a checkpoint's memory while it is written and read."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable: the new entry is on disk, not only the file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        with open(tmp, "rb+") as f:  # on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # and the rename itself, before the run goes on
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint '{path}': {exc.strerror}.") from None
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, torch.Tensor],
                    optimizer_state: dict[str, Any], state: dict[str, Any],
                    rng_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write one checkpoint file atomically. ``state`` must be JSON-serialisable."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model_state.items():
        tensors[f"model.{key}"] = value.detach().cpu().contiguous()
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in optimizer_state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    for name, value in (rng_tensors or {}).items():
        tensors[f"rng.{name}"] = value.detach().cpu().contiguous()
    doc = {
        "format": FORMAT,
        "state": state,
        "optimizer": {"param_groups": optimizer_state["param_groups"], "scalars": scalars},
        "sha256": _digest(tensors),
    }
    out = Path(path)
    _atomic_save(tensors, {_META_KEY: json.dumps(doc)}, out)
    return out


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def _read_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        what = "is a directory, not a checkpoint file" if path.is_dir() else "does not exist"
        raise CheckpointError(f"checkpoint '{path}' {what}.")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"'{path}' is not a readable safetensors file; it is truncated or corrupt "
            f"({exc}). Use another checkpoint (best.safetensors, or an older run), or "
            "start the run again without --resume.") from None
    return tensors, metadata


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and verify a checkpoint written by :func:`save_checkpoint`."""
    p = Path(path)
    tensors, metadata = _read_file(p)
    if _META_KEY not in metadata:
        raise CheckpointError(
            f"'{p}' is a safetensors file but not a linkc training checkpoint (it has no "
            f"'{_META_KEY}' metadata); plain weights can be evaluated with "
            "'linkc evaluate SPEC --weights FILE' but not resumed.")
    try:
        doc = json.loads(metadata[_META_KEY])
        fmt = doc["format"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"'{p}': the checkpoint's metadata is corrupt.") from None
    if fmt != FORMAT:
        raise CheckpointError(f"'{p}' has checkpoint format '{fmt}'; this linkc reads '{FORMAT}'.")
    if _digest(tensors) != doc.get("sha256"):
        raise CheckpointError(f"'{p}' is corrupt: its tensor data does not match the digest "
                              "written with it.")
    try:  # the digest covers the tensors, not the JSON: check the JSON's layout too
        model, rng, opt_state = {}, {}, {}
        for key, value in tensors.items():
            group, _, rest = key.partition(".")
            if group == "model":
                model[rest] = value
            elif group == "rng":
                rng[rest] = value
            elif group == "optimizer":
                index, _, name = rest.partition(".")
                opt_state.setdefault(int(index), {})[name] = value
        for index, values in doc["optimizer"]["scalars"].items():
            opt_state.setdefault(int(index), {}).update(dict(values))
        optimizer = {"state": opt_state, "param_groups": list(doc["optimizer"]["param_groups"])}
        if not isinstance(doc["state"], dict):
            raise TypeError("state is not a mapping")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"'{p}': the checkpoint's contents are not laid out as linkc "
                              f"writes them ({type(exc).__name__}: {exc}).") from None
    return Checkpoint(p, model, optimizer, doc["state"], rng)


def same_layout(saved: Any, fresh: Any, where: str) -> None:
    """Raise CheckpointError unless `saved` (from a file) is laid out like `fresh` (what
    this run would write): the same keys, list lengths and kinds of values."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(fresh, dict):
        if not isinstance(saved, dict) or set(map(str, saved)) != set(map(str, fresh)):
            raise CheckpointError(f"{where} has other entries than linkc writes")
        for key, value in fresh.items():
            same_layout(saved[key], value, f"{where}.{key}")
    elif isinstance(fresh, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(fresh):
            raise CheckpointError(f"{where} has the wrong length")
        for i, (a, b) in enumerate(zip(saved, fresh)):
            same_layout(a, b, f"{where}[{i}]")
    elif number(fresh) != number(saved) or (not number(fresh) and type(saved) is not type(fresh)
                                            and fresh is not None):
        raise CheckpointError(f"{where} is {saved!r}, not a {type(fresh).__name__}")


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Model weights from a plain ``weights.safetensors`` or from a training checkpoint."""
    p = Path(path)
    tensors, metadata = _read_file(p)
    if _META_KEY in metadata:
        return read_checkpoint(p).model
    return tensors


def check_model_keys(saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                     what: str, spec_name: str) -> None:
    """Raise CheckpointError unless ``saved`` has exactly ``expected``'s keys and shapes."""
    missing = [k for k in expected if k not in saved]
    extra = [k for k in saved if k not in expected]
    shapes = [f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in saved and tuple(saved[k].shape) != tuple(v.shape)]
    if not (missing or extra or shapes):
        return

    def few(items: list[str]) -> str:
        return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")

    parts = []
    if missing:
        parts.append(f"missing {len(missing)} tensor(s) of the model: {few(missing)}")
    if extra:
        parts.append(f"{len(extra)} tensor(s) the model does not have: {few(extra)}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatch(es) (file vs model): {few(shapes)}")
    raise CheckpointError(f"{what} does not match spec '{spec_name}': " + "; ".join(parts)
                          + ". Was it written for another spec or another version of it?")


# ---------------------------------------------------------------------------
# random generator states
# ---------------------------------------------------------------------------


def capture_rng() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(JSON part, tensor part) of torch, CUDA, numpy and Python random states."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss_next = random.getstate()
    doc = {"numpy": [kind, int(pos), int(has_gauss), float(gauss)],
           "python": [version, list(internal), gauss_next]}
    return doc, tensors


def restore_rng(doc: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("cuda.")),
                                       key=lambda k: int(k.split(".")[1]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])
    kind, pos, has_gauss, gauss = doc["numpy"]
    np.random.set_state((kind, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = doc["python"]
    random.setstate((version, tuple(internal), gauss_next))
