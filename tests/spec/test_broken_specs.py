"""Every broken spec in tests/broken_specs/ fails with exactly the expected message and position.

Each `NAME.yaml` sits beside `NAME.expected`: the first line is
`LINE:COL: error: MESSAGE`, an optional second line `hint: HINT`. An error in a
file the spec includes (tests/broken_specs/parts/) starts with that file's path relative
to tests/broken_specs: `parts/bad_block.yaml:7:46: error: ...`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from linkc.cli import main
from linkc.frontend import SpecError, build

BROKEN = Path(__file__).resolve().parent.parent / "broken_specs"
CASES = sorted(p.stem for p in BROKEN.glob("*.yaml"))


def expected(name: str) -> tuple[Path, str, str | None]:
    """(the file the error is in, 'LINE:COL: error: MESSAGE', the hint or None)."""
    lines = (BROKEN / f"{name}.expected").read_text().splitlines()
    hint = lines[1].removeprefix("hint: ") if len(lines) > 1 else None
    head, sep, rest = lines[0].partition(":")
    if head.isdigit():
        return BROKEN / f"{name}.yaml", lines[0], hint
    return BROKEN / head, rest, hint


@pytest.mark.parametrize("name", CASES)
def test_error_message_and_position(name):
    path = BROKEN / f"{name}.yaml"
    where, first, hint = expected(name)
    with pytest.raises(SpecError) as info:
        build(path)
    err = info.value
    assert err.loc is not None, "every broken spec error must carry a position"
    assert Path(err.loc.source.name).resolve() == where.resolve()
    assert f"{err.loc.line}:{err.loc.col}: error: {err.message}" == first
    assert err.hint == hint
    rendered = str(err).splitlines()
    assert rendered[0] == f"{err.loc.source.name}:{first}"
    assert rendered[2].strip().endswith("^"), "the caret line follows the quoted source line"


@pytest.mark.parametrize("name", CASES)
def test_cli_exits_2_without_traceback(name, capsys):
    code = main(["check", str(BROKEN / f"{name}.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    where = expected(name)[0]
    assert Path(err.split(":", 1)[0]).resolve() == where.resolve()


def test_catalogue_covers_the_issue_checklist():
    # The checks issue 3 names, each with at least one broken spec.
    required = {"flow_split", "unknown_op", "unknown_node", "unknown_block", "unknown_param",
                "unknown_arg", "wrong_arg_type", "cycle", "missing_output", "spatial_mismatch",
                "add_channels", "slice_range", "channels_fraction", "channels_zero", "groups",
                "spatial_zero", "prev_first", "duplicate_key", "reserved_name"}
    # ... and the constructs and messages of issue 11
    required |= {"list_index_range", "list_arithmetic", "list_slice", "list_item_mapping",
                 "if_missing", "if_output", "if_list", "if_shape_absent", "else_absent",
                 "repeat_arg_negative", "repeat_zero_path", "repeat_zero_ports", "slice_empty",
                 "block_ops_ports", "block_ops_name", "flow_split_keyword", "flow_split_number",
                 "flow_split_expression", "op_args_beside", "include_cycle", "include_outside",
                 "include_absolute", "include_url", "include_missing", "include_bad_block",
                 "include_duplicate", "include_not_blocks"}
    assert required <= set(CASES)


def test_catalogue_covers_each_op_users_reach_for_first():
    # issue 11: a broken spec for the typical misuse of each new op and of padding words
    required = {"relu6_cap", "hardswish_inplace", "hardsigmoid_args", "leaky_relu_slope_name",
                "elu_alpha", "upsample_scale_and_size", "upsample_on_vector",
                "conv_transpose_same_k1", "adaptive_pair_positional",
                "adaptive_maxpool_on_vector", "pool_padding_half", "maxpool_count_include_pad",
                "groupnorm_groups", "layernorm_channels", "channel_shuffle_groups",
                "drop_path_percent", "padding_same_even", "padding_unknown_word",
                "upsample_size_triple"}
    assert required <= set(CASES)


def test_no_hint_suggests_an_invalid_fix():
    """A fix a hint offers in flow syntax is itself valid YAML with one op per item."""
    import re

    import yaml

    from linkc.expand.op_items import parse_op_item

    for name in ("flow_split", "flow_split_keyword", "flow_split_number", "op_args_beside",
                 "flow_split_expression"):
        hint = expected(name)[2]
        fix = re.search(r"(?:write |the op: |expression: )(\{.*?\})(?: or quote|$)", hint)
        item = yaml.safe_load(fix.group(1))
        assert isinstance(item, dict) and len(item) == 1, (name, fix.group(1))
        parse_op_item(item, None)  # a valid op item
