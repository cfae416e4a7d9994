"""The package's import graph, read from the source: no cycles, data flowing one way.

The stages run spec -> expand -> shapes -> compiler -> (train | export | render |
analyze), with the registry (`linkc.ops`) read by all and importing none of them. Every
import counts, those under `if TYPE_CHECKING:` and inside functions too: a cycle that
only works because of import order or annotations is still a cycle to a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "linkc"

# What each torch-free stage may import from linkc (besides itself).
ALLOWED = {
    "linkc.ops": {"linkc.errors"},
    "linkc.spec": {"linkc.errors", "linkc.gcpause", "linkc.ops"},
    "linkc.expand": {"linkc.errors", "linkc.ops", "linkc.spec"},
    "linkc.shapes": {"linkc.errors", "linkc.ops", "linkc.spec", "linkc.expand"},
}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _imports(path: Path, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """Every module of `modules` this file imports (a name imported from a package
    counts as its submodule where one of that name exists)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = {f"{target}.{a.name}" for a in node.names} & modules
            found |= subs or ({target} & modules)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names} & modules
    found.discard(name)
    return found


def _graph() -> nx.DiGraph:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    graph = nx.DiGraph()
    for (name, is_package), path in files.items():
        graph.add_node(name)
        for target in _imports(path, name, is_package, modules):
            graph.add_edge(name, target)
    return graph


def _third_party(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert cycles == []


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stages_import_only_earlier_stages(stage):
    graph = _graph()
    upward = sorted(
        f"{source} -> {target}" for source, target in graph.edges
        if (source == stage or source.startswith(stage + "."))
        and not (target == stage or target.startswith(stage + "."))
        and not any(target == a or target.startswith(a + ".") for a in ALLOWED[stage]))
    assert upward == []


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_torch_free_stages_never_import_torch(stage):
    folder = PACKAGE / stage.split(".")[1]
    offenders = sorted(str(p.relative_to(PACKAGE)) for p in folder.rglob("*.py")
                       if _third_party(p) & {"torch", "numpy"})
    assert offenders == []


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The graph reader finds an import only a type annotation needs."""
    package = tmp_path / "linkc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from .a import g\n")
    monkeypatch.setitem(globals(), "PACKAGE", package)
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert cycles == [["linkc.a", "linkc.b"]]
