"""Image folders: ``DIR/train/<class>/*`` with ``val/`` or ``test/``, or ``DIR/<class>/*``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .arrays import LoadRequest, Parts, stratified_split
from .spec import DataError

__all__ = ["load_imagefolder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def load_imagefolder(request: LoadRequest) -> Parts:
    return _imagefolder(request.root, request.shape, request.seed)


def _imagefolder(root: Path, shape: tuple[int, int, int], seed: int) -> Parts:
    """``root/train/<class>/*`` + ``root/val|test/<class>/*``, or ``root/<class>/*`` split 80/20."""
    c, h, w = shape
    if c not in (1, 3):
        raise DataError(
            f"imagefolder: the model's input has {c} channels; images load as RGB (3) or "
            "grayscale (1). Set the topology's input channels to 3 or 1."
        )
    held_out = next((root / d for d in ("val", "test") if (root / d).is_dir()), None)
    has_train = (root / "train").is_dir()
    if held_out is not None and not has_train:
        raise DataError(
            f"imagefolder: '{root}' has '{held_out.name}/' but no 'train/' folder. Put the "
            f"training images in '{root / 'train'}/<class>/'."
        )
    train_dir = root / "train" if has_train else root
    classes = _class_folders(train_dir)
    names = [p.name for p in classes]
    train_x, train_y = _load_images(classes, range(len(classes)), (c, h, w))

    if held_out is not None:
        test_classes = _class_folders(held_out)
        unknown = [p.name for p in test_classes if p.name not in names]
        if unknown:
            raise DataError(
                f"imagefolder: '{held_out}' has class folder(s) {', '.join(unknown)} that "
                f"'{train_dir}' lacks. Every held-out class needs training images."
            )
        test_x, test_y = _load_images(test_classes, [names.index(p.name) for p in test_classes], (c, h, w))
    else:
        train_idx, test_idx = stratified_split(train_y.numpy(), seed)
        test_x, test_y = train_x[test_idx], train_y[test_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
    return Parts(train_x, train_y, test_x, test_y, len(names), names)


def _class_folders(folder: Path) -> list[Path]:
    """Sorted class sub-folders of ``folder``; none is an error."""
    classes = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    if not classes:
        raise DataError(
            f"imagefolder: '{folder}' has no class folders. Lay the images out as "
            "DIR/train/<class>/*.png and DIR/val/<class>/*.png, or DIR/<class>/*.png."
        )
    return classes


def _load_images(classes: list[Path], labels, shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Read every image of every class folder, converted and resized to ``shape``."""
    from PIL import Image

    c, h, w = shape
    mode = "L" if c == 1 else "RGB"
    pixels, ys = [], []
    for folder, label in zip(classes, labels):
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(
                f"imagefolder: class folder '{folder}' has no images ({', '.join(IMAGE_SUFFIXES)}). "
                "Add images or remove the folder."
            )
        for file in files:
            try:
                with Image.open(file) as img:
                    img = img.convert(mode)
                    if img.size != (w, h):
                        img = img.resize((w, h), Image.BILINEAR)
                    arr = np.asarray(img, dtype=np.uint8)
            except Exception as exc:  # corrupt files make PIL raise many types
                raise DataError(
                    f"imagefolder: cannot read image '{file}' ({exc}). Replace or delete the file."
                ) from None
            pixels.append(arr.reshape(h, w, c))
            ys.append(label)
    x = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    return x, torch.tensor(ys, dtype=torch.int64)

