"""YAML -> plain Python data that remembers where every key and value came from.

Only PyYAML's pure-Python *safe* composer is used: it yields a node graph with
marks, which this module turns into `LDict`/`LList` (dict and list subclasses
carrying `Loc`s). Everything hostile is refused here, before any other part of
linkc sees the data: tags other than the standard scalars, duplicate keys
(PyYAML silently keeps the last one), non-string keys, deep nesting, and alias
bombs (the expanded size is counted while converting, so a billion-laughs
document stops after `max_items` values instead of exhausting memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Loc, Source, SpecError, limit_hint


@dataclass(frozen=True)
class LoadLimits:
    """Caps checked while reading, before anything is built from the spec."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_items: int = 200_000


DEFAULT_LIMITS = LoadLimits()

_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq")
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


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


def _loc(source: Source, node: Node) -> Loc:
    return Loc(source, node.start_mark.line + 1, node.start_mark.column + 1)


def _depth_error(limits: LoadLimits, loc: Loc | None) -> SpecError:
    return SpecError(f"YAML nesting deeper than {limits.max_depth} levels", loc,
                     "a topology never needs this; " + limit_hint("max_depth", "LoadLimits"))


def _items_error(limits: LoadLimits, loc: Loc | None) -> SpecError:
    return SpecError(
        f"the document expands to more than {limits.max_items} values "
        "(an alias bomb, or a spec far larger than any topology needs)", loc,
        "remove the repeated aliases; " + limit_hint("max_items", "LoadLimits"))


def check_expansion(root: Node, source: Source, limits: LoadLimits) -> None:
    """Refuse alias bombs and alias-built nesting on the composed node graph, before
    anything is converted: the size and height of every node are counted once
    (aliases share their node), so a billion-laughs document costs a few
    thousand steps, not a billion values."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, height)
    active: set[int] = set()

    def walk(node: Node, level: int) -> tuple[int, int]:
        key = id(node)
        if key in active:
            raise SpecError("a YAML alias refers to the collection that contains it",
                            _loc(source, node), "an alias must name a finished node")
        if key not in done:
            if level > limits.max_depth:
                raise _depth_error(limits, _loc(source, node))
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = node.value
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            active.add(key)
            size, height = 1, 0
            for child in children:
                child_size, child_height = walk(child, level + 1)
                size, height = size + child_size, max(height, child_height)
                if size > limits.max_items:
                    raise _items_error(limits, _loc(source, child))
            active.discard(key)
            done[key] = (size, height + 1)
        size, height = done[key]
        if level + height - 1 > limits.max_depth:
            raise _depth_error(limits, _loc(source, node))
        return size, height

    walk(root, 1)


class _GuardedComposer(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting while composing (before recursion blows up)."""

    def __init__(self, stream: str, source: Source, limits: LoadLimits):
        super().__init__(stream)
        self._source = source
        self._limits = limits
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self._limits.max_depth:
            mark = self.peek_event().start_mark
            raise _depth_error(self._limits, Loc(self._source, mark.line + 1, mark.column + 1))
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass):  # noqa: N803 - PyYAML hook
        # The scanner looks ahead up to 1024 characters for a simple key, and its
        # bookkeeping is quadratic in the flow depth: '[[[[...' would cost ~0.5 s
        # before the composer's check sees the depth, so refuse it while scanning.
        if self.flow_level >= self._limits.max_depth:
            mark = self.get_mark()
            raise _depth_error(self._limits, Loc(self._source, mark.line + 1, mark.column + 1))
        super().fetch_flow_collection_start(TokenClass)


class _Converter:
    """Node graph -> LDict/LList/scalars, expanding aliases under a size budget."""

    def __init__(self, loader: _GuardedComposer, source: Source, limits: LoadLimits):
        self.loader = loader
        self.source = source
        self.limits = limits
        self.items = 0

    def convert(self, node: Node) -> Any:
        self.items += 1
        if self.items > self.limits.max_items:
            raise _items_error(self.limits, _loc(self.source, node))
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            self._check_tag(node, "tag:yaml.org,2002:seq")
            out = LList(_loc(self.source, node))
            for item in node.value:
                out.append(self.convert(item))
                out.item_locs.append(_loc(self.source, item))
            return out
        return self._scalar(node)

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise SpecError(
                f"YAML tag '{node.tag}' is not allowed in a spec",
                _loc(self.source, node),
                "specs are plain data: remove the tag (only strings, numbers, booleans, "
                "null, lists and mappings are accepted)",
            )

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _STANDARD_TAGS:
            self._check_tag(node, "tag:yaml.org,2002:str")
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            # ValueError: e.g. an integer of more than 4300 digits (Python's int() cap)
            raise SpecError(f"bad scalar: {exc}", _loc(self.source, node)) from None

    def _mapping(self, node: MappingNode) -> LDict:
        self._check_tag(node, "tag:yaml.org,2002:map")
        out = LDict(_loc(self.source, node))
        merged: list[LDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self._scalar(key_node) if isinstance(key_node, ScalarNode) else None
            key_loc = _loc(self.source, key_node)
            if not isinstance(key, str):
                raise SpecError(
                    f"mapping key {key!r} is not a string",
                    key_loc,
                    "quote the key (YAML reads yes/no/on/off, numbers and null as non-strings)",
                )
            if key in out:
                first = out.key_locs[key]
                raise SpecError(
                    f"duplicate key '{key}' (first defined at line {first.line})",
                    key_loc,
                    "YAML would silently keep only the last one: remove or rename one of them",
                )
            out[key] = self.convert(value_node)
            out.key_locs[key] = key_loc
            out.value_locs[key] = _loc(self.source, value_node)
        for source_map in merged:  # explicit keys win over `<<:` merges, as in YAML
            for key, value in source_map.items():
                if key not in out:
                    out[key] = value
                    out.key_locs[key] = source_map.key_locs[key]
                    out.value_locs[key] = source_map.value_locs[key]
        return out

    def _merge_sources(self, node: Node) -> list[LDict]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        maps = [self.convert(item) for item in items]
        for item, value in zip(items, maps):
            if not isinstance(value, LDict):
                raise SpecError("'<<' merges only mappings", _loc(self.source, item))
        return maps


def read_source(spec: str | os.PathLike, limits: LoadLimits = DEFAULT_LIMITS) -> Source:
    """A spec given as a path or as YAML text -> `Source` (size-checked, UTF-8)."""
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))
    ):
        path = Path(spec)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise SpecError(f"cannot read spec '{path}': {exc.strerror}") from None
        if size > limits.max_bytes:
            raise SpecError(
                f"spec '{path}' is {size} bytes, over the {limits.max_bytes}-byte limit",
                hint=limit_hint("max_bytes", "LoadLimits"),
            )
        raw = path.read_bytes()
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
        loader = _GuardedComposer(source.text, source, limits)
    except yaml.reader.ReaderError as exc:  # control characters, checked up front
        before = source.text[: exc.position]
        loc = Loc(source, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        raise SpecError(f"the spec contains the control character U+{exc.character:04X}, "
                        "which YAML does not allow", loc, "remove it") from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError("the spec is empty", Loc(source, 1, 1),
                            "a spec starts with 'linkc: 1' and names its nodes and output")
        check_expansion(node, source, limits)
        root = _Converter(loader, source, limits).convert(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(source, mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise SpecError(f"YAML syntax: {problem}", loc) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML: {exc}") from None
    except RecursionError:
        raise SpecError("YAML nesting too deep", Loc(source, 1, 1)) from None
    finally:
        loader.dispose()
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
