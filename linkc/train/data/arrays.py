"""In-memory data sets: whole tensors the training loop slices batches from.

The sets ``linkc train`` understands are small enough to live in memory: digits
(1,797 images), CIFAR-10/100 (60,000 images), modest image folders, and random
tensors for throughput runs. Keeping them as whole tensors lets the training
loop slice batches straight out of ``x``/``y``, which on a CPU is much faster
than a ``DataLoader`` that collates one sample at a time. The datasets are still
proper ``torch.utils.data.Dataset`` objects for code that wants a loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "Datasets", "LoadRequest", "Parts", "resize", "stratified_split",
           "uint8_to_unit"]

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class LoadRequest:
    """What every loader is given: the directory (file-backed kinds), the model's
    input shape, the seed of every random choice, and the synthetic set's size and
    class count."""

    root: Path | None
    shape: tuple[int, int, int]
    seed: int
    synthetic_size: int
    num_classes: int | None


class ArrayDataset(Dataset):
    """Whole-tensor data set: ``x`` is (N, C, H, W) float32 normalised, ``y`` (N,) int64.

    A training loop can index ``x[idx]``/``y[idx]`` with a batch of indices
    directly; ``__getitem__`` serves ``DataLoader`` users.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}")
        self.x = x
        self.y = y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``, as ``torch.utils.data.TensorDataset`` exposes them."""
        return self.x, self.y

    def to(self, device: torch.device | str) -> ArrayDataset:
        """A copy on ``device``, so a GPU run can keep the whole set there."""
        return ArrayDataset(self.x.to(device), self.y.to(device))


@dataclass
class Datasets:
    """Train and test sets plus what the training loop needs to know about them.

    ``mean``/``std`` are per-channel statistics of the training pixels scaled
    to [0, 1]; both sets are normalised with them. ``augment`` says whether
    crop-and-flip augmentation suits the images (natural photos, not digits).
    """

    train: ArrayDataset
    test: ArrayDataset
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    augment: bool
    class_names: list[str] = field(default_factory=list)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: pixels back in [0, 1] (``* 255`` for 8-bit sources)."""
        shape = (1, -1, 1, 1) if x.dim() == 4 else (-1, 1, 1)
        mean = self.mean.to(x.device).view(shape)
        std = self.std.to(x.device).view(shape)
        return x * std + mean



@dataclass
class Parts:
    """Pixels in [0, 1] (N, C, H, W float32) and labels, before normalisation."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    class_names: list[str]

    def finish(self, augment: bool) -> Datasets:
        """Normalise both sets in place with the training set's channel statistics."""
        var, mean = torch.var_mean(self.train_x, dim=(0, 2, 3), correction=0)
        std = var.sqrt()
        std = torch.where(std > 1e-6, std, torch.ones_like(std))  # constant channel
        for x in (self.train_x, self.test_x):
            x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
        return Datasets(
            train=ArrayDataset(self.train_x, self.train_y),
            test=ArrayDataset(self.test_x, self.test_y),
            num_classes=self.num_classes,
            mean=mean,
            std=std,
            augment=augment,
            class_names=self.class_names,
        )


def resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear resize of an (N, C, H, W) float batch, skipped when already H x W."""
    if x.shape[-2:] == (h, w) or x.shape[0] == 0:
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def uint8_to_unit(pixels: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(N, C, H0, W0) uint8 -> (N, C, h, w) float32 in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).float().div_(255.0)
    return resize(x, h, w)


def stratified_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class 80/20 split; every class with 2+ samples gets a test sample."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = min(max(int(round(len(idx) * TEST_FRACTION)), 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))

