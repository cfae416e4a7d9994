"""Tests for linkc.train.data: the on-disk formats round-trip exactly and bad
input becomes a DataError with a useful message, never a traceback."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from linkc.train.data import DataError, DataSpec, parse_data_arg
from linkc.train.data.arrays import ArrayDataset
from linkc.train.data.augment import augment_batch
from linkc.train.data.load import load_datasets

CIFAR10_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR10_FILES = CIFAR10_TRAIN + ["test_batch.bin"]


# ---------------------------------------------------------------------------
# helpers writing the exact on-disk formats
# ---------------------------------------------------------------------------


def _images(n: int, seed: int) -> np.ndarray:
    """n random CIFAR images as (n, 3, 32, 32) uint8."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def _write_bin(path, labels: list[list[int]], images: np.ndarray) -> None:
    """Binary records: label byte(s) then 1024 R, 1024 G, 1024 B bytes (row-major)."""
    head = np.asarray(labels, dtype=np.uint8).reshape(len(images), -1)
    np.concatenate([head, images.reshape(len(images), -1)], axis=1).tofile(path)


def _write_cifar10_bin(folder, per_file: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(CIFAR10_FILES):
        labels = np.random.default_rng(100 + i).integers(0, 10, per_file)
        images = _images(per_file, i)
        _write_bin(folder / name, [[int(v)] for v in labels], images)
        written[name] = (labels, images)
    return written


def _pixels(ds, datasets) -> np.ndarray:
    """De-normalised uint8 pixels of an ArrayDataset."""
    return (datasets.denormalize(ds.x) * 255).round().to(torch.uint8).numpy()


def _assert_roundtrip(datasets, train, test) -> None:
    """train/test are lists of (labels, images) in file order."""
    for ds, parts in ((datasets.train, train), (datasets.test, test)):
        labels = np.concatenate([p[0] for p in parts])
        images = np.concatenate([p[1] for p in parts])
        assert ds.y.dtype == torch.int64 and ds.x.dtype == torch.float32
        np.testing.assert_array_equal(ds.y.numpy(), labels)
        np.testing.assert_array_equal(_pixels(ds, datasets), images)


# ---------------------------------------------------------------------------
# parse_data_arg
# ---------------------------------------------------------------------------


def test_parse_data_arg_kinds():
    assert parse_data_arg("digits") == DataSpec("digits", None)
    assert parse_data_arg("synthetic") == DataSpec("synthetic", None)
    assert parse_data_arg("cifar10:/data/c10") == DataSpec("cifar10", "/data/c10")
    assert parse_data_arg("cifar100:rel/dir") == DataSpec("cifar100", "rel/dir")
    assert parse_data_arg("imagefolder:C:\\imgs") == DataSpec("imagefolder", "C:\\imgs")


def test_parse_data_arg_unknown_kind_suggests():
    with pytest.raises(DataError, match="Did you mean 'cifar10'"):
        parse_data_arg("cifar1O:/x")
    with pytest.raises(DataError, match="Unknown data set 'mnist'.*imagefolder:DIR"):
        parse_data_arg("mnist")


def test_parse_data_arg_path_rules():
    with pytest.raises(DataError, match="needs a directory.*cifar10:DIR"):
        parse_data_arg("cifar10")
    with pytest.raises(DataError, match="takes no directory"):
        parse_data_arg("digits:/tmp")


# ---------------------------------------------------------------------------
# digits and synthetic
# ---------------------------------------------------------------------------


def test_digits_shapes_split_and_determinism():
    a = load_datasets(DataSpec("digits", None), (3, 16, 16), seed=1)
    assert a.num_classes == 10 and not a.augment
    assert len(a.train) + len(a.test) == 1797
    assert 0.18 < len(a.test) / 1797 < 0.22
    assert a.train.x.shape[1:] == (3, 16, 16) and a.test.x.shape[1:] == (3, 16, 16)
    assert set(a.train.y.tolist()) == set(range(10)) == set(a.test.y.tolist())
    assert torch.equal(a.train.x[:, 0], a.train.x[:, 2])  # channels repeated
    assert a.mean.shape == (3,) and a.std.shape == (3,)
    assert abs(a.train.x.mean().item()) < 1e-4 and abs(a.train.x.std().item() - 1) < 1e-2

    b = load_datasets(DataSpec("digits", None), (3, 16, 16), seed=1)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    c = load_datasets(DataSpec("digits", None), (3, 16, 16), seed=2)
    assert not torch.equal(a.test.y, c.test.y)


def test_digits_native_size_is_exact():
    from sklearn.datasets import load_digits

    d = load_datasets(DataSpec("digits", None), (1, 8, 8))
    images = load_digits().images / 16.0
    restored = d.denormalize(torch.cat([d.train.x, d.test.x]))[:, 0].numpy()
    # every loaded image is one of the originals, unchanged
    originals = {img.round(4).tobytes() for img in images.astype(np.float32)}
    assert all(img.round(4).tobytes() in originals for img in restored[:50])


def test_synthetic_is_seeded_and_honours_hint():
    a = load_datasets(DataSpec("synthetic", None), (3, 8, 8), seed=3, synthetic_size=64, num_classes_hint=5)
    b = load_datasets(DataSpec("synthetic", None), (3, 8, 8), seed=3, synthetic_size=64, num_classes_hint=5)
    assert len(a.train) == 64 and len(a.test) == 16 and a.num_classes == 5
    assert a.train.x.shape == (64, 3, 8, 8) and int(a.train.y.max()) < 5
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)


