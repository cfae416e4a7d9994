"""Running Graphviz: `dot` from PATH when present, else the `graphviz-pure` package.

`graphviz-pure` (a pip dependency of linkc, a Rust port of Graphviz) makes a
plain `pip install linkc` able to draw. It writes SVG, PNG and JSON but not PDF;
when it is the only engine, its JSON drawing operations are painted into a vector
PDF by matplotlib (`xdot_pdf.py`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .diagram import RenderError

ENGINES = ("dot", "graphviz-pure")
INSTALL_HINT = ("install one: `pip install graphviz-pure` (pure Python wheel, no system "
                "packages), or Graphviz itself (`apt install graphviz`, `brew install "
                "graphviz`, https://graphviz.org/download/); .dot and .mmd output needs neither")


@dataclass(frozen=True)
class Engine:
    name: str
    path: str


def find_engines() -> list[Engine]:
    """The engines that exist, in order of preference. graphviz-pure is also looked
    for next to the running Python, for a virtual environment that is not activated."""
    found = []
    for name in ENGINES:
        path = shutil.which(name)
        if path is None:
            beside = Path(sys.executable).with_name(name)
            path = str(beside) if beside.exists() else None
        if path:
            found.append(Engine(name, path))
    return found


def _run(engine: Engine, fmt: str, dot_text: str, out: Path, timeout: float,
         extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([engine.path, f"-T{fmt}", *extra, "-o", str(out)], input=dot_text,
                          text=True, capture_output=True, timeout=timeout)


def run_graphviz(dot_text: str, out: Path, fmt: str, timeout: float = 600) -> list[str]:
    """Lay out `dot_text` and write `out` in `fmt` (svg, png, pdf). Returns notes for
    the user. Raises RenderError when no engine can do it."""
    engines = find_engines()
    if not engines:
        raise RenderError(f"cannot write {out.name}: no Graphviz found (neither `dot` nor "
                          f"`graphviz-pure` is on PATH); {INSTALL_HINT}")
    failures = []
    for engine in engines:
        try:
            done = _run(engine, fmt, dot_text, out, timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(f"{engine.name} took over {timeout:.0f} s to lay out the graph; "
                              "draw fewer boxes with --depth (or write .dot and lay it out "
                              "yourself)") from None
        except OSError as exc:
            failures.append(f"{engine.name}: {exc.strerror or exc}")
            continue
        if done.returncode == 0:
            return []
        message = (done.stderr or done.stdout).strip().splitlines()
        if fmt == "pdf" and any("not recognized" in line for line in message):
            return _vector_pdf(engine, dot_text, out, timeout)
        failures.append(f"{engine.name} exited {done.returncode}: "
                        + (message[-1] if message else "no message"))
    raise RenderError(f"cannot write {out.name}: " + "; ".join(failures) + f". {INSTALL_HINT}")


def _vector_pdf(engine: Engine, dot_text: str, out: Path, timeout: float) -> list[str]:
    from .xdot_pdf import xdot_pdf

    layout = out.with_name(out.name + ".tmp.json")
    try:
        done = _run(engine, "json", dot_text, layout, timeout)
        if done.returncode != 0:
            raise RenderError(f"cannot write {out.name}: {engine.name} failed: "
                              f"{done.stderr.strip()}")
        xdot_pdf(layout.read_text(encoding="utf-8"), out)
    finally:
        layout.unlink(missing_ok=True)
    return []
