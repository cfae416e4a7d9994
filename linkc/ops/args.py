"""The argument models of ops: the pydantic base every op's `Args` derives from.

An op's arguments are a frozen model with no unknown keys; integers must fit torch's
64-bit sizes, and a boolean is never read as a number (`k: true` is an error, not 1).
Binding the arguments as written to a model is shape inference's job
(`linkc.shapes.bind_args`), since numeric values are expressions in the node's scope.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.fields import FieldInfo


#: The largest integer an op argument may be: torch's kernels take sizes as int64. The
#: limits (channels, activations) catch most large values later with their own advice;
#: this catches the ones no shape reveals (a stride past the input is one pixel).
MAX_INT_ARG = 2**63 - 1


def _ints(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _ints(v)


class Args(BaseModel):
    """Base of op argument models: no unknown keys, values checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value, info: ValidationInfo):
        # pydantic's lax mode reads `k: true` as 1; a boolean is never meant as a number
        if isinstance(value, bool) and not _takes_bool(cls.model_fields[info.field_name]):
            raise ValueError("expects a number, not a boolean")
        return value

    @field_validator("*")
    @classmethod
    def _fits_a_kernel(cls, value):
        if any(abs(v) > MAX_INT_ARG for v in _ints(value)):
            raise ValueError("must be at most 2**63 - 1 (torch takes sizes as 64-bit integers)")
        return value


class NoArgs(Args):
    pass




def _takes_bool(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is bool or bool in typing.get_args(annotation)
