"""Data sets for ``linkc train``.

The sets ``linkc train`` understands are small enough to live in memory: digits
(1,797 images), CIFAR-10/100 (60,000 images), modest image folders, and random
tensors for throughput runs. Keeping them as whole tensors lets the training
loop slice batches straight out of ``x``/``y``, which on a CPU is much faster
than a ``DataLoader`` that collates one sample at a time. The datasets are still
proper ``torch.utils.data.Dataset`` objects for code that wants a loader.

Every problem with the user's files is reported as a :class:`DataError` whose
message names the path, says what is wrong and what to do; the CLI prints it
and exits with status 2, so no user mistake ends in a traceback.
"""

from __future__ import annotations

import codecs
import difflib
import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = [
    "KINDS",
    "ArrayDataset",
    "DataError",
    "DataSpec",
    "Datasets",
    "augment_batch",
    "load_datasets",
    "parse_data_arg",
]

#: Data kinds accepted by ``--data``, and whether each needs a directory.
KINDS: dict[str, bool] = {
    "digits": False,
    "synthetic": False,
    "cifar10": True,
    "cifar100": True,
    "imagefolder": True,
}

_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
_CIFAR_PIXELS = 3 * 32 * 32
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_TEST_FRACTION = 0.2


class DataError(Exception):
    """A user-facing problem with a data set: bad ``--data`` value or bad files.

    The message is a complete paragraph meant to be printed as is.
    """


# ---------------------------------------------------------------------------
# --data argument
# ---------------------------------------------------------------------------


@dataclass
class DataSpec:
    """What ``--data`` asked for: a kind and, for file-backed kinds, a directory."""

    kind: str
    path: str | None = None


def parse_data_arg(text: str) -> DataSpec:
    """Parse a ``--data`` value such as ``digits`` or ``cifar10:~/data``.

    Only the first colon separates kind from path, so paths may contain colons.
    """
    kind, sep, path = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise _unknown_kind(text, kind)
    if KINDS[kind]:
        if not sep or not path.strip():
            raise DataError(
                f"The '{kind}' data set needs a directory: write '{kind}:DIR', "
                f"for example '{kind}:./data'."
            )
        return DataSpec(kind, path.strip())
    if sep:
        raise DataError(
            f"The '{kind}' data set takes no directory, but '{text}' gives one: "
            f"write just '{kind}'."
        )
    return DataSpec(kind, None)


