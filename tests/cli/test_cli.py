"""The command line as a user meets it: summaries, JSON, artifacts and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from linkc.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
DENSENET = str(ROOT / "specs" / "densenet_bc_100.yaml")


def test_check_prints_summary(capsys):
    assert main(["check", DENSENET]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "densenet-bc-100: ok"
    assert out[2] == "  parameters  769,162"
    assert out[4] == "  output      head [10]"


def test_check_json(capsys):
    assert main(["check", DENSENET, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 769_162
    assert info["output_shape"] == [10]
    assert info["input"] == [3, 32, 32]
    assert info["warnings"] == []


def test_check_expand_prints_flat_yaml(capsys):
    import yaml

    assert main(["check", DENSENET, "--expand"]) == 0
    flat = yaml.safe_load(capsys.readouterr().out)
    assert flat["nodes"]["d1.15.x"]["merge"] == "concat"
    assert flat["nodes"]["t1.t"]["shape"] == [108, 16, 16]
    assert not any("block" in n or "repeat" in n for n in flat["nodes"].values())


def test_compile_writes_artifacts(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", DENSENET, "-o", str(out), "--passes", "none"]) == 0
    assert {p.name for p in out.iterdir()} == {"model.py", "weights.safetensors", "graph.json"}
    assert "769,162 parameters" in capsys.readouterr().out


def test_unknown_pass_is_a_usage_error(capsys):
    assert main(["compile", DENSENET, "--passes", "fold_bm"]) == 2
    assert "unknown pass 'fold_bm'" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["chek", DENSENET]) == 2
    assert "invalid choice: 'chek'" in capsys.readouterr().err


def test_internal_errors_exit_1_with_one_paragraph(monkeypatch, capsys):
    import linkc.commands.check as check

    def boom(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(check, "run", boom)
    monkeypatch.delenv("LINKC_DEBUG", raising=False)
    assert main(["check", DENSENET]) == 1
    err = capsys.readouterr().err
    assert err.startswith("linkc: internal error: RuntimeError: something broke")
    assert "Traceback" not in err


def test_python_dash_m_and_console_script():
    result = subprocess.run([sys.executable, "-m", "linkc", "check", DENSENET],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("densenet-bc-100: ok")
    result = subprocess.run([sys.executable, "-m", "linkc", "check", "/no/such/spec.yaml"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: cannot read spec '/no/such/spec.yaml': "
                                     "No such file or directory")


@pytest.mark.parametrize("command", ["check", "compile", "render", "analyze", "train", "evaluate",
                                     "bench", "export", "schema", "zoo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        from linkc.cli import build_parser
        build_parser()[0].parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage: linkc " + command in capsys.readouterr().out
