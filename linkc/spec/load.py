"""YAML -> plain Python data that remembers where every key and value came from.

PyYAML's safe parser (LibYAML's C one where installed, else pure Python) yields
events with marks, which `compose.py` turns into `LDict`/`LList` (dict and list
subclasses carrying `Loc`s). Everything hostile is refused there, before any
other part of linkc sees the data: tags other than the standard scalars,
duplicate keys (PyYAML silently keeps the last one), non-string keys, deep
nesting, and alias bombs (an alias counts as the size of what it names, so a
billion-laughs document stops after `max_items` values instead of exhausting
memory). No constructor beyond the safe scalar ones ever runs.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .compose import EventComposer, NestingError, depth_error
from .yaml_hints import syntax_hint
from ..errors import Loc, Source, SpecError, limit_hint
from ..gcpause import paused_gc


@dataclass(frozen=True)
class LoadLimits:
    """Caps checked while reading, before anything is built from the spec."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_items: int = 200_000
    max_include_depth: int = 8  # files including files (include.py)
    max_include_files: int = 64


DEFAULT_LIMITS = LoadLimits()

class LDict(dict):
    """A mapping with the location of itself, of each key and of each value."""

    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}


class LList(list):
    """A sequence with the location of itself and of each item."""

    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.item_locs: list[Loc] = []


@dataclass
class Document:
    root: Any
    source: Source


class _PureParser(yaml.SafeLoader):
    """PyYAML's pure-Python parser, used where LibYAML is missing (and to word
    LibYAML's syntax errors as PyYAML does), refusing deep flow nesting early."""

    def __init__(self, stream: str, source: Source, limits: LoadLimits):
        super().__init__(stream)
        self._source = source
        self._limits = limits

    def fetch_flow_collection_start(self, TokenClass):  # noqa: N803 - PyYAML hook
        # The scanner looks ahead up to 1024 characters for a simple key, and its
        # bookkeeping is quadratic in the flow depth: '[[[[...' would cost ~0.5 s
        # before the composer's check sees the depth, so refuse it while scanning.
        if self.flow_level >= self._limits.max_depth:
            mark = self.get_mark()
            raise depth_error(self._limits.max_depth,
                              Loc(self._source, mark.line + 1, mark.column + 1))
        super().fetch_flow_collection_start(TokenClass)


# LibYAML's C scanner and parser where PyYAML was built with it (the wheels are):
# about 8x faster on large flat specs. Tests set this to False to run the guards
# over the pure-Python parser too.
LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def _compose(source: Source, limits: LoadLimits, fast: bool) -> Any:
    if fast:
        parser = yaml.CSafeLoader(source.text)
    else:
        try:
            parser = _PureParser(source.text, source, limits)
        except yaml.reader.ReaderError as exc:  # control characters, checked up front
            raise _reader_error(source, exc) from None
    try:
        return EventComposer(parser, source, limits, LDict, LList).document()
    except yaml.MarkedYAMLError as exc:
        if fast:
            raise
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(source, mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise SpecError(f"YAML syntax: {problem}", loc, syntax_hint(exc, source.text)) from None
    except yaml.reader.ReaderError as exc:
        if fast:
            raise
        raise _reader_error(source, exc) from None
    except yaml.YAMLError as exc:
        if fast:
            raise
        raise SpecError(f"YAML: {exc}") from None
    finally:
        parser.dispose()


def _reader_error(source: Source, exc) -> SpecError:
    before = source.text[: exc.position]
    loc = Loc(source, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
    return SpecError(f"the spec contains the control character U+{exc.character:04X}, "
                     "which YAML does not allow", loc, "remove it")


def _is_path(spec: str | os.PathLike) -> bool:
    """A path, or YAML text? A `PathLike` or an existing file is a path; so is one line
    that cannot be a YAML mapping (no ': ', not '{...}'), so that a mistyped file name
    is reported as missing rather than parsed as the YAML text of its own name."""
    if isinstance(spec, os.PathLike):
        return True
    if not isinstance(spec, str) or "\n" in spec:
        return False
    if spec.endswith((".yaml", ".yml")) or os.path.isfile(spec):
        return True
    return ": " not in spec and not spec.lstrip().startswith("{")


def _read_capped(path: Path, cap: int) -> bytes:
    """At most `cap` + 1 bytes of `path`: a file's size from `stat()` says nothing for a
    FIFO, /dev/stdin or /dev/zero, so the read itself is what is capped."""
    try:  # a folder, a missing file or an unreadable one
        with open(path, "rb") as f:
            raw = f.read(cap + 1)
            info = os.fstat(f.fileno())
    except OSError as exc:
        raise SpecError(f"cannot read spec '{path}': {exc.strerror}") from None
    if len(raw) > cap:
        size = f"is {info.st_size} bytes" if stat.S_ISREG(info.st_mode) else "gives more bytes"
        raise SpecError(f"spec '{path}' {size}, over the {cap}-byte limit",
                        hint=limit_hint("max_bytes", "LoadLimits"))
    return raw


def read_source(spec: str | os.PathLike, limits: LoadLimits = DEFAULT_LIMITS) -> Source:
    """A spec given as a path or as YAML text -> `Source` (size-checked, UTF-8)."""
    if _is_path(spec):
        path = Path(spec)
        raw = _read_capped(path, limits.max_bytes)
        name = str(path)
    else:
        raw = spec.encode("utf-8") if isinstance(spec, str) else bytes(spec)
        name = "<spec>"
        if len(raw) > limits.max_bytes:
            raise SpecError(f"spec text is {len(raw)} bytes, over the {limits.max_bytes}-byte limit",
                            hint=limit_hint("max_bytes", "LoadLimits"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        src = Source(name, raw.decode("utf-8", errors="replace"))
        raise SpecError("the spec is not valid UTF-8", Loc(src, line, col),
                        "save the file as UTF-8") from None
    return Source(name, text)


def load(spec: str | os.PathLike, limits: LoadLimits = DEFAULT_LIMITS) -> Document:
    """Read a spec (path or YAML text) into located plain data."""
    source = read_source(spec, limits)
    try:
        with paused_gc():  # ~10 small objects a node, none freed: see gcpause.py
            root = _compose(source, limits, LIBYAML)
    except (yaml.YAMLError, NestingError):
        if not LIBYAML:
            raise
        # Syntax errors and nesting read the same as without LibYAML (its messages
        # are worded differently, and it reads further ahead before a depth error).
        # Both parsers stop at the error, so this costs no more than the text before it.
        with paused_gc():
            root = _compose(source, limits, False)
    if root is None:
        raise SpecError("the spec is empty", Loc(source, 1, 1),
                        "a spec starts with 'linkc: 1' and names its nodes and output")
    if not isinstance(root, LDict):
        raise SpecError("a spec must be a mapping (keys such as linkc, input, nodes, output)",
                        Loc(source, 1, 1))
    return Document(root, source)


def locate(root: Any, path: tuple, *, key: bool = False) -> Loc | None:
    """The location of the value (or key) at `path` in located data.

    Walks as far as the path exists, so a path into something missing still
    points at its nearest existing parent.
    """
    node, loc = root, getattr(root, "loc", None)
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, LDict) and step in node:
            loc = node.key_locs[step] if (last and key) else node.value_locs[step]
            node = node[step]
        elif isinstance(node, LList) and isinstance(step, int) and 0 <= step < len(node):
            loc = node.item_locs[step]
            node = node[step]
        else:
            break
    return loc
