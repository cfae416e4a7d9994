"""Reading one item of an `ops:` list: `bn`, `{conv: [64, 3]}`, `"conv(64, 3, stride=2)"`.

The call form is parsed with `ast` (never evaluated); its argument texts become
expressions that shape inference evaluates. In YAML flow syntax a comma always
splits an item, so `[conv(16, 3)]` arrives as `conv(16` and `3)`: that is
recognised by the unbalanced parentheses and reported with the fix.
"""

from __future__ import annotations

import ast
from typing import Any

from .errors import Loc, SpecError, unknown
from .load import LDict, LList
from .ops import OPS
from .registry import OpDef, RawArgs


def _shift(loc: Loc | None, offset: int) -> Loc | None:
    return Loc(loc.source, loc.line, loc.col + offset) if loc else None


def _split_by_flow(text: str, loc: Loc | None, rest: list[Any] = ()) -> SpecError:
    """The error for an op call cut at its commas; `rest` are the items after it,
    from which the call as the user wrote it is put back together."""
    parts = [text]
    for item in rest:
        if not isinstance(item, str) or "".join(parts).count("(") <= "".join(parts).count(")"):
            break
        parts.append(item.strip())
    call = ", ".join(parts)
    head, _, inner = call.partition("(")
    inner = inner[:-1] if inner.endswith(")") else inner
    return SpecError(
        f"'{text}' has unbalanced parentheses: YAML flow syntax split the op call "
        f"'{call}' at its commas", loc,
        f"inside [...] or {{...}} a comma always separates items; write "
        f"{{{head.strip()}: [{inner}]}} or quote the call: \"{call}\"")


def _lookup(name: str, loc: Loc | None) -> OpDef:
    op = OPS.lookup(name)
    if op is None:
        raise unknown("op", name, OPS.names(), loc)
    return op


def _parse_call(text: str, loc: Loc | None) -> tuple[OpDef, RawArgs]:
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise SpecError(f"cannot parse op call '{text}': {exc.msg}", loc) from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise SpecError(f"'{text}' is not an op call like conv(64, 3, stride=2)", loc)
    op = _lookup(call.func.id, loc)
    raw = RawArgs()
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            raise SpecError(f"argument unpacking is not allowed in '{text}'", loc)
        raw.positional.append((_arg_value(arg), _shift(loc, arg.col_offset)))
    for kw in call.keywords:
        if kw.arg is None:
            raise SpecError(f"'**' is not allowed in '{text}'", loc)
        raw.keyword[kw.arg] = (_arg_value(kw.value), _shift(loc, kw.value.col_offset))
        raw.keyword_locs[kw.arg] = _shift(loc, kw.col_offset)
    return op, raw


def _arg_value(node: ast.AST) -> Any:
    """Literal numbers and booleans stay values; anything else is expression text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):  # a pair: adaptive_avgpool([7, 7])
        return [_arg_value(e) for e in node.elts]
    return ast.unparse(node)


def parse_op_item(item: Any, loc: Loc | None, following: list[Any] = ()) -> tuple[OpDef, RawArgs]:
    """One `ops:` item -> its op definition and arguments as written. `following`
    are the items after it in the list (to explain a call split by flow syntax)."""
    if isinstance(item, str):
        text = item.strip()
        if text.count("(") != text.count(")"):
            raise _split_by_flow(text, loc, following)
        if "(" in text:
            return _parse_call(text, loc)
        return _lookup(text, loc), RawArgs()
    if isinstance(item, dict):
        if len(item) != 1:
            raise SpecError(f"an op mapping has exactly one key (the op name), got {len(item)}: "
                            f"{', '.join(map(str, item))}", loc,
                            "write each op as its own list item")
        (name, value), = item.items()
        key_loc = item.key_locs[name] if isinstance(item, LDict) else loc
        value_loc = item.value_locs[name] if isinstance(item, LDict) else loc
        op = _lookup(str(name), key_loc)
        raw = RawArgs()
        if isinstance(value, dict):
            for key, v in value.items():
                vloc = value.value_locs[key] if isinstance(value, LDict) else value_loc
                raw.keyword[key] = (v, vloc)
                raw.keyword_locs[key] = value.key_locs[key] if isinstance(value, LDict) else vloc
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, dict):
                    raise SpecError(f"{name} arguments are numbers or expressions, not "
                                    f"mappings", value.item_locs[i]
                                    if isinstance(value, LList) else value_loc)
                raw.positional.append((v, value.item_locs[i] if isinstance(value, LList)
                                       else value_loc))
        elif value is not None:
            raw.positional.append((value, value_loc))
        return op, raw
    raise SpecError(f"an op is a name or a one-key mapping, got {type(item).__name__}", loc)
