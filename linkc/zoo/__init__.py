"""The model zoo: the specs that ship with linkc, addressable by name.

    linkc.zoo.names()                  # ['delugenet', 'densenet-100-k12', ...]
    linkc.zoo.path("densenet-bc-100")  # .../linkc/zoo/specs/densenet_bc_100.yaml
    linkc.zoo.resolve("MixNet-250")    # Resolved(mixnet.yaml, params={depth: 250, ...})
    linkc.create("densenet-bc", k=24, depth=250)

What a name can be, tried in this order (letter case and `-`/`_` never matter):

1. a spec's top-level `name:` or its file stem (`dmrnet`, `dmrnet-cifar`);
2. the `label` of a row of a spec's `paper: rows:` table (`MixNet-250`,
   `DMRNet-56`): that spec with the row's `set:` params;
3. a family: the shared prefix of several specs that differ only in their
   params' values (`densenet-bc` for densenet-bc-100/-190-k40/-250-k24): the
   first of them by name, whose params the caller then overrides. A prefix
   whose specs differ in structure (`resnet`) is refused with their names.

The specs are package data (`linkc/zoo/specs/*.yaml`), so an installed wheel
has them; the repository's `specs/` is a link to that folder. This package
imports neither torch nor the compiler.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import SPECS, entries, family, index, key, rows

__all__ = ["SPECS", "Resolved", "key", "labels", "names", "path", "resolve"]


@dataclass(frozen=True)
class Resolved:
    """What a spec argument names: a file (or YAML text) and the params it implies."""

    spec: Any  # a Path, or the YAML text as given
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # the zoo name or row label, when it was one


def names() -> list[str]:
    """Every zoo spec's name, sorted."""
    return sorted(entries())


def labels() -> list[str]:
    """The labels of the paper rows, which name a spec with other params."""
    return sorted(label for label, _, _ in rows().values())


def path(name: str) -> Path:
    """The spec file of a zoo name (rule 1 above); KeyError if there is none."""
    file = index().get(key(name))
    if file is None:
        raise KeyError(f"no zoo spec named '{name}'")
    return file


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def _looks_like_a_name(text: str) -> bool:
    """One word, not a file name: YAML text has a ':' or a newline, a path a '/'."""
    return bool(_NAME.fullmatch(text)) and not text.endswith((".yaml", ".yml"))


def resolve(spec: Any) -> Resolved:
    """A spec argument (path, YAML text or zoo name) -> what to build.

    An existing file wins over a zoo name of the same spelling; a word that is
    neither a file nor a name is a SpecError listing the nearest names."""
    if not isinstance(spec, str) or not _looks_like_a_name(spec) or os.path.isfile(spec):
        return Resolved(Path(spec) if isinstance(spec, str) and os.path.isfile(spec) else spec)
    wanted = key(spec)
    file = index().get(wanted)
    if file is not None:
        return Resolved(file, {}, spec)
    row = rows().get(wanted)
    if row is not None:
        _, file, params = row
        return Resolved(file, dict(params), spec)
    base = family(wanted)
    if base is not None:
        return Resolved(base, {}, spec)
    raise _unknown(spec)


def _unknown(spec: str):
    import difflib

    from ..errors import SpecError

    known = names() + labels()
    by_key = {key(n): n for n in known}
    nearest = [by_key[k] for k in
               difflib.get_close_matches(key(spec), list(by_key), n=5, cutoff=0.5)]
    hint = ("nearest zoo names: " + ", ".join(nearest) + "; " if nearest else "") + \
        "`linkc zoo` lists them all"
    return SpecError(f"'{spec}' is neither a spec file nor a zoo name", hint=hint)