def _unknown_kind(text: str, kind: str) -> DataError:
    close = difflib.get_close_matches(kind, list(KINDS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return DataError(
        f"Unknown data set '{text}'.{hint} Use one of: digits, synthetic, "
        "cifar10:DIR, cifar100:DIR, imagefolder:DIR."
    )


# ---------------------------------------------------------------------------
# In-memory data sets
# ---------------------------------------------------------------------------


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
    kind = spec.kind.strip().lower()
    if kind not in KINDS:
        raise _unknown_kind(spec.kind, kind)
    if kind == "synthetic":
        parts = _synthetic(shape, seed, synthetic_size, num_classes_hint or 10)
    elif kind == "digits":
        parts = _digits(shape, seed)
    else:
        if not spec.path:
            raise DataError(f"The '{kind}' data set needs a directory: write '{kind}:DIR'.")
        root = Path(os.path.expanduser(spec.path))
        if not root.is_dir():
            what = "is not a directory" if root.exists() else "does not exist"
            raise DataError(
                f"{kind}: '{root}' {what}. Point --data at the directory that "
                f"holds the data set, e.g. '{kind}:./data'."
            )
        if kind == "imagefolder":
            parts = _imagefolder(root, shape, seed)
        else:
            parts = _cifar(root, shape, _CIFAR10 if kind == "cifar10" else _CIFAR100)

    if num_classes_hint is not None and num_classes_hint < parts.num_classes:
        raise DataError(
            f"{kind} has {parts.num_classes} classes but the model's output has only "
            f"{num_classes_hint} units. Give the topology's last layer at least "
            f"{parts.num_classes} outputs, or pick a data set with fewer classes."
        )
    # Crop-and-flip suits natural images; mirrored digits are wrong digits, and the
    # synthetic set only measures speed.
    return parts.finish(augment=kind in ("cifar10", "cifar100", "imagefolder"))


@dataclass
class _Parts:
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


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear resize of an (N, C, H, W) float batch, skipped when already H x W."""
    if x.shape[-2:] == (h, w) or x.shape[0] == 0:
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def _uint8_to_unit(pixels: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(N, C, H0, W0) uint8 -> (N, C, h, w) float32 in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).float().div_(255.0)
    return _resize(x, h, w)


def _stratified_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class 80/20 split; every class with 2+ samples gets a test sample."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = min(max(int(round(len(idx) * _TEST_FRACTION)), 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# ---------------------------------------------------------------------------
# digits and synthetic
# ---------------------------------------------------------------------------


def _digits(shape: tuple[int, int, int], seed: int) -> _Parts:
    """scikit-learn's 8x8 digits (ships with the library): tiny, real, offline."""
    from sklearn.datasets import load_digits

    c, h, w = shape
    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = np.asarray(digits.target, dtype=np.int64)
    train_idx, test_idx = _stratified_split(labels, seed)

    def part(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(images[torch.from_numpy(idx)], h, w).repeat(1, c, 1, 1)
        return x.contiguous(), torch.from_numpy(labels[idx])

    train_x, train_y = part(train_idx)
    test_x, test_y = part(test_idx)
    return _Parts(train_x, train_y, test_x, test_y, 10, [str(i) for i in range(10)])


def _synthetic(shape: tuple[int, int, int], seed: int, size: int, num_classes: int) -> _Parts:
    """Uniform random 'pixels' and labels: measures throughput without any files."""
    if size < 1 or num_classes < 1:
        raise DataError(
            f"synthetic: needs at least one sample and one class (got {size} samples, "
            f"{num_classes} classes)."
        )
    g = torch.Generator().manual_seed(seed)
    test_size = max(1, size // 4)
    x = torch.rand((size + test_size, *shape), generator=g)
    y = torch.randint(0, num_classes, (size + test_size,), generator=g)
    return _Parts(
        x[:size].clone(), y[:size].clone(), x[size:].clone(), y[size:].clone(),
        num_classes, [str(i) for i in range(num_classes)],
    )


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------


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


def _cifar(root: Path, shape: tuple[int, int, int], fmt: _CifarFormat) -> _Parts:
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
            f"in '{fmt.py_dir}/'). Download and extract it from {_CIFAR_URL}."
        )
    missing = [name for name in train + test if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{fmt.name}: '{folder}' is missing {', '.join(missing)} (expected "
            f"{', '.join(train + test)}). Re-extract the archive from {_CIFAR_URL}."
        )
    read = _read_cifar_binary if layout == "bin" else _read_cifar_pickle
    train_px, train_y = _concat([read(folder / name, fmt) for name in train])
    test_px, test_y = _concat([read(folder / name, fmt) for name in test])
    return _Parts(
        _uint8_to_unit(train_px, h, w),
        torch.from_numpy(train_y),
        _uint8_to_unit(test_px, h, w),
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
            f"data set; re-download it from {_CIFAR_URL}."
        )
    return labels.astype(np.int64)


def _read_cifar_binary(path: Path, fmt: _CifarFormat) -> tuple[np.ndarray, np.ndarray]:
    """Records of ``header`` label bytes then 1024 R, 1024 G, 1024 B bytes (row-major 32x32)."""
    record = fmt.header + _CIFAR_PIXELS
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{fmt.name}: cannot read '{path}': {exc.strerror or exc}.") from None
    if raw.size == 0 or raw.size % record:
        raise DataError(
            f"{fmt.name}: '{path}' is {raw.size} bytes, not a whole number of {record}-byte "
            f"records ({fmt.header} label byte(s) + {_CIFAR_PIXELS} pixel bytes): it is "
            f"truncated or not the CIFAR binary format. Re-download the binary version from {_CIFAR_URL}."
        )
    rows = raw.reshape(-1, record)
    labels = _check_labels(rows[:, fmt.label_offset], path, fmt)
    return rows[:, fmt.header :].reshape(-1, 3, 32, 32), labels


# Pickle globals needed to rebuild numpy arrays, mapped to the objects this numpy
# provides (so old "numpy.core" names work without importing deprecated modules).
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]


def _latin1_encode(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, latin-1 only."""
    if encoding not in ("latin1", "latin-1"):
        raise DataError(f"refusing to decode pickle text with codec '{encoding}'")
    return codecs.encode(text, encoding)


_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and plain containers, nothing else.

    A pickle can name any importable callable (``os.system``...) and run it on
    load, and CIFAR files come from the internet, so every global outside the
    short numpy allow-list is refused.
    """

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str):
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"'{self._path}' is a pickle that references '{module}.{name}', which a CIFAR "
                "file never needs; linkc refuses to load it because unpickling it could run "
                f"arbitrary code. Use the official files from {_CIFAR_URL}."
            ) from None


def _restricted_load(path: Path) -> object:
    """Load a pickle file with :class:`_RestrictedUnpickler`, errors as :class:`DataError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}.") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(data), path).load()
    except DataError:
        raise
    except Exception as exc:  # any malformed pickle: EOFError, UnpicklingError, ValueError...
        raise DataError(
            f"'{path}' is not a readable CIFAR python pickle ({type(exc).__name__}: {exc}). "
            f"Re-download the python version from {_CIFAR_URL}."
        ) from None


def _read_cifar_pickle(path: Path, fmt: _CifarFormat) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR python batch: dict with ``b'data'`` (N, 3072) uint8 and a label list."""
    obj = _restricted_load(path)

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
    elif not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == _CIFAR_PIXELS):
        problem = f"its 'data' is not an (N, {_CIFAR_PIXELS}) uint8 array"
    elif y.ndim != 1:
        problem = f"its '{fmt.py_label_key}' is not a list of integers"
    elif len(y) != data.shape[0]:
        problem = f"it has {data.shape[0]} images but {len(y)} labels"
    else:
        return data.reshape(-1, 3, 32, 32), _check_labels(y, path, fmt)
    raise DataError(
        f"{fmt.name}: '{path}' is not a {fmt.name} python batch: {problem}. "
        f"Re-download the python version from {_CIFAR_URL}."
    )


# ---------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------


def _imagefolder(root: Path, shape: tuple[int, int, int], seed: int) -> _Parts:
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
        train_idx, test_idx = _stratified_split(train_y.numpy(), seed)
        test_x, test_y = train_x[test_idx], train_y[test_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
    return _Parts(train_x, train_y, test_x, test_y, len(names), names)


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
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise DataError(
                f"imagefolder: class folder '{folder}' has no images ({', '.join(_IMAGE_SUFFIXES)}). "
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


# ---------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and random horizontal flip of a (N, C, H, W) batch.

    The standard CIFAR recipe, vectorised: every sample's crop offsets and flip
    are drawn at once (row offsets, column offsets, flips, in that order) on
    the generator's device, then one gather builds the batch on ``x``'s
    device. The same generator state therefore gives the same augmentation
    whether ``x`` lives on the CPU or a GPU. Padding with zeros pads with the
    mean pixel, since ``x`` is normalised.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(x.device)
    flip = (torch.rand(n, generator=generator, device=gdev) < 0.5).to(x.device)

    # One gather over the flattened padded planes: output pixel (i, j) of sample k
    # reads padded row dy[k] + i and column dx[k] + j (or w - 1 - j when flipped).
    padded = F.pad(x, (pad, pad, pad, pad)).reshape(n, c, -1)
    ar_w = torch.arange(w, device=x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = dx[:, None] + torch.where(flip[:, None], w - 1 - ar_w, ar_w)  # (N, W)
    index = rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]  # (N, H, W)
    out = padded.gather(2, index.reshape(n, 1, h * w).expand(n, c, h * w))
    return out.reshape(n, c, h, w)
