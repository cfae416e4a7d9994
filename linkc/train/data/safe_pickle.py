"""Loading CIFAR's python pickles without letting a file run code.

A pickle can name any importable callable (``os.system``...) and run it on load,
and CIFAR files come from the internet, so the unpickler here rebuilds numpy arrays
and plain containers and refuses every other global. This is the only place in
linkc that unpickles anything.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from .spec import DataError

__all__ = ["CIFAR_URL", "restricted_load"]

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

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
                f"arbitrary code. Use the official files from {CIFAR_URL}."
            ) from None


def restricted_load(path: Path) -> object:
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
            f"Re-download the python version from {CIFAR_URL}."
        ) from None

