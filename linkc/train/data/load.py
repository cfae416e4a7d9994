"""`load_datasets`: the loader of a `--data` kind, its checks, and normalisation."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from .arrays import Datasets, LoadRequest
from .spec import KINDS, DataError, DataKind, DataSpec, unknown_kind

__all__ = ["load_datasets"]


def load_datasets(
    spec: DataSpec,
    input_shape: tuple[int, int, int],
    *,
    seed: int = 0,
    synthetic_size: int = 512,
    num_classes_hint: int | None = None,
) -> Datasets:
    """Load the data set ``spec`` shaped for a model whose input is ``(C, H, W)``.

    Images are resized to H x W; ``seed`` fixes every random choice (splits,
    synthetic tensors). ``num_classes_hint`` is the model's output width: it
    sets the class count of the synthetic set, and for real sets a hint smaller
    than the number of classes is an error, since the labels would not fit.
    """
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape}")
    kind = KINDS.get(spec.kind.strip().lower())
    if kind is None:
        raise unknown_kind(spec.kind, spec.kind.strip().lower())
    root = _directory(kind, spec.path) if kind.needs_dir else None
    module, function = kind.loader.split(":")
    load = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    parts = load(LoadRequest(root, shape, seed, synthetic_size, num_classes_hint))
    if num_classes_hint is not None and num_classes_hint < parts.num_classes:
        raise DataError(
            f"{kind.name} has {parts.num_classes} classes but the model's output has only "
            f"{num_classes_hint} units. Give the topology's last layer at least "
            f"{parts.num_classes} outputs, or pick a data set with fewer classes."
        )
    return parts.finish(augment=kind.augment)


def _directory(kind: DataKind, path: str | None) -> Path:
    if not path:
        raise DataError(f"The '{kind.name}' data set needs a directory: write '{kind.name}:DIR'.")
    root = Path(os.path.expanduser(path))
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise DataError(
            f"{kind.name}: '{root}' {what}. Point --data at the directory that "
            f"holds the data set, e.g. '{kind.name}:./data'."
        )
    return root
