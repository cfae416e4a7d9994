"""`include: [common/blocks.yaml]`: blocks from other files, merged into the spec's.

An included file holds blocks (and may include further files):

    linkc: 1            # optional
    include: [more.yaml]
    blocks: {res: {...}}

A path is relative to the file that names it; when it is not found there, each
`--include-path DIR` (`include_path=` in Python) is tried in order. Every file
must lie inside the spec's directory tree or one of those directories (after
resolving links), must end in .yaml or .yml, and is never a URL; absolute paths
are allowed only inside an include-path directory. Cycles are errors, a file
reached twice (a diamond) is read once, and depth and file count are capped by
`LoadLimits`. Each included file keeps its own `Source`, so every error in one
of its blocks names that file, line and column.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import Loc, SpecError, did_you_mean, limit_hint
from .load import DEFAULT_LIMITS, Document, LDict, LList, LoadLimits, load

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|[^\\/])")
_FILE_KEYS = ("linkc", "doc", "include", "blocks")


def spec_dir(doc: Document) -> Path:
    """The directory includes of `doc` are relative to: its file's, or the current
    directory for a spec given as text."""
    path = Path(doc.source.name)
    return path.parent if doc.source.name != "<spec>" and path.is_file() else Path(".")


@dataclass
class _State:
    roots: list[Path]  # real paths of the directories files may come from
    search: list[Path]  # --include-path directories, as given
    limits: LoadLimits
    seen: set[str] = field(default_factory=set)
    origin: dict[str, Loc] = field(default_factory=dict)  # block name -> where it is defined
    blocks: LDict | None = None


def resolve_includes(doc: Document, include_path: Sequence[str | os.PathLike] = (),
                     limits: LoadLimits = DEFAULT_LIMITS) -> Document:
    """A copy of `doc` whose `blocks` also hold the blocks of every included file."""
    if "include" not in doc.root:
        return doc
    base = spec_dir(doc)
    search = [Path(p) for p in include_path]
    for p in search:
        if not p.is_dir():
            raise SpecError(f"--include-path '{p}' is not a directory")
    state = _State([Path(os.path.realpath(base)), *(Path(os.path.realpath(p)) for p in search)],
                   search, limits)
    own = doc.root.get("blocks")
    blocks = LDict(own.loc if isinstance(own, LDict) else doc.root.loc)
    if isinstance(own, LDict):
        for name, block in own.items():
            _add_block(blocks, own, name, state)
    state.blocks = blocks
    top = "<spec>" if doc.source.name == "<spec>" else os.path.realpath(doc.source.name)
    _include_all(doc, base, [top], state)
    root = LDict(doc.root.loc)
    for key, value in doc.root.items():
        root[key] = value
        root.key_locs[key] = doc.root.key_locs[key]
        root.value_locs[key] = doc.root.value_locs[key]
    if "blocks" not in root:
        root.key_locs["blocks"] = root.value_locs["blocks"] = doc.root.key_locs["include"]
    root["blocks"] = blocks
    return Document(root, doc.source)


def _add_block(into: LDict, owner: LDict, name: str, state: _State) -> None:
    loc = owner.key_locs[name]
    if name in state.origin:
        first = state.origin[name]
        raise SpecError(f"block '{name}' is defined twice: here and at line {first.line} of "
                        f"{Path(first.source.name).name}", loc,
                        "rename one of them (included blocks share one namespace)")
    state.origin[name] = loc
    into[name] = owner[name]
    into.key_locs[name] = loc
    into.value_locs[name] = owner.value_locs[name]


def _include_all(doc: Document, directory: Path, stack: list[str], state: _State) -> None:
    items = doc.root["include"]
    where = doc.root.value_locs["include"]
    if not isinstance(items, LList):
        raise SpecError("'include' is a list of file names", where,
                        "write include: [common/blocks.yaml]")
    for j, item in enumerate(items):
        loc = items.item_locs[j]
        if not isinstance(item, str) or not item.strip():
            raise SpecError(f"an include is a file name, got {item!r}", loc)
        path = _find(item.strip(), directory, loc, state)
        real = os.path.realpath(path)
        if real in stack:
            names = [*(Path(s).name for s in stack if s != "<spec>"), path.name]
            raise SpecError(f"include cycle: {' -> '.join(names)}", loc,
                            "a file cannot include itself, directly or through others")
        if real in state.seen:
            continue  # reached twice (a diamond): its blocks are already in
        if len(stack) > state.limits.max_include_depth:
            raise SpecError(f"includes nested deeper than {state.limits.max_include_depth}", loc,
                            limit_hint("max_include_depth", "LoadLimits"))
        if len(state.seen) >= state.limits.max_include_files:
            raise SpecError(f"more than {state.limits.max_include_files} included files", loc,
                            limit_hint("max_include_files", "LoadLimits"))
        state.seen.add(real)
        _include_file(load(path, state.limits), path.parent, [*stack, real], state)


def _find(name: str, directory: Path, loc: Loc, state: _State) -> Path:
    """The file an include names, checked to lie where includes may come from."""
    if _URL.match(name):
        raise SpecError(f"include '{name}' is a URL; includes are local files", loc,
                        "download the file next to the spec and include it by a relative path")
    if not name.endswith((".yaml", ".yml")):
        raise SpecError(f"include '{name}' does not end in .yaml or .yml", loc)
    given = Path(name)
    if given.is_absolute():
        if not state.search:
            raise SpecError(f"include '{name}' is an absolute path", loc,
                            "write it relative to the spec, or pass --include-path DIR to "
                            "allow a directory outside the spec's tree")
        candidates = [given]
    else:
        candidates = [directory / given, *(p / given for p in state.search)]
    for candidate in candidates:
        if candidate.is_file():
            if not _inside(candidate, state):
                raise _outside(name, loc)
            return candidate
    if not _inside(candidates[0], state):
        raise _outside(name, loc)
    raise SpecError(f"included file '{name}' not found", loc,
                    "an include is looked for relative to the file that names it, then in "
                    "each --include-path directory" + ("" if state.search else " (none given)"))


def _inside(path: Path, state: _State) -> bool:
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(root) for root in state.roots)


def _outside(name: str, loc: Loc) -> SpecError:
    return SpecError(f"include '{name}' is outside the spec's directory tree", loc,
                     "move the file under the spec's directory, or pass --include-path DIR "
                     "to allow files from another directory")


def _include_file(doc: Document, directory: Path, stack: list[str], state: _State) -> None:
    root = doc.root
    for key in root:
        if key not in _FILE_KEYS:
            raise SpecError(f"unknown key '{key}' in an included file", root.key_locs[key],
                            did_you_mean(key, _FILE_KEYS) or
                            "an included file holds only blocks (keys: linkc, doc, include, "
                            "blocks)")
    if "linkc" in root and root["linkc"] != 1:
        raise SpecError(f"unsupported format version {root['linkc']!r} (this linkc reads 1)",
                        root.value_locs["linkc"])
    if "include" in root:
        _include_all(doc, directory, stack, state)
    blocks = root.get("blocks")
    if blocks is None:
        return
    if not isinstance(blocks, LDict):
        raise SpecError("'blocks' of an included file is a mapping of block names to blocks",
                        root.value_locs["blocks"])
    for name in blocks:
        _add_block(state.blocks, blocks, name, state)
