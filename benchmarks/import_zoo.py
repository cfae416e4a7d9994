"""`linkc import` over the zoo and over the corpus: time, spec length and faithfulness.

    python benchmarks/import_zoo.py [NAME ...]        # default: every spec in specs/
    python benchmarks/import_zoo.py --corpus          # tests/importer/corpus, one row a model

Each spec is compiled, the GraphModule imported back into a spec (timed: trace,
fold, write, and the weights carried over by compiling the written spec), and the
new spec compiled with the carried weights; the row says whether the parameter
count and the outputs (eval mode, random BN statistics) match, and the length of
both specs in lines (comments and blank lines left out). Prints a Markdown table.

With --corpus, each model file of tests/importer/corpus (written the way torchvision,
timm and the CIFAR and U-Net repositories write them) is built, given trained-looking
weights and imported (timed); the row gives the model file's code lines (docstrings,
comments and blank lines left out) against the spec's, whether the parameter counts
are equal and the largest output difference relative to the output's scale, or the
error an import stopped with.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import linkc
from linkc.compiler import compile_graph
from linkc.importer import import_module


def lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def row(path: Path) -> str:
    g = linkc.build(path)
    gm = compile_graph(g).eval()
    torch.manual_seed(1)
    for m in gm.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    start = time.perf_counter()
    result = import_module(gm, tuple(g.input_shape))
    seconds = time.perf_counter() - start
    again = linkc.compile(result.spec)
    again.load_state_dict(result.weights)
    x = torch.randn(2, *g.input_shape)
    with torch.no_grad():
        diff = (again.eval()(x) - gm(x)).abs().max().item()
    same = result.params == sum(p.numel() for p in gm.parameters())
    before, after = lines(path.read_text()), lines(result.spec)
    return (f"| {path.stem} | {len(g.order)} | {seconds:.2f} | {before} | {after} | "
            f"{after / before:.2f} | {'yes' if same else 'NO'} | {diff:.1e} |")


def code_lines(path: Path) -> int:
    """Lines of code of a Python file: no docstrings, comments or blank lines."""
    import ast

    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            docs.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for k, line in enumerate(path.read_text().splitlines(), 1)
               if k not in docs and line.strip() and not line.lstrip().startswith("#"))


def corpus_row(name: str, factory: str) -> str:
    from tests.importer.corpus_check import compare, load, trained_looking

    module, shape, source = load(name, factory)
    module = trained_looking(module)
    start = time.perf_counter()
    try:
        result = import_module(module, shape)
    except Exception as exc:  # noqa: BLE001 - report and go on: one row per model
        return f"| {name}:{factory} | | | | | | refused: {str(exc).splitlines()[0][:100]} |"
    seconds = time.perf_counter() - start
    outcome = compare(module, result, shape)
    before, after = code_lines(Path(source.__file__)), lines(result.spec)
    return (f"| {name}:{factory} | {seconds:.2f} | {before} | {after} | {after / before:.2f} | "
            f"{'yes' if outcome.params_module == outcome.params_spec else 'NO'} | "
            f"{outcome.max_error:.1e} |")


def corpus() -> int:
    from tests.importer.corpus_check import CORPUS

    print("| model file:factory | import s | source lines | spec lines | ratio | params equal | "
          "max output diff / scale |")
    print("|---|---|---|---|---|---|---|")
    for name, factory in CORPUS:
        print(corpus_row(name, factory), flush=True)
    return 0


def main(names: list[str]) -> int:
    if names == ["--corpus"]:
        return corpus()
    paths = [ROOT / "specs" / f"{n}.yaml" for n in names] if names else \
        sorted((ROOT / "specs").glob("*.yaml"))
    print("| spec | nodes | import s | lines | imported lines | ratio | params equal | "
          "max output diff |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        try:
            print(row(path), flush=True)
        except Exception as exc:  # noqa: BLE001 - report and go on: one row per spec
            print(f"| {path.stem} | | | | | | failed: {type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:120]} | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
