"""The per-run memo of validated op arguments: a list or mapping where a number
belongs is a located SpecError (it used to crash building the memo key), and
values that are equal as Python keys but not as arguments are never confused."""

from __future__ import annotations

import pytest

from linkc.frontend import SpecError
from linkc.ops import OPS
from linkc.expand.flat_graph import RawArgs
from linkc.shapes.bind_args import bind_args


def _bind(op: str, memo: dict, **keyword):
    # literal values only, so no expression environment is needed
    raw = RawArgs(keyword={k: (v, None) for k, v in keyword.items()})
    return bind_args(OPS.lookup(op), raw, None, None, memo)


@pytest.mark.parametrize("value", [[], [4, 5], {"a": [1]}, [[]]])
def test_a_list_or_mapping_argument_is_a_spec_error(value):
    memo: dict = {}
    with pytest.raises(SpecError, match="conv argument 'out': input should be a valid integer"):
        _bind("conv", memo, out=value)
    assert memo == {}


def test_identical_calls_share_one_entry_and_equal_keys_of_other_types_do_not():
    memo: dict = {}
    first = _bind("conv", memo, out=4, bias=True)
    assert _bind("conv", memo, out=4, bias=True) is first
    _bind("conv", memo, out=4, bias=1)  # 1 == True as a dict key, but another value
    _bind("conv", memo, out=4, bias=True, k=3)  # the default, written out
    assert len(memo) == 3
