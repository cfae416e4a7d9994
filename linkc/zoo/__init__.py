"""The model zoo: the specs that ship with linkc, addressable by name.

    linkc.zoo.names()                  # ['delugenet', 'densenet-100-k12', ...]
    linkc.zoo.path("densenet-bc-100")  # .../linkc/zoo/specs/densenet_bc_100.yaml

A zoo name is a spec's top-level `name:`; its file stem with `_` for `-` names
it too (`dmrnet` and `dmrnet-cifar` are the same spec). Letter case and `-`/`_`
do not matter. The specs are package data (`linkc/zoo/specs/*.yaml`), so an
installed wheel has them; the repository's `specs/` is a link to that folder.
This module imports neither torch nor the compiler.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

SPECS = Path(__file__).resolve().parent / "specs"

# The zoo's own files name themselves on one top-level line; reading that line
# instead of loading 40 specs keeps name lookup (every `linkc check NAME`) cheap.
# tests/zoo/test_zoo_names.py checks the index against the loaded `name:`.
_NAME_LINE = re.compile(r"^name:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def key(name: str) -> str:
    """The form names are compared in: lower case, `_` as `-`."""
    return name.strip().lower().replace("_", "-")


@lru_cache(maxsize=1)
def _entries() -> dict[str, Path]:
    """Each zoo spec's name -> its file, in file-name order."""
    entries: dict[str, Path] = {}
    for file in sorted(SPECS.glob("*.yaml")):
        found = _NAME_LINE.search(file.read_text(encoding="utf-8"))
        entries[found.group(1) if found else file.stem.replace("_", "-")] = file
    return entries


@lru_cache(maxsize=1)
def _index() -> dict[str, Path]:
    """key -> spec file, for every spec name and file stem of the zoo."""
    index = {key(file.stem): file for file in _entries().values()}
    index.update({key(name): file for name, file in _entries().items()})
    return index


def names() -> list[str]:
    """Every zoo spec's name, sorted."""
    return sorted(_entries())


def path(name: str) -> Path:
    """The spec file of a zoo name; KeyError if there is none."""
    file = _index().get(key(name))
    if file is None:
        raise KeyError(f"no zoo spec named '{name}'")
    return file
