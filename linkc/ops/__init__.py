"""The registry of ops and merges: one row per op or merge, every fact about it in the row.

Shapes are per sample and channels first: `(C, H, W)` for feature maps, `(F,)` for
vectors. To add an op, write its `Args` model, a shape rule and one `OPS.add(OpDef(...))`
row in the file of its family (conv.py, norm.py, activation.py, affine.py, pool.py,
resample.py, regularize.py), naming the torch module that lowers it and the traits
(registry.TRAITS) the passes read; a merge is one `MERGES.add(MergeDef(...))` row in
merges.py. Window arithmetic and the padding words are in geometry.py; plugins.py loads
installed plugins, which add rows through `linkc.extend`. Nothing here imports torch.
"""

from . import activation, affine, conv, norm, pool, regularize, resample  # noqa: F401 (rows)
from .merges import MERGES, MergeDef
from .registry import BUILTIN, OPS, TRAITS, Args, Lowering, NoArgs, OpDef, Origin, Registry

__all__ = ["BUILTIN", "MERGES", "OPS", "TRAITS", "Args", "Lowering", "MergeDef", "NoArgs",
           "OpDef", "Origin", "Registry"]
