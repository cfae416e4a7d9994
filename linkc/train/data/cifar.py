"""CIFAR-10 and CIFAR-100 from their official files: the binary or the python version.

Both layouts are read exactly as distributed (found directly in the directory or in
the archive's own folder); the python version goes through `safe_pickle`, never a
plain unpickler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .arrays import LoadRequest, Parts, uint8_to_unit
from .safe_pickle import CIFAR_URL, restricted_load
from .spec import DataError

__all__ = ["load_cifar10", "load_cifar100"]

CIFAR_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class _CifarFormat:
    """Where one CIFAR variant keeps its files and how its records look."""

    name: str
    num_classes: int
    bin_dir: str
    bin_train: tuple[str, ...]
    bin_test: tuple[str, ...]
    label_offset: int  # index of the label byte used (CIFAR-100: the fine label)
    header: int  # label bytes before the 3072 pixel bytes
    py_dir: str
    py_train: tuple[str, ...]
    py_test: tuple[str, ...]
    py_label_key: str


_CIFAR10 = _CifarFormat(
    name="CIFAR-10",
    num_classes=10,
    bin_dir="cifar-10-batches-bin",
    bin_train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    bin_test=("test_batch.bin",),
    label_offset=0,
    header=1,
    py_dir="cifar-10-batches-py",
    py_train=tuple(f"data_batch_{i}" for i in range(1, 6)),
    py_test=("test_batch",),
    py_label_key="labels",
)

_CIFAR100 = _CifarFormat(
    name="CIFAR-100",
    num_classes=100,
    bin_dir="cifar-100-binary",
    bin_train=("train.bin",),
    bin_test=("test.bin",),
    label_offset=1,
    header=2,
    py_dir="cifar-100-python",
    py_train=("train",),
    py_test=("test",),
    py_label_key="fine_labels",
)


def load_cifar10(request: LoadRequest) -> Parts:
    return _cifar(request.root, request.shape, _CIFAR10)


def load_cifar100(request: LoadRequest) -> Parts:
    return _cifar(request.root, request.shape, _CIFAR100)


def _cifar(root: Path, shape: tuple[int, int, int], fmt: _CifarFormat) -> Parts:
    """Find the binary or python layout under ``root``, read it, resize to ``shape``."""
    c, h, w = shape
    if c != 3:
        raise DataError(
            f"{fmt.name} images have 3 colour channels but the model's input has {c}. "
            f"Set the topology's input shape to (3, H, W) to train on {fmt.name}."
        )
    # The first candidate directory holding any expected file decides the layout,
    # so a half-extracted archive is reported by the files it is missing.
    candidates = [
        (root, "bin"),
        (root / fmt.bin_dir, "bin"),
        (root, "py"),
        (root / fmt.py_dir, "py"),
    ]
    for folder, layout in candidates:
        train, test = (fmt.bin_train, fmt.bin_test) if layout == "bin" else (fmt.py_train, fmt.py_test)
        if any((folder / name).is_file() for name in train + test):
            break
    else:
        raise DataError(
            f"{fmt.name}: no data found in '{root}'. Expected the binary version "
            f"({', '.join(fmt.bin_train + fmt.bin_test)}, directly in the directory or "
            f"in '{fmt.bin_dir}/') or the python version ({', '.join(fmt.py_train + fmt.py_test)} "
            f"in '{fmt.py_dir}/'). Download and extract it from {CIFAR_URL}."
        )
    missing = [name for name in train + test if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{fmt.name}: '{folder}' is missing {', '.join(missing)} (expected "
            f"{', '.join(train + test)}). Re-extract the archive from {CIFAR_URL}."
        )
    read = _read_cifar_binary if layout == "bin" else _read_cifar_pickle
    train_px, train_y = _concat([read(folder / name, fmt) for name in train])
    test_px, test_y = _concat([read(folder / name, fmt) for name in test])
    return Parts(
        uint8_to_unit(train_px, h, w),
        torch.from_numpy(train_y),
        uint8_to_unit(test_px, h, w),
        torch.from_numpy(test_y),
        fmt.num_classes,
        [str(i) for i in range(fmt.num_classes)],
    )


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    pixels = [p for p, _ in parts]
    labels = [y for _, y in parts]
    return np.concatenate(pixels), np.concatenate(labels)


def _check_labels(labels: np.ndarray, path: Path, fmt: _CifarFormat) -> np.ndarray:
    """Reject labels outside 0..num_classes-1: they would crash the loss later."""
    bad = np.flatnonzero((labels < 0) | (labels >= fmt.num_classes))
    if bad.size:
        k = int(bad[0])
        raise DataError(
            f"{fmt.name}: '{path}' record {k} has label {int(labels[k])}, outside 0..{fmt.num_classes - 1} "
            f"({bad.size} bad record(s) in all). The file is corrupt or belongs to another "
            f"data set; re-download it from {CIFAR_URL}."
        )
    return labels.astype(np.int64)


def _read_cifar_binary(path: Path, fmt: _CifarFormat) -> tuple[np.ndarray, np.ndarray]:
    """Records of ``header`` label bytes then 1024 R, 1024 G, 1024 B bytes (row-major 32x32)."""
    record = fmt.header + CIFAR_PIXELS
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{fmt.name}: cannot read '{path}': {exc.strerror or exc}.") from None
    if raw.size == 0 or raw.size % record:
        raise DataError(
            f"{fmt.name}: '{path}' is {raw.size} bytes, not a whole number of {record}-byte "
            f"records ({fmt.header} label byte(s) + {CIFAR_PIXELS} pixel bytes): it is "
            f"truncated or not the CIFAR binary format. Re-download the binary version from {CIFAR_URL}."
        )
    rows = raw.reshape(-1, record)
    labels = _check_labels(rows[:, fmt.label_offset], path, fmt)
    return rows[:, fmt.header :].reshape(-1, 3, 32, 32), labels


def _read_cifar_pickle(path: Path, fmt: _CifarFormat) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR python batch: dict with ``b'data'`` (N, 3072) uint8 and a label list."""
    obj = restricted_load(path)

    def get(key: str):
        if isinstance(obj, dict):
            for k in (key.encode(), key):
                if k in obj:
                    return obj[k]
        return None

    data, labels = get("data"), get(fmt.py_label_key)
    try:
        y = None if labels is None else np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        y = np.zeros((0, 0))  # reported below as not a label list
    if data is None or y is None:
        problem = f"it has no '{'data' if data is None else fmt.py_label_key}' entry"
    elif not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == CIFAR_PIXELS):
        problem = f"its 'data' is not an (N, {CIFAR_PIXELS}) uint8 array"
    elif y.ndim != 1:
        problem = f"its '{fmt.py_label_key}' is not a list of integers"
    elif len(y) != data.shape[0]:
        problem = f"it has {data.shape[0]} images but {len(y)} labels"
    else:
        return data.reshape(-1, 3, 32, 32), _check_labels(y, path, fmt)
    raise DataError(
        f"{fmt.name}: '{path}' is not a {fmt.name} python batch: {problem}. "
        f"Re-download the python version from {CIFAR_URL}."
    )

