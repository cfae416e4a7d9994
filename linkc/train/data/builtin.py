"""The data sets that need no files: scikit-learn's digits and random tensors."""

from __future__ import annotations

import numpy as np
import torch

from .arrays import LoadRequest, Parts, resize, stratified_split
from .spec import DataError

__all__ = ["load_digits", "load_synthetic"]


def load_digits(request: LoadRequest) -> Parts:
    """scikit-learn's 8x8 digits (ships with the library): tiny, real, offline."""
    from sklearn.datasets import load_digits as sklearn_digits

    c, h, w = request.shape
    digits = sklearn_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = np.asarray(digits.target, dtype=np.int64)
    train_idx, test_idx = stratified_split(labels, request.seed)

    def part(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = resize(images[torch.from_numpy(idx)], h, w).repeat(1, c, 1, 1)
        return x.contiguous(), torch.from_numpy(labels[idx])

    train_x, train_y = part(train_idx)
    test_x, test_y = part(test_idx)
    return Parts(train_x, train_y, test_x, test_y, 10, [str(i) for i in range(10)])


def load_synthetic(request: LoadRequest) -> Parts:
    """Uniform random 'pixels' and labels: measures throughput without any files."""
    size, num_classes = request.synthetic_size, request.num_classes or 10
    if size < 1 or num_classes < 1:
        raise DataError(
            f"synthetic: needs at least one sample and one class (got {size} samples, "
            f"{num_classes} classes)."
        )
    g = torch.Generator().manual_seed(request.seed)
    test_size = max(1, size // 4)
    x = torch.rand((size + test_size, *request.shape), generator=g)
    y = torch.randint(0, num_classes, (size + test_size,), generator=g)
    return Parts(
        x[:size].clone(), y[:size].clone(), x[size:].clone(), y[size:].clone(),
        num_classes, [str(i) for i in range(num_classes)],
    )