def test_array_dataset_works_as_torch_dataset():
    d = load_datasets(DataSpec("synthetic", None), (1, 4, 4), synthetic_size=10)
    assert isinstance(d.train, ArrayDataset)
    x, y = d.train[3]
    assert x.shape == (1, 4, 4) and y.dtype == torch.int64
    xb, yb = next(iter(torch.utils.data.DataLoader(d.train, batch_size=4)))
    assert xb.shape == (4, 1, 4, 4) and yb.shape == (4,)


def test_num_classes_hint_too_small():
    with pytest.raises(DataError, match="digits has 10 classes but the model's output has only 2"):
        load_datasets(DataSpec("digits", None), (1, 8, 8), num_classes_hint=2)


# ---------------------------------------------------------------------------
# CIFAR binary
# ---------------------------------------------------------------------------


def test_cifar10_binary_roundtrip(tmp_path):
    written = _write_cifar10_bin(tmp_path)
    d = load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))
    assert d.num_classes == 10 and d.augment
    assert len(d.train) == 15 and len(d.test) == 3
    _assert_roundtrip(d, [written[n] for n in CIFAR10_TRAIN], [written["test_batch.bin"]])
    # spot-check the byte layout: record k's pixel (c, y, x) is byte 1 + c*1024 + y*32 + x
    raw = np.fromfile(tmp_path / "data_batch_2.bin", dtype=np.uint8).reshape(-1, 3073)
    k, c, yy, xx = 1, 2, 5, 7
    assert _pixels(d.train, d)[3 + k, c, yy, xx] == raw[k, 1 + c * 1024 + yy * 32 + xx]
    assert d.train.y[3 + k] == raw[k, 0]


def test_cifar10_binary_parent_dir_and_resize(tmp_path):
    _write_cifar10_bin(tmp_path / "cifar-10-batches-bin", per_file=2)
    d = load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 16, 24))
    assert d.train.x.shape == (10, 3, 16, 24) and d.test.x.shape == (2, 3, 16, 24)


def test_cifar100_binary_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    train_img, test_img = _images(4, 1), _images(2, 2)
    _write_bin(folder / "train.bin", [[1, 99], [2, 0], [3, 42], [19, 7]], train_img)
    _write_bin(folder / "test.bin", [[0, 5], [4, 64]], test_img)
    d = load_datasets(DataSpec("cifar100", str(tmp_path)), (3, 32, 32))
    assert d.num_classes == 100
    _assert_roundtrip(d, [(np.array([99, 0, 42, 7]), train_img)], [(np.array([5, 64]), test_img)])


