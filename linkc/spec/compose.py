"""YAML events -> located plain data, with every guard on untrusted input.

The events come from LibYAML (PyYAML's C binding, `yaml.CSafeLoader`) where it
is installed, else from PyYAML's pure-Python parser; both give the same events
with the same line/column marks, and this one converter turns either stream
into `LDict`/`LList`/scalars, so the guards are the same code for both:

- nesting deeper than `max_depth` stops at the first node beyond it (the
  parsers do not recurse; only this converter does, and only that deep);
- aliases count as the size and height of what they name, so a billion-laughs
  document stops after `max_items` values, an alias to a still-open
  collection is refused, and nothing is copied (an alias shares its value, as
  in PyYAML's own constructor; nothing downstream changes loaded data);
- tags other than the standard scalars, maps and sequences, duplicate keys and
  non-string keys are refused at their position.

Composing from events instead of PyYAML's node graph also skips building
that graph: a 20,000-node flat file converts several times faster.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (AliasEvent, DocumentStartEvent, MappingEndEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import ScalarNode

from ..errors import Loc, Source, SpecError, limit_hint

STR, MAP, SEQ = ("tag:yaml.org,2002:" + t for t in ("str", "map", "seq"))
_SCALAR_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null")}


class NestingError(SpecError):
    """Too deep: the one load error whose position depends on how far the parser
    read ahead, so `load` reports it as the pure-Python parser finds it."""


def depth_error(max_depth: int, loc: Loc | None) -> SpecError:
    return NestingError(f"YAML nesting deeper than {max_depth} levels", loc,
                     "a topology never needs this; " + limit_hint("max_depth", "LoadLimits"))


def items_error(max_items: int, loc: Loc | None) -> SpecError:
    return SpecError(
        f"the document expands to more than {max_items} values "
        "(an alias bomb, or a spec far larger than any topology needs)", loc,
        "remove the repeated aliases; " + limit_hint("max_items", "LoadLimits"))


class _Anchored:
    """What an anchor names: its value, expanded size and height, and where it is."""

    __slots__ = ("value", "size", "height", "loc", "open")

    def __init__(self, loc: Loc):
        self.value, self.size, self.height, self.loc, self.open = None, 0, 0, loc, True


class EventComposer:
    """One document's events (from `parser`, a PyYAML or LibYAML safe loader) ->
    located data. `ldict`/`llist` are the located container classes."""

    def __init__(self, parser, source: Source, limits, ldict, llist):
        self.parser = parser
        self.source = source
        self.max_depth = limits.max_depth
        self.max_items = limits.max_items
        self.ldict, self.llist = ldict, llist
        self.items = 0  # expanded values so far, aliases counted as what they name
        self.anchors: dict[str, _Anchored] = {}
        self.plain: dict[str, Any] = {}  # plain scalar text -> its value ('8' -> 8)

    def loc(self, mark) -> Loc:
        return Loc(self.source, mark.line + 1, mark.column + 1)

    def document(self) -> Any:
        """The single document's data, or None for an empty stream."""
        get = self.parser.get_event
        get()  # StreamStart
        event = get()
        if type(event) is StreamEndEvent:
            return None
        value, _, _ = self.value(get(), 1)  # after DocumentStart
        get()  # DocumentEnd
        event = get()
        if type(event) is DocumentStartEvent:
            raise SpecError("YAML syntax: a spec is one document, but a second one starts here",
                            self.loc(event.start_mark),
                            "remove the '---' line and what follows it, or split the file")
        return value

    def count(self, size: int, loc: Loc) -> None:
        self.items += size
        if self.items > self.max_items:
            raise items_error(self.max_items, loc)

    def value(self, event, level: int) -> tuple[Any, int, int]:
        """`event` and the events of its content, at nesting `level` -> (value,
        expanded size, height)."""
        kind = type(event)
        if kind is ScalarEvent and event.anchor is None:  # the common case, kept short
            if level > self.max_depth:
                raise depth_error(self.max_depth, self.loc(event.start_mark))
            self.items += 1
            if self.items > self.max_items:
                raise items_error(self.max_items, self.loc(event.start_mark))
            return self.scalar(event), 1, 1
        if kind is AliasEvent:
            return self.alias(event, level)
        if level > self.max_depth:
            raise depth_error(self.max_depth, self.loc(event.start_mark))
        anchored = None
        if event.anchor is not None:
            if event.anchor in self.anchors:
                raise SpecError(f"YAML syntax: the anchor '&{event.anchor}' is defined twice "
                                f"(first at line {self.anchors[event.anchor].loc.line})",
                                self.loc(event.start_mark), "rename one of them")
            anchored = self.anchors[event.anchor] = _Anchored(self.loc(event.start_mark))
        if kind is ScalarEvent:
            self.count(1, self.loc(event.start_mark))
            result = (self.scalar(event), 1, 1)
        elif kind is SequenceStartEvent:
            result = self.sequence(event, level)
        else:
            result = self.mapping(event, level)
        if anchored is not None:
            anchored.value, anchored.size, anchored.height = result
            anchored.open = False
        return result

    def alias(self, event, level: int) -> tuple[Any, int, int]:
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            raise SpecError(f"YAML syntax: found undefined alias '{event.anchor}'",
                            self.loc(event.start_mark))
        if anchored.open:
            raise SpecError("a YAML alias refers to the collection that contains it",
                            anchored.loc, "an alias must name a finished node")
        if level + anchored.height - 1 > self.max_depth:
            raise depth_error(self.max_depth, anchored.loc)
        self.count(anchored.size, anchored.loc)
        return anchored.value, anchored.size, anchored.height

    def check_tag(self, tag: str | None, expected: str, mark) -> None:
        """A collection's tag: none, '!' or the standard one of its kind."""
        if tag is not None and tag != "!" and tag != expected:
            raise self.tag_error(tag, mark)

    def tag_error(self, tag: str, mark) -> SpecError:
        return SpecError(
            f"YAML tag '{tag}' is not allowed in a spec", self.loc(mark),
            "specs are plain data: remove the tag (only strings, numbers, booleans, "
            "null, lists and mappings are accepted)")

    def scalar(self, event) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:  # quoted: a string
                return event.value
            plain = self.plain.get(event.value, self)
            if plain is not self:
                return plain
            tag = self.parser.resolve(ScalarNode, event.value, event.implicit)
        if tag == STR:
            value = event.value
        else:
            if tag not in _SCALAR_TAGS:
                raise self.tag_error(tag, event.start_mark)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                value = self.parser.yaml_constructors[tag](self.parser, node)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                # ValueError: e.g. an integer of more than 4300 digits (Python's int() cap)
                raise SpecError(f"bad scalar: {exc}", self.loc(event.start_mark)) from None
        if event.tag is None and event.implicit[0]:
            self.plain[event.value] = value  # immutable: str, int, float, bool or None
        return value

    def sequence(self, event, level: int) -> tuple[Any, int, int]:
        self.check_tag(event.tag, SEQ, event.start_mark)
        self.count(1, self.loc(event.start_mark))
        out = self.llist(self.loc(event.start_mark))
        append, append_loc = out.append, out.item_locs.append
        size, height = 1, 0
        get, loc, value, inner = self.parser.get_event, self.loc, self.value, level + 1
        while True:
            event = get()
            if type(event) is SequenceEndEvent:
                return out, size, height + 1
            append_loc(loc(event.start_mark))
            item, item_size, item_height = value(event, inner)
            append(item)
            size += item_size
            if item_height > height:
                height = item_height

    def mapping(self, event, level: int) -> tuple[Any, int, int]:
        self.check_tag(event.tag, MAP, event.start_mark)
        self.count(1, self.loc(event.start_mark))
        out = self.ldict(self.loc(event.start_mark))
        key_locs, value_locs = out.key_locs, out.value_locs
        merged: list[tuple[Any, Loc]] = []
        size, height = 1, 0
        get, loc, value, inner = self.parser.get_event, self.loc, self.value, level + 1
        while True:
            event = get()
            if type(event) is MappingEndEvent:
                break
            key_loc = loc(event.start_mark)
            is_merge = (type(event) is ScalarEvent and event.tag is None
                        and event.value == "<<" and event.implicit[0])
            if is_merge:  # '<<' (the merge key), counted as one value
                self.count(1, key_loc)
                key_size = key_height = 1
            else:
                key, key_size, key_height = value(event, inner)
            event = get()
            value_loc = loc(event.start_mark)
            item, item_size, item_height = value(event, inner)
            size += key_size + item_size
            height = max(height, key_height, item_height)
            if is_merge:
                merged.extend(self.merge_sources(item, value_loc))
                continue
            if type(key) is not str:
                raise SpecError(
                    f"mapping key {key!r} is not a string", key_loc,
                    "quote the key (YAML reads yes/no/on/off, numbers and null as non-strings)")
            if key in out:
                raise SpecError(
                    f"duplicate key '{key}' (first defined at line {key_locs[key].line})",
                    key_loc,
                    "YAML would silently keep only the last one: remove or rename one of them")
            out[key] = item
            key_locs[key] = key_loc
            value_locs[key] = value_loc
        for source_map, _ in merged:  # explicit keys win over `<<:` merges, as in YAML
            for key, item in source_map.items():
                if key not in out:
                    out[key] = item
                    key_locs[key] = source_map.key_locs[key]
                    value_locs[key] = source_map.value_locs[key]
        return out, size, height + 1

    def merge_sources(self, value: Any, loc: Loc) -> list[tuple[Any, Loc]]:
        """A `<<:` value: one mapping, or a list of them (earlier ones win)."""
        if isinstance(value, self.llist):
            sources = list(zip(value, value.item_locs))
        else:
            sources = [(value, loc)]
        for source_map, where in sources:
            if not isinstance(source_map, self.ldict):
                raise SpecError("'<<' merges only mappings", where)
        return sources
