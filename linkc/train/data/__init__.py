"""Data sets for ``linkc train``: one table of kinds, one loader per kind.

    spec.py         the --data argument and the table of kinds (no torch)
    load.py         load_datasets: the kind's loader, class-count check, normalisation
    arrays.py       whole-tensor data sets, normalisation, the shared split
    builtin.py      digits (shipped with scikit-learn) and synthetic tensors
    cifar.py        CIFAR-10/100, binary and python versions; safe_pickle.py
    imagefolder.py  folders of images per class
    augment.py      crop-and-flip of whole batches

Importing this package (and `spec`) does not import torch, so checking a config
stays light; the loaders and data set classes do.

Every problem with the user's files is reported as a :class:`DataError` whose
message names the path, says what is wrong and what to do; the CLI prints it
and exits with status 2, so no user mistake ends in a traceback.
"""

from __future__ import annotations

from .spec import KINDS, DataError, DataKind, DataSpec, dataset_bytes, parse_data_arg

__all__ = ["KINDS", "DataError", "DataKind", "DataSpec", "dataset_bytes", "parse_data_arg"]
