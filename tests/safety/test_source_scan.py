"""No code in linkc can run what a user hands it: no pickle of user data, no unsafe YAML,
no eval/exec, and `torch.load` only with `weights_only=True`. Scans linkc/**/*.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "linkc"
SOURCES = sorted(PACKAGE.rglob("*.py"))
# The one allowed use of pickle: CIFAR's python format, read by an Unpickler subclass
# whose find_class admits a short numpy allow-list (linkc/train/data/safe_pickle.py).
RESTRICTED_UNPICKLER = ("train/data/safe_pickle.py", "_RestrictedUnpickler")


def _call_name(node: ast.Call) -> str:
    try:
        return ast.unparse(node.func)
    except Exception:  # pragma: no cover - ast.unparse handles every expression
        return ""


def findings(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, str(path))
    rel = path.relative_to(PACKAGE).as_posix()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            where = f"{rel}:{node.lineno}"
            keywords = {k.arg: k.value for k in node.keywords}
            if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
                out.append(f"{where}: {name}()")
            elif re.fullmatch(r"(pickle|cPickle|_pickle|dill|cloudpickle|joblib)\.(loads?)", name):
                out.append(f"{where}: {name}() on data")
            elif re.fullmatch(r"(yaml\.)?(unsafe_load|unsafe_load_all|full_load|full_load_all)",
                              name):
                out.append(f"{where}: {name}()")
            elif name in ("yaml.load", "yaml.load_all"):
                loader = keywords.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or "Safe" not in ast.unparse(loader):
                    out.append(f"{where}: {name}() without a safe Loader")
            elif name.endswith("torch.load"):
                flag = keywords.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    out.append(f"{where}: torch.load without weights_only=True")
            elif name in ("numpy.load", "np.load"):
                flag = keywords.get("allow_pickle")
                if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                    out.append(f"{where}: {name}(allow_pickle=...)")
        elif isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b in ("pickle.Unpickler", "Unpickler", "_pickle.Unpickler") for b in bases):
                if (rel, node.name) != RESTRICTED_UNPICKLER:
                    out.append(f"{rel}:{node.lineno}: Unpickler subclass {node.name}")
                elif not any(isinstance(f, ast.FunctionDef) and f.name == "find_class"
                             for f in node.body):
                    out.append(f"{rel}:{node.lineno}: {node.name} does not restrict find_class")
        elif isinstance(node, ast.Attribute) and node.attr == "Unpickler" and \
                rel != RESTRICTED_UNPICKLER[0]:
            out.append(f"{rel}:{node.lineno}: pickle.Unpickler")
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_unsafe_deserialisation_or_code_execution(path):
    assert findings(path) == []


def test_the_restricted_unpickler_is_the_only_pickle_use():
    data = PACKAGE / "train" / "data" / "safe_pickle.py"
    assert "_RestrictedUnpickler" in data.read_text()
    uses = [p for p in SOURCES if re.search(r"\bpickle\.", p.read_text(encoding="utf-8"))]
    assert [p.relative_to(PACKAGE).as_posix() for p in uses] == ["train/data/safe_pickle.py"]


@pytest.mark.parametrize("source,found", [
    ("import pickle\npickle.loads(blob)\n", "pickle.loads() on data"),
    ("import pickle\nwith open(p, 'rb') as f:\n    pickle.load(f)\n", "pickle.load() on data"),
    ("import yaml\nyaml.load(text)\n", "yaml.load() without a safe Loader"),
    ("import yaml\nyaml.load(text, Loader=yaml.FullLoader)\n", "without a safe Loader"),
    ("import yaml\nyaml.unsafe_load(text)\n", "yaml.unsafe_load()"),
    ("eval(expr)\n", "eval()"),
    ("exec(code)\n", "exec()"),
    ("import torch\ntorch.load(path)\n", "torch.load without weights_only=True"),
    ("import torch\ntorch.load(path, weights_only=False)\n", "torch.load without weights_only"),
    ("import pickle\nclass U(pickle.Unpickler):\n    pass\n", "Unpickler subclass U"),
])
def test_the_scanner_finds_each_pattern(source, found, tmp_path):
    path = tmp_path / "linkc" / "bad.py"
    path.parent.mkdir()
    path.write_text(source)
    globals()["PACKAGE"], saved = tmp_path / "linkc", PACKAGE
    try:
        assert any(found in f for f in findings(path)), findings(path)
    finally:
        globals()["PACKAGE"] = saved


def test_the_scanner_accepts_the_safe_forms(tmp_path):
    path = tmp_path / "linkc" / "ok.py"
    path.parent.mkdir()
    path.write_text("import yaml, torch\nyaml.safe_load(t)\nyaml.load(t, Loader=yaml.SafeLoader)\n"
                    "torch.load(p, weights_only=True)\nmodel.eval()\n")
    globals()["PACKAGE"], saved = tmp_path / "linkc", PACKAGE
    try:
        assert findings(path) == []
    finally:
        globals()["PACKAGE"] = saved
