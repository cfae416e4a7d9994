"""Window arithmetic of convolutions and pools, and the padding words.

Sizes follow torch's own formulas exactly (including `ceil_mode`), so a shape
inferred here is the shape the lowered module produces. `padding` is a number
or one of two words: `valid` (no padding) and `same` (the output is
ceil(size / stride); equal padding on both sides, so the kernel extent must be
odd). Left out, conv keeps its historic default dilation*(k-1)//2, which is
`same` for odd kernels and halves an even size exactly for a strided 4x4.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import NonNegativeInt

from .registry import Shape, ShapeError

PadWord = Literal["same", "valid"]
Padding = Union[PadWord, NonNegativeInt]
OptionalPadding = Optional[Padding]
PADDING_DOC = "zero padding: a number, 'same' (output = ceil(size/stride)) or 'valid' (none)"


def spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{op} needs a (C, H, W) feature map, got shape {list(shape)}",
                         "spatial ops cannot follow gap/flatten/linear")
    return shape  # type: ignore[return-value]


def window(size: int, k: int, stride: int, pad: int, dilation: int, op: str,
           ceil_mode: bool = False) -> int:
    """torch's output size of a sliding window (conv, max/avg pool)."""
    span = size + 2 * pad - dilation * (k - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window would start inside the right padding
    if out < 1:
        raise ShapeError(f"{op} shrinks the spatial size {size} to {out}",
                         "use a smaller kernel or stride, or a larger input")
    return out


def default_pad(k: int, dilation: int = 1) -> int:
    # "same" for odd kernels; for even kernels (e.g. a strided 4x4) this is the
    # usual choice that halves an even size exactly at stride 2.
    return dilation * (k - 1) // 2


def resolve_padding(padding: Optional[Padding], k: int, dilation: int, op: str) -> int:
    """The number of zeros on each side for a padding as written (None: the default)."""
    if padding is None:
        return default_pad(k, dilation)
    if padding == "valid":
        return 0
    if padding == "same":
        extent = dilation * (k - 1) + 1
        if extent % 2 == 0:
            raise ShapeError(
                f"{op} padding 'same' needs an odd kernel extent, got {extent} (k={k}, "
                f"dilation={dilation})", "'same' pads both sides equally; give padding as a "
                "number (a 4x4 kernel at stride 2 halves an even size with padding 1)")
        return extent // 2
    return padding


def pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])
