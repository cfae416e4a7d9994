"""Pydantic models of the spec: validation, error messages and JSON Schema at once.

Validation errors are mapped back to the YAML position of the offending key or
value (`to_spec_error`). Op items are validated by the op registry, which knows
each op's arguments; here they are typed loosely but described fully in the
JSON Schema (see `linkc.spec.jsonschema`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError,
                      WrapValidator)

from ..errors import SpecError, did_you_mean
from .load import Document, LDict, LList, locate


def _keep_positions(value: Any, validate) -> Any:
    """A list as written (an `LList`, whose items know their positions) instead of the
    plain copy validation makes, so expansion reads values and their positions from
    the validated spec alone. Only for lists of anything: their items are the same
    objects either way."""
    validated = validate(value)
    return value if isinstance(value, LList) and isinstance(validated, list) else validated


Number = Union[int, float]
Scalar = Union[int, float, str]  # a number or an expression
# ... or a list of values (checked when evaluated)
Value = Annotated[Union[int, float, str, list], WrapValidator(_keep_positions)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RefSpec(_Model):
    """A reference written as a mapping, for weights, slices and optional refs."""

    ref: str = Field(description="node name, `input`, dotted path `d1.3.h`, or `prev.NAME`")
    weight: Scalar = Field(1, description="scalar weight used by `wsum` (e.g. -1)")
    slice: Optional[tuple[Scalar, Scalar]] = Field(
        None, description="channel range [start, stop) taken from the reference")
    optional: bool = Field(False, description="drop this reference when it does not exist "
                                              "(a `prev` reference in the first instance, a node "
                                              "whose `if` is false)")
    else_: Optional[str] = Field(None, alias="else",
                                 description="the reference used instead when this one names a "
                                             "node whose `if` is false")


Ref = Union[str, RefSpec]
SampleShape = Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]
OpItem = Any  # a name, a one-key mapping or a call; read (and explained) by expand/op_items.py
OpList = Annotated[list[OpItem], WrapValidator(_keep_positions)]


class MapSpec(_Model):
    """A map of a recurrence (`W` in `W[i](X[i-1])`): a block or an op list per index."""

    block: Optional[str] = Field(None, description="the block instantiated for each index")
    args: dict[str, Scalar] = Field(default_factory=dict,
                                    description="block arguments; `i` is the map's index")
    ops: OpList = Field(default_factory=list,
                        description="ops applied by the map (instead of a block)")
    if_: Optional[Union[bool, str]] = Field(
        None, alias="if", description="where false (for index `i`), the map is the identity")


class NodeSpec(_Model):
    """A node: `value = ops(merge(from...))`, an instance of a block, or a recurrence."""

    from_: Union[Ref, list[Ref]] = Field(alias="from", description="the node's inputs")
    merge: Optional[str] = Field(None, description="how the inputs combine: a merge of the "
                                                   "registry (`linkc ops` lists them); required "
                                                   "for 2+ inputs")
    pad: Optional[Literal["zeros"]] = Field(None, description="zero-pad narrower inputs of add")
    ops: OpList = Field(default_factory=list, description="ops applied after the merge")
    block: Optional[str] = Field(None, description="instantiate this block")
    args: dict[str, Value] = Field(default_factory=dict, description="block arguments")
    repeat: Optional[Union[NonNegativeInt, str]] = Field(
        None, description="number of instances (0: the node is its input)")
    if_: Optional[Union[bool, int, float, str]] = Field(
        None, alias="if", description="the node exists only where this is true (may read "
                                      "params, args, i, n and channels()/size() upstream)")
    connect: Optional[str] = Field(
        None, description="chain: each instance feeds the next; dense: each takes all before "
                          "(or a param holding one of them)",
        json_schema_extra={"examples": ["chain", "dense"]})
    doc: Optional[str] = Field(None, description="free text shown in diagrams")
    recurrence: Optional[Union[str, list[str]]] = Field(
        None, description="recursion formula(s), e.g. 'X[i] = X[i-1] + W[i](X[i-1])'; "
                          "`from` gives the initial values")
    steps: Optional[Union[PositiveInt, str]] = Field(
        None, description="last index of the recursion: i runs up to it")
    init: Optional[Union[str, list[str]]] = Field(
        None, description="the state terms `from` binds, in order: "
                          "'X[0], X[1]' (default X[0])")
    maps: dict[str, MapSpec] = Field(default_factory=dict,
                                     description="the recurrence's maps: name -> block or ops")
    out: Optional[str] = Field(None, description="the recurrence's value (default X[n]), "
                                                 "e.g. 'cat(X[0:n+1])'")


# The keys of a recurrence node (see expand/recurrence/build.py): giving any of them makes one.
RECURRENCE_KEYS = ("recurrence", "steps", "init", "maps", "out")


def recurrence_keys(node: NodeSpec) -> list[str]:
    """The recurrence keys `node` gives, in `RECURRENCE_KEYS` order (none: not one)."""
    return [k for k in RECURRENCE_KEYS if getattr(node, k) not in (None, {})]


class BlockSpec(_Model):
    """A template of nodes with named in and out ports."""

    params: Union[list[str], dict[str, Value]] = Field(
        default_factory=list, description="parameter names, or names with default values")
    in_: Union[str, list[str]] = Field(alias="in", description="input port name(s)")
    nodes: dict[str, NodeSpec] = Field(description="the block's nodes")
    out: Union[str, list[str]] = Field(description="output port name(s): node or port names")
    doc: Optional[str] = Field(None, description="free text")


class Spec(_Model):
    """A linkc topology spec."""

    linkc: Literal[1] = Field(description="format version")
    name: str = Field(description="model name")
    doc: Optional[str] = Field(None, description="free text")
    params: dict[str, Value] = Field(default_factory=dict,
                                     description="named numbers and lists of them; expressions "
                                                 "may use earlier ones")
    include: list[str] = Field(default_factory=list,
                               description="files of blocks, relative to this spec")
    input: Optional[SampleShape] = Field(None, description="one sample's shape, channels first "
                                                          "(or `inputs` for several)")
    inputs: Optional[dict[str, SampleShape]] = Field(
        None, min_length=1, description="named inputs in the order the model takes them: "
                                        "name -> one sample's shape (instead of `input`)")
    blocks: dict[str, BlockSpec] = Field(
        default_factory=dict, description="templates of nodes, instantiated by `block:`")
    nodes: dict[str, NodeSpec] = Field(
        min_length=1, description="the graph: node name -> node, in any order")
    output: Optional[str] = Field(None, description="the node whose value the model returns "
                                                    "(or `outputs` for several)")
    outputs: Optional[list[str]] = Field(
        None, min_length=1, description="the nodes the model returns, in order; the first is the "
                                        "main one (instead of `output`)")
    train: Optional[dict[str, Any]] = Field(None, description="training settings (linkc train)")
    paper: Optional[dict[str, Any]] = Field(
        None, description="the paper's figures this spec reproduces, e.g. {params: 0.8M}")


def _fields_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(path: tuple) -> type[BaseModel] | None:
    """Which model a path into the spec lands in (for did-you-mean on keys)."""
    model: type[BaseModel] | None = Spec
    i = 0
    while i < len(path) and model is not None:
        step = path[i]
        if model is Spec and step in ("nodes", "blocks"):
            model, i = (NodeSpec if step == "nodes" else BlockSpec), i + 2
        elif model is BlockSpec and step == "nodes":
            model, i = NodeSpec, i + 2
        elif model is NodeSpec and step == "from":
            model, i = RefSpec, len(path)
        elif model is NodeSpec and step == "maps":
            model, i = MapSpec, i + 2
        else:
            return model
    return model


def to_spec_error(exc: ValidationError, doc: Document) -> SpecError:
    """The most useful error of a pydantic ValidationError, at its YAML position."""
    errors = exc.errors()
    rank = {"extra_forbidden": 0, "missing": 1}
    err = min(errors, key=lambda e: rank.get(e["type"], 2))
    path = tuple(s for s in err["loc"] if isinstance(s, (str, int)))
    # Union members show up as path steps like 'str' or 'list[...]'; drop what is
    # not really in the document so the position is that of the real value.
    real: list = []
    node: Any = doc.root
    for step in path:
        if isinstance(node, dict) and step in node or isinstance(node, list) and \
                isinstance(step, int) and step < len(node):
            real.append(step)
            node = node[step]
    where = ".".join(str(s) for s in real) or "the spec"
    if err["type"] == "extra_forbidden":
        key = path[-1]
        model = _model_at(tuple(real[:-1]))
        hint = did_you_mean(key, _fields_of(model)) if model else None
        return SpecError(f"unknown key '{key}' in {'.'.join(map(str, real[:-1])) or 'the spec'}",
                         locate(doc.root, tuple(real), key=True), hint)
    if err["type"] == "missing":
        key = path[-1]
        return SpecError(f"missing required key '{key}' in {where}", locate(doc.root, tuple(real)))
    value = node if real == list(path[: len(real)]) else None
    return SpecError(f"{where}: {err['msg'][0].lower()}{err['msg'][1:]} (got {value!r})",
                     locate(doc.root, tuple(real)))


def parse_spec(doc: Document) -> Spec:
    """Validate located data as a `Spec`."""
    if isinstance(doc.root, LDict) and "linkc" not in doc.root:
        raise SpecError("missing 'linkc: 1' (the spec format version) at the top of the spec",
                        doc.root.loc, "add the line 'linkc: 1'")
    try:
        spec = Spec.model_validate(doc.root)
    except ValidationError as exc:
        raise to_spec_error(exc, doc) from None
    _check_lists(spec, doc)
    return spec


def _check_lists(spec: Spec, doc: Document) -> None:
    """What the models' types let through but no graph can mean: an empty `from:`, and
    a block's `in:`/`out:` list that is empty (no caller could feed it or read from it)
    or names a port twice. pydantic's own message for `[]` would talk of strings."""
    places = [(("nodes",), spec.nodes)] + [
        (("blocks", name, "nodes"), block.nodes) for name, block in spec.blocks.items()]
    for path, nodes in places:
        for name, node in nodes.items():
            if node.from_ == []:
                raise SpecError(f"node '{name}' has an empty 'from:' list", locate(
                    doc.root, (*path, name, "from")), "name its input(s), e.g. from: input")
    for name, block in spec.blocks.items():
        for key, names, what in (("in", block.in_, "input"), ("out", block.out, "output")):
            where = locate(doc.root, ("blocks", name, key))
            if names == []:
                raise SpecError(f"block '{name}' has an empty '{key}:' list", where,
                                f"name its {what} port(s), e.g. {key}: x" if key == "in" else
                                f"name the node(s) it returns, e.g. {key}: y")
            if isinstance(names, list) and len(set(names)) < len(names):
                twice = next(n for n in names if names.count(n) > 1)
                raise SpecError(f"block '{name}' names {what} port '{twice}' twice", where,
                                "give each port once")