def test_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=f"'{missing}' does not exist"):
        load_datasets(DataSpec("cifar10", str(missing)), (3, 32, 32))
    with pytest.raises(DataError, match="does not exist"):
        load_datasets(DataSpec("imagefolder", str(missing)), (3, 32, 32))


def test_empty_cifar_directory_lists_expected_layouts(tmp_path):
    with pytest.raises(DataError) as err:
        load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))
    msg = str(err.value)
    assert str(tmp_path) in msg
    for expected in ("data_batch_1.bin", "test_batch.bin", "cifar-10-batches-bin", "cifar-10-batches-py"):
        assert expected in msg


def test_missing_cifar_files_are_listed(tmp_path):
    _write_cifar10_bin(tmp_path)
    (tmp_path / "data_batch_3.bin").unlink()
    (tmp_path / "test_batch.bin").unlink()
    with pytest.raises(DataError, match=r"is missing data_batch_3\.bin, test_batch\.bin"):
        load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))


def test_truncated_cifar_file(tmp_path):
    _write_cifar10_bin(tmp_path)
    path = tmp_path / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError) as err:
        load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))
    assert "data_batch_4.bin" in str(err.value)
    assert "truncated or not the CIFAR binary format" in str(err.value)


def test_cifar_label_out_of_range(tmp_path):
    _write_cifar10_bin(tmp_path)
    _write_bin(tmp_path / "data_batch_5.bin", [[1], [10]], _images(2, 9))
    with pytest.raises(DataError, match=r"data_batch_5\.bin' record 1 has label 10, outside 0\.\.9"):
        load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))

    folder = tmp_path / "c100"
    folder.mkdir()
    _write_bin(folder / "train.bin", [[0, 100]], _images(1, 1))
    _write_bin(folder / "test.bin", [[0, 1]], _images(1, 2))
    with pytest.raises(DataError, match=r"record 0 has label 100, outside 0\.\.99"):
        load_datasets(DataSpec("cifar100", str(folder)), (3, 32, 32))


def test_cifar_channel_mismatch(tmp_path):
    _write_cifar10_bin(tmp_path)
    with pytest.raises(DataError, match="3 colour channels but the model's input has 1"):
        load_datasets(DataSpec("cifar10", str(tmp_path)), (1, 32, 32))


# ---------------------------------------------------------------------------
# CIFAR python pickles
# ---------------------------------------------------------------------------


def _write_pickle(path, labels, images, label_key=b"labels", protocol=2):
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        label_key: [int(v) for v in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_pickle_roundtrip(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    train = []
    for i in range(1, 6):
        labels, images = np.arange(i, i + 2) % 10, _images(2, i)
        _write_pickle(folder / f"data_batch_{i}", labels, images, protocol=protocol)
        train.append((labels, images))
    test = (np.array([9]), _images(1, 77))
    _write_pickle(folder / "test_batch", *test, protocol=protocol)
    d = load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))
    _assert_roundtrip(d, train, [test])


