"""What `--data` names: the kinds of data set, and the argument that picks one.

This module never imports torch (the config reads it while checking settings).
Each kind is one row of `KINDS`: whether it needs a directory, whether crop-and-flip
augmentation suits it, and the loader (a `module:function` of this package, imported
only when the set is loaded).
"""

from __future__ import annotations

from ...errors import UserError

import difflib
from dataclasses import dataclass

__all__ = ["KINDS", "DataError", "DataKind", "DataSpec", "dataset_bytes", "parse_data_arg"]


class DataError(UserError):
    """A user-facing problem with a data set: bad ``--data`` value or bad files.

    The message is a complete paragraph meant to be printed as is.
    """


@dataclass(frozen=True)
class DataKind:
    """One kind of data set `--data` accepts."""

    name: str
    needs_dir: bool
    # Crop-and-flip suits natural images; mirrored digits are wrong digits, and the
    # synthetic set only measures speed.
    augment: bool
    loader: str  # "module:function" in linkc.train.data, called as loader(request)
    # Samples (train + test) when known before reading any file, for the memory estimate;
    # None: counted from --synthetic-size (synthetic) or unknown (image folders).
    samples: int | None = None
    # The images' own (C, H, W), which the loader resizes to the model's input; None where
    # the images come at the input's shape (synthetic) or at any size (image folders).
    shape: tuple[int, int, int] | None = None


KINDS: dict[str, DataKind] = {k.name: k for k in (
    DataKind("digits", False, False, "builtin:load_digits", samples=1797, shape=(1, 8, 8)),
    DataKind("synthetic", False, False, "builtin:load_synthetic"),
    DataKind("cifar10", True, True, "cifar:load_cifar10", samples=60_000, shape=(3, 32, 32)),
    DataKind("cifar100", True, True, "cifar:load_cifar100", samples=60_000, shape=(3, 32, 32)),
    DataKind("imagefolder", True, True, "imagefolder:load_imagefolder"),
)}


def dataset_bytes(spec: "DataSpec", input_shape, synthetic_size: int = 512) -> int:
    """About the bytes loading ``spec`` holds at its peak: every sample as float32 at the
    model's input shape (the synthetic set is drawn, then copied into its two splits).
    0 when the size is unknown before reading the files (image folders)."""
    sample = 4
    for d in input_shape:
        sample *= int(d)
    if spec.kind == "synthetic":
        return 2 * (synthetic_size + max(1, synthetic_size // 4)) * sample
    return (KINDS[spec.kind].samples or 0) * sample


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
        raise unknown_kind(text, kind)
    if KINDS[kind].needs_dir:
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


def unknown_kind(text: str, kind: str) -> DataError:
    close = difflib.get_close_matches(kind, list(KINDS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    kinds = ", ".join(k.name + (":DIR" if k.needs_dir else "") for k in KINDS.values())
    return DataError(f"Unknown data set '{text}'.{hint} Use one of: {kinds}.")
