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
    if _looks_like_a_missing_file(spec):
        raise _missing_file(spec)
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


def _looks_like_a_missing_file(spec: Any) -> bool:
    """A path (a PathLike, or one line ending in .yaml/.yml or holding a '/') to nothing."""
    if isinstance(spec, str):
        one_line = "\n" not in spec and ": " not in spec and not spec.lstrip().startswith("{")
        if not (one_line and (spec.endswith((".yaml", ".yml")) or "/" in spec)):
            return False
    elif not isinstance(spec, os.PathLike):
        return False
    return not os.path.exists(spec)


def _nearest(word: str, candidates: list[str], n: int = 3) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)


def _nearest_files(path: Path) -> list[str]:
    """Spec files whose names are nearest `path`'s: beside it, or in the folders whose
    names are nearest its folder's when that folder does not exist."""
    folder = path.parent
    if folder.is_dir():
        folders = [folder]
    else:
        above = folder.parent if folder.parent.is_dir() else Path(".")
        try:
            siblings = [p.name for p in above.iterdir() if p.is_dir()]
        except OSError:
            siblings = []
        folders = [above / name for name in _nearest(folder.name, siblings, 2)]
    files = []
    for where in folders:
        try:
            files += [p for p in where.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()]
        except OSError:
            continue
    by_name: dict[str, list[Path]] = {}
    for file in files:
        by_name.setdefault(file.name.lower(), []).append(file)
    near = _nearest(path.name.lower(), list(by_name))
    return [str(file) for name in near for file in by_name[name]][:3]


def _missing_file(spec: str | os.PathLike):
    """The error for a spec path to nothing, with the spec files and zoo names nearest it
    (a misspelt name is the usual cause)."""
    from ..errors import SpecError

    path = Path(spec)
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    by_key = {key(n): n for n in names() + labels()}
    zoo = [by_key[k] for k in _nearest(key(stem), list(by_key))]
    files = _nearest_files(path)
    near = ([f"nearest files: {', '.join(files)}"] if files else []) + \
        ([f"nearest zoo names: {', '.join(zoo)} (`linkc zoo` lists them all)"] if zoo else [])
    return SpecError(f"cannot read spec '{os.fspath(spec)}': No such file or directory",
                     hint="; ".join(near) or None)


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
