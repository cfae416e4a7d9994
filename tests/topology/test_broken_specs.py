"""Every broken spec in tests/specs/ fails with exactly the expected message and position.

Each `NAME.yaml` sits beside `NAME.expected`: the first line is
`LINE:COL: error: MESSAGE`, an optional second line `hint: HINT`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from linkc.cli import main
from linkc.topology import SpecError, build

BROKEN = Path(__file__).resolve().parent.parent / "specs"
CASES = sorted(p.stem for p in BROKEN.glob("*.yaml"))


def expected(name: str) -> tuple[str, str | None]:
    lines = (BROKEN / f"{name}.expected").read_text().splitlines()
    hint = lines[1].removeprefix("hint: ") if len(lines) > 1 else None
    return lines[0], hint


@pytest.mark.parametrize("name", CASES)
def test_error_message_and_position(name):
    path = BROKEN / f"{name}.yaml"
    first, hint = expected(name)
    with pytest.raises(SpecError) as info:
        build(path)
    err = info.value
    assert err.loc is not None, "every broken spec error must carry a position"
    assert f"{err.loc.line}:{err.loc.col}: error: {err.message}" == first
    assert err.hint == hint
    rendered = str(err).splitlines()
    assert rendered[0] == f"{path}:{first}"
    assert rendered[2].strip().endswith("^"), "the caret line follows the quoted source line"


@pytest.mark.parametrize("name", CASES)
def test_cli_exits_2_without_traceback(name, capsys):
    code = main(["check", str(BROKEN / f"{name}.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith(f"{BROKEN / name}.yaml:")


def test_catalogue_covers_the_issue_checklist():
    # The checks issue 3 names, each with at least one broken spec.
    required = {"flow_split", "unknown_op", "unknown_node", "unknown_block", "unknown_param",
                "unknown_arg", "wrong_arg_type", "cycle", "missing_output", "spatial_mismatch",
                "add_channels", "slice_range", "channels_fraction", "channels_zero", "groups",
                "spatial_zero", "prev_first", "duplicate_key", "reserved_name"}
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