def test_cifar100_pickle_roundtrip(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = (np.array([0, 99, 50]), _images(3, 5))
    test = (np.array([12, 13]), _images(2, 6))
    _write_pickle(folder / "train", *train, label_key=b"fine_labels")
    _write_pickle(folder / "test", *test, label_key=b"fine_labels")
    d = load_datasets(DataSpec("cifar100", str(tmp_path)), (3, 32, 32))
    assert d.num_classes == 100
    _assert_roundtrip(d, [train], [test])


def test_cifar_pickle_with_legacy_numpy_core_names(tmp_path):
    """The official files (pickled by numpy 1.x) name numpy.core.multiarray._reconstruct."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = (np.array([3, 4]), _images(2, 8))
    _write_pickle(folder / "train", *train, label_key=b"fine_labels", protocol=2)
    _write_pickle(folder / "test", *train, label_key=b"fine_labels", protocol=2)
    for name in ("train", "test"):
        data = (folder / name).read_bytes()
        data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
        assert b"cnumpy.core.multiarray\n_reconstruct" in data
        (folder / name).write_bytes(data)
    d = load_datasets(DataSpec("cifar100", str(tmp_path)), (3, 32, 32))
    _assert_roundtrip(d, [train], [train])


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo hi",))


def test_restricted_unpickler_refuses_os_system(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}))
    with pytest.raises(DataError) as err:
        load_datasets(DataSpec("cifar10", str(tmp_path)), (3, 32, 32))
    msg = str(err.value)
    assert "data_batch_1" in msg and "system" in msg and "refuses" in msg


def test_restricted_unpickler_rejects_garbage_and_wrong_content(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(b"this is not a pickle")
    _write_pickle(folder / "test", [1], _images(1, 1), label_key=b"fine_labels")
    with pytest.raises(DataError, match="'.*train' is not a readable CIFAR python pickle"):
        load_datasets(DataSpec("cifar100", str(tmp_path)), (3, 32, 32))

    # a CIFAR-10 batch (b'labels') where CIFAR-100 (b'fine_labels') is expected
    _write_pickle(folder / "train", [1], _images(1, 1), label_key=b"labels")
    with pytest.raises(DataError, match="has no 'fine_labels' entry"):
        load_datasets(DataSpec("cifar100", str(tmp_path)), (3, 32, 32))


# ---------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------


def _write_png(path, value: int, size=(8, 6), mode="RGB") -> np.ndarray:
    """An image whose pixels encode ``value`` (and position), so each file is recognisable."""
    w, h = size
    arr = (np.arange(h * w * 3).reshape(h, w, 3) + value) % 256
    arr = arr.astype(np.uint8)
    if mode == "L":
        arr = arr[:, :, 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)
    return arr


def test_imagefolder_train_val_roundtrip(tmp_path):
    written = {"train": [], "val": []}
    for split, n in (("train", 3), ("val", 1)):
        for label, cls in enumerate(["cat", "dog"]):  # sorted class order = label
            for i in range(n):
                value = 50 * label + 10 * i + (7 if split == "val" else 0)
                arr = _write_png(tmp_path / split / cls / f"{i}.png", value)
                written[split].append((label, arr.transpose(2, 0, 1)))
    (tmp_path / "train" / "cat" / "notes.txt").write_text("ignored: not an image")
    d = load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))
    assert d.num_classes == 2 and d.class_names == ["cat", "dog"] and d.augment
    for ds, expected in ((d.train, written["train"]), (d.test, written["val"])):
        got = _pixels(ds, d)
        assert len(ds) == len(expected)
        for k, (label, arr) in enumerate(expected):  # classes sorted, files sorted
            assert int(ds.y[k]) == label
            np.testing.assert_array_equal(got[k], arr)


def test_imagefolder_grayscale_resize_and_auto_split(tmp_path):
    for cls in ("b", "a", "c"):
        for i in range(5):
            _write_png(tmp_path / cls / f"{i}.bmp", i, size=(12, 10), mode="L")
    a = load_datasets(DataSpec("imagefolder", str(tmp_path)), (1, 4, 4), seed=0)
    b = load_datasets(DataSpec("imagefolder", str(tmp_path)), (1, 4, 4), seed=0)
    assert a.class_names == ["a", "b", "c"]
    assert a.train.x.shape == (12, 1, 4, 4) and a.test.x.shape == (3, 1, 4, 4)
    assert sorted(a.test.y.tolist()) == [0, 1, 2]  # stratified: one per class
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)


def test_imagefolder_test_dir_accepted(tmp_path):
    _write_png(tmp_path / "train" / "x" / "0.png", 1)
    _write_png(tmp_path / "train" / "y" / "0.png", 2)
    _write_png(tmp_path / "test" / "y" / "0.jpg", 3)
    d = load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))
    assert len(d.train) == 2 and d.test.y.tolist() == [1]


def test_imagefolder_empty_class_folder(tmp_path):
    _write_png(tmp_path / "train" / "cat" / "0.png", 1)
    (tmp_path / "train" / "dog").mkdir()
    with pytest.raises(DataError) as err:
        load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))
    assert str(tmp_path / "train" / "dog") in str(err.value) and "has no images" in str(err.value)


def test_imagefolder_no_class_folders(tmp_path):
    with pytest.raises(DataError, match="has no class folders"):
        load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))


def test_imagefolder_unreadable_image(tmp_path):
    _write_png(tmp_path / "cat" / "0.png", 1)
    bad = tmp_path / "cat" / "1.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError) as err:
        load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))
    assert f"cannot read image '{bad}'" in str(err.value)


def test_imagefolder_val_class_unknown_and_channels(tmp_path):
    _write_png(tmp_path / "train" / "cat" / "0.png", 1)
    _write_png(tmp_path / "val" / "cow" / "0.png", 1)
    with pytest.raises(DataError, match="class folder\\(s\\) cow"):
        load_datasets(DataSpec("imagefolder", str(tmp_path)), (3, 6, 8))
    with pytest.raises(DataError, match="has 4 channels"):
        load_datasets(DataSpec("imagefolder", str(tmp_path)), (4, 6, 8))


# ---------------------------------------------------------------------------
# augment_batch
# ---------------------------------------------------------------------------


def _candidates(img: torch.Tensor, pad: int) -> list[torch.Tensor]:
    """Every crop (and its mirror) that crop-with-padding can produce, by plain slicing."""
    _, h, w = img.shape
    padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
    crops = [padded[:, i : i + h, j : j + w] for i in range(2 * pad + 1) for j in range(2 * pad + 1)]
    return crops + [c.flip(-1) for c in crops]


def test_augment_batch_shape_and_determinism():
    x = torch.randn(16, 3, 8, 8)
    a = augment_batch(x, torch.Generator().manual_seed(0))
    b = augment_batch(x, torch.Generator().manual_seed(0))
    c = augment_batch(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_batch_outputs_are_crops_and_flips():
    img = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6) + 1  # distinct, non-zero
    pad = 1
    cands = _candidates(img, pad)
    out = augment_batch(img.expand(400, -1, -1, -1), torch.Generator().manual_seed(5), pad=pad)
    seen = set()
    for sample in out:
        hits = [i for i, c in enumerate(cands) if torch.equal(sample, c)]
        assert hits, "output is not a crop/flip of the input"
        seen.add(hits[0])
    assert seen == set(range(len(cands)))  # every offset and both flips occur


def test_augment_batch_known_outcome():
    """Replay the documented draw order (rows, cols, flips) and compare to slicing."""
    x = torch.randn(6, 3, 7, 7)
    pad = 2
    out = augment_batch(x, torch.Generator().manual_seed(11), pad=pad)
    g = torch.Generator().manual_seed(11)
    dy = torch.randint(0, 2 * pad + 1, (6,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (6,), generator=g)
    flip = torch.rand(6, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    for k in range(6):
        crop = padded[k, :, dy[k] : dy[k] + 7, dx[k] : dx[k] + 7]
        assert torch.equal(out[k], crop.flip(-1) if flip[k] else crop)


def test_augment_batch_pad_zero_only_flips():
    x = torch.randn(32, 1, 4, 4)
    out = augment_batch(x, torch.Generator().manual_seed(2), pad=0)
    same = [torch.equal(o, i) for o, i in zip(out, x)]
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    assert all(s or f for s, f in zip(same, flipped)) and any(same) and any(flipped)


def test_every_kind_names_a_loader_and_parsing_needs_no_torch():
    import importlib
    import subprocess
    import sys

    from linkc.train.data import KINDS

    for kind in KINDS.values():
        module, function = kind.loader.split(":")
        assert callable(getattr(importlib.import_module(f"linkc.train.data.{module}"), function))
    code = ("import sys; from linkc.train.data import parse_data_arg; "
            "parse_data_arg('cifar10:/x'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
