"""`linkc import` over the zoo: time, spec length and faithfulness per spec.

    python benchmarks/import_zoo.py [NAME ...]        # default: every spec in specs/

Each spec is compiled, the GraphModule imported back into a spec (timed: trace,
fold, write, and the weights carried over by compiling the written spec), and the
new spec compiled with the carried weights; the row says whether the parameter
count and the outputs (eval mode, random BN statistics) match, and the length of
both specs in lines (comments and blank lines left out). Prints a Markdown table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import linkc  # noqa: E402
from linkc.compiler import compile_graph  # noqa: E402
from linkc.importer import import_module  # noqa: E402


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


def main(names: list[str]) -> int:
    paths = [ROOT / "specs" / f"{n}.yaml" for n in names] if names else \
        sorted((ROOT / "specs").glob("*.yaml"))
    print("| spec | nodes | import s | lines | imported lines | ratio | params equal | "
          "max output diff |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        try:
            print(row(path), flush=True)
        except Exception as exc:  # report and go on: one row per spec
            print(f"| {path.stem} | | | | | | failed: {type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:120]} | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
