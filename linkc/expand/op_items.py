"""Reading one item of an `ops:` list: `bn`, `{conv: [64, 3]}`, `"conv(64, 3, stride=2)"`.

The call form is parsed with `ast` (never evaluated); its argument texts become
expressions that shape inference evaluates. In YAML flow syntax a comma always
splits an item, so `[conv(16, 3)]` arrives as `conv(16` and `3)`: that is
recognised by the unbalanced parentheses and reported with the fix.

An op's name may be a word param (`ops: [act]` with `params: {act: hardswish}`, see
word_params), in every form (`act`, `{act: 0.2}`, `"act(0.2)"`); the arguments are
then checked against the op the param names.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

from ..errors import Loc, SpecError
from ..spec.load import LDict, LList
from ..ops import OPS
from .flat_graph import RawArgs
from ..ops.registry import OpDef


def _shift(loc: Loc | None, offset: int) -> Loc | None:
    return Loc(loc.source, loc.line, loc.col + offset) if loc else None


def _split_by_flow(text: str, loc: Loc | None, rest: list[Any] = ()) -> SpecError:
    """The error for an op call cut at its commas; `rest` are the items after it
    (YAML made `7` of `conv(64, 7)` a number), from which the call as the user wrote
    it is put back together."""
    parts = [text]
    for item in rest:
        joined = "".join(parts)
        if isinstance(item, (dict, list)) or joined.count("(") <= joined.count(")"):
            break
        parts.append(str(item).strip())
    call = ", ".join(parts)
    fix = _mapping_form(call)
    return SpecError(
        f"'{text}' has unbalanced parentheses: YAML flow syntax split the op call "
        f"'{call}' at its commas", loc,
        "inside [...] or {...} a comma always separates items; write "
        + (f"{fix} or quote the call: \"{call}\"" if fix else f"the call quoted: \"{call}\""))


_INDICATORS = tuple("[]{}&*!|>'\"%@`#")


def _flow_value(text: str) -> str:
    """`text` as a YAML flow value: quoted where YAML would split or misread it."""
    if "," in text or ": " in text or " #" in text or text.startswith(_INDICATORS) and \
            not (text.startswith("'") and text.endswith("'")):
        return "'" + text.replace("'", "''") + "'"
    return text


def _mapping_form(call: str) -> str | None:
    """'conv(64, 7, stride=2)' -> '{conv: {out: 64, k: 7, stride: 2}}' (positionals
    named after the op's fields when keywords are present), or None when `call` is
    not a call of a known op that can be written so."""
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or \
            any(isinstance(a, ast.Starred) for a in node.args) or \
            any(k.arg is None for k in node.keywords):
        return None
    name = node.func.id
    pos = [_flow_value(ast.unparse(a)) for a in node.args]
    if not node.keywords:
        return f"{{{name}: {pos[0]}}}" if len(pos) == 1 else f"{{{name}: [{', '.join(pos)}]}}"
    op = OPS.lookup(name)
    fields = list(op.args.model_fields) if op else []
    if len(pos) > len(fields):
        return None
    items = [f"{f}: {v}" for f, v in zip(fields, pos)]
    items += [f"{k.arg}: {_flow_value(ast.unparse(k.value))}" for k in node.keywords]
    return f"{{{name}: {{{', '.join(items)}}}}}"


def _several_keys(item: dict, loc: Loc | None) -> SpecError:
    """The error for an op mapping with more than one key, naming the likely cause:
    an argument expression split at its comma by flow syntax, an argument written
    beside the op instead of under it, or two ops in one item."""
    keys = list(item)
    if any(str(t).count("(") != str(t).count(")") for t in (*keys, *item.values())):
        head = str(item[keys[0]])
        joined = ", ".join([head, *(k if item[k] is None else f"{k}: {item[k]}"
                                    for k in keys[1:])])
        return SpecError(f"'{head}' has unbalanced parentheses: YAML flow syntax split the "
                         f"argument '{joined}' of {keys[0]} at its comma", loc,
                         f"inside {{...}} a comma always separates items; quote the "
                         f"expression: {{{keys[0]}: {_flow_value(joined)}}}")
    op_keys = [k for k in keys if OPS.lookup(str(k)) is not None]
    if len(op_keys) == 1:
        op = OPS.lookup(str(op_keys[0]))
        fields = list(op.args.model_fields)
        others = [k for k in keys if k != op_keys[0]]
        if all(k in fields for k in others):
            return SpecError(f"{', '.join(map(repr, others))} written beside the op "
                             f"'{op_keys[0]}': an op mapping has one key, the op name", loc,
                             f"put the arguments under the op: "
                             f"{_keyword_form(op_keys[0], item, fields)}")
    return SpecError(f"an op mapping has exactly one key (the op name), got {len(item)}: "
                     f"{', '.join(map(str, item))}", loc, "write each op as its own list item")


def _keyword_form(name: str, item: dict, fields: list[str]) -> str:
    value = item[name]
    if isinstance(value, dict):
        args = dict(value)
    elif isinstance(value, list):
        args = dict(zip(fields, value))
    else:
        args = {} if value is None else {fields[0]: value}
    args.update({k: v for k, v in item.items() if k != name})
    inner = ", ".join(f"{k}: {_flow_value(str(v))}" for k, v in args.items())
    return f"{{{name}: {{{inner}}}}}"


# name, its location -> the op a word param of that name holds, or None (see word_params)
OpWords = Callable[[str, Loc | None], str | None]


def _no_words(name: str, loc: Loc | None) -> None:
    return None


def _lookup(name: str, loc: Loc | None, words: OpWords) -> OpDef:
    op = OPS.lookup(words(name, loc) or name)
    if op is None:
        raise OPS.unknown(name, loc)
    return op


def _parse_call(text: str, loc: Loc | None, words: OpWords) -> tuple[OpDef, RawArgs]:
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise SpecError(f"cannot parse op call '{text}': {exc.msg}", loc) from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise SpecError(f"'{text}' is not an op call like conv(64, 3, stride=2)", loc)
    op = _lookup(call.func.id, loc, words)
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


def parse_op_item(item: Any, loc: Loc | None, following: list[Any] = (),
                  words: OpWords = _no_words) -> tuple[OpDef, RawArgs]:
    """One `ops:` item -> its op definition and arguments as written. `following`
    are the items after it in the list (to explain a call split by flow syntax);
    `words` reads the op a name holds where it is a word param."""
    if isinstance(item, str):
        text = item.strip()
        if text.count("(") != text.count(")"):
            raise _split_by_flow(text, loc, following)
        if "(" in text:
            return _parse_call(text, loc, words)
        return _lookup(text, loc, words), RawArgs()
    if isinstance(item, dict):
        if len(item) != 1:
            raise _several_keys(item, loc)
        (name, value), = item.items()
        key_loc = item.key_locs[name] if isinstance(item, LDict) else loc
        value_loc = item.value_locs[name] if isinstance(item, LDict) else loc
        op = _lookup(str(name), key_loc, words)
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
    got = "a list" if isinstance(item, list) else repr(item)
    raise SpecError(f"an op is a name or a one-key mapping, got {got}", loc,
                    "write e.g. relu or {conv: [16, 3]}")
