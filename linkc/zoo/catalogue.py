"""The index behind `linkc.zoo`: spec names, paper-row labels and families.

Built once per process from the shipped files. Names come from each file's
top-level `name:` line (read as text: resolving `linkc check NAME` should not
parse 40 specs); labels and families need the files' data, read only when a
name is not a spec name. The zoo's files are linkc's own package data, so they
are read with PyYAML's safe loader directly (LibYAML where installed), not
through the located loader that guards untrusted specs;
tests/zoo/test_zoo_names.py checks the index against the loaded specs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

SPECS = Path(__file__).resolve().parent / "specs"
_NAME_LINE = re.compile(r"^name:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def key(name: str) -> str:
    """The form names are compared in: lower case, `_` as `-`."""
    return name.strip().lower().replace("_", "-")


@lru_cache(maxsize=1)
def entries() -> dict[str, Path]:
    """Each zoo spec's name -> its file, in file-name order."""
    found: dict[str, Path] = {}
    for file in sorted(SPECS.glob("*.yaml")):
        line = _NAME_LINE.search(file.read_text(encoding="utf-8"))
        found[line.group(1) if line else file.stem.replace("_", "-")] = file
    return found


@lru_cache(maxsize=1)
def index() -> dict[str, Path]:
    """key -> spec file, for every spec name and file stem."""
    out = {key(file.stem): file for file in entries().values()}
    out.update({key(name): file for name, file in entries().items()})
    return out


@lru_cache(maxsize=None)
def data(file: Path) -> dict:
    import yaml

    return yaml.load(file.read_text(encoding="utf-8"),  # package data, LibYAML where installed
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@lru_cache(maxsize=1)
def rows() -> dict[str, tuple[str, Path, dict[str, Any]]]:
    """key of a paper row's label -> (label, spec file, the row's `set:` params)."""
    out: dict[str, tuple[str, Path, dict[str, Any]]] = {}
    for file in entries().values():
        paper = data(file).get("paper")
        for row in (paper or {}).get("rows", []) if isinstance(paper, dict) else []:
            if isinstance(row, dict) and row.get("label"):
                out.setdefault(key(str(row["label"])), (str(row["label"]), file,
                                                        dict(row.get("set") or {})))
    return out


def _structure(doc: dict) -> dict:
    """A spec without what a family's members may differ in: name, paper, param values."""
    shape = {k: v for k, v in doc.items() if k not in ("name", "paper", "params")}
    shape["params"] = sorted(doc.get("params") or {})
    return shape


def family(wanted: str) -> Path | None:
    """The base spec of the family `wanted` (a key), or None if no spec name starts
    with it. A SpecError if the specs it prefixes differ in more than params."""
    members = [(name, file) for name, file in sorted(entries().items())
               if key(name).startswith(wanted + "-")]
    if not members:
        return None
    shapes = [_structure(data(file)) for _, file in members]
    if any(s != shapes[0] for s in shapes[1:]):
        from ..errors import SpecError

        raise SpecError(f"'{wanted}' starts the names of several zoo specs that are not one "
                        "family (they differ in more than their params)",
                        hint="name one: " + ", ".join(name for name, _ in members))
    return members[0][1]
