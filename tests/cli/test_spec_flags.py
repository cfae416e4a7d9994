"""Flags every command that reads a spec shares (--set, --include-path), and how a
spec argument is read."""

from __future__ import annotations

import pytest

from linkc.cli import build_parser, main

SPEC = """linkc: 1
name: flags
params: {k: 4, widths: [2, 3]}
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [k, 3]}]}
  b: {from: a, repeat: len(widths), ops: [{conv: "widths[i]"}]}
  c: {from: b, ops: [gap]}
output: c
"""
SPEC_COMMANDS = ["check", "compile", "render", "analyze", "train", "evaluate", "bench", "export"]


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_every_spec_command_takes_set_and_include_path(command):
    parser, _ = build_parser()
    required = {"render": ["-o", "x.svg"], "evaluate": ["--weights", "w"],
                "export": ["--format", "onnx", "-o", "x.onnx"]}.get(command, [])
    args = parser.parse_args([command, "s.yaml", "--set", "k=2", "--set", "w=[1, 2]",
                              "--include-path", "lib", *required])
    assert args.set == ["k=2", "w=[1, 2]"] and args.include_path == ["lib"]


def test_set_values_are_yaml_scalars_and_lists(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    assert main(["check", str(spec), "--json", "--set", "k=5", "--set",
                 "widths=[7, 8, 9]"]) == 0
    assert '"output_shape": [\n    9\n  ]' in capsys.readouterr().out
    assert main(["analyze", str(spec), "--set", "k=2*3"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("flag,message", [
    ("kk=5", "cannot set param 'kk': the spec has no such param"),
    ("k", "--set expects NAME=VALUE, got 'k'"),
    ("k={a: 1}", "param 'k' must be a number, an expression or a list of them"),
    ("k=[1, 2", "--set k: expected ',' or ']', but got '<stream end>'"),
])
def test_bad_set_flags_are_errors_with_exit_2(tmp_path, capsys, flag, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    assert main(["check", str(spec), "--set", flag]) == 2
    err = capsys.readouterr().err
    assert message in err.splitlines()[0] and "Traceback" not in err


def test_a_spec_file_not_named_yaml_is_read_as_a_file(tmp_path, capsys):
    spec = tmp_path / "net.spec"
    spec.write_text(SPEC)
    assert main(["check", str(spec)]) == 0
    assert capsys.readouterr().out.startswith("flags: ok")
    assert main(["check", str(tmp_path / "missing.spec")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read spec '{tmp_path / 'missing.spec'}': No such file")
    import linkc

    assert linkc.build(str(spec)).name == "flags"
    with pytest.raises(linkc.SpecError, match="cannot read spec 'no/such/net'"):
        linkc.build("no/such/net")


def test_compile_takes_params_like_the_command_line():
    import linkc

    gm = linkc.compile(SPEC, params={"k": 2, "widths": [5]})
    # conv 3->2 (3x3, no bias), then one conv 2->5 (3x3, no bias)
    assert sum(p.numel() for p in gm.parameters()) == 2 * 3 * 9 + 5 * 2 * 9


def test_the_resume_command_rebuilds_the_same_network():
    from linkc.commands.train import resume_command

    parser, _ = build_parser()
    args = parser.parse_args(["train", "s.yaml", "--set", "k=2", "--set", "w=[1, 2]",
                              "--include-path", "lib", "--epochs", "3"])
    assert resume_command(args, "runs/x") == (
        "linkc train s.yaml --set k=2 --set 'w=[1, 2]' --include-path lib --epochs 3 "
        "--resume runs/x")
