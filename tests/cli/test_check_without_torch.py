"""`linkc check` (what an editor or a pre-commit hook runs on every save) imports no
torch, neither for a good spec nor to report a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(*args: str) -> tuple[int, set[str], str]:
    """Run `python -X importtime -m linkc ARGS`: exit code, every module it imported
    (read from the import-time log on stderr), and the rest of stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "linkc", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    modules, rest = set(), []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[1].strip())
        else:
            rest.append(line)
    return proc.returncode, modules, "\n".join(rest)


@pytest.mark.parametrize("spec", ["specs/densenet_bc_100.yaml", "resnet-20"])
def test_check_imports_no_torch(spec):
    code, modules, err = imported_modules("check", spec)
    assert code == 0, err
    assert "linkc.shapes.infer" in modules, "the log lists what was imported"
    assert not {m for m in modules if m == "torch" or m.startswith("torch.")}


def test_check_reports_a_bad_spec_without_torch():
    code, modules, err = imported_modules("check", "tests/broken_specs/unknown_node.yaml")
    assert code == 2 and "error: unknown node" in err
    assert "torch" not in modules
