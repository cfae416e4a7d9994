"""The model zoo against the papers: every spec in linkc/zoo/specs/, its parameter count,
the paper's figure as printed, and a verdict.

A spec states what it reproduces in a top-level `paper:` mapping, either one row

    paper: {params: "1.7M", source: "seed 003, Table 3", exact: 1730714, note: "..."}

or, when one file holds a whole table (the size as params), one row per size:

    paper:
      source: "seed 003, Table 2"
      rows:
        - {set: {L: 12}, params: "0.4M"}
        - {set: {L: 54}, params: "1.7M", label: "DMRNet-56", note: "..."}

`set` overrides top-level params for that row. The match rule (issue 4): a count
matches if it rounds to the printed figure ("0.4M" means [0.35M, 0.45M)) or is
within 2% of it, whichever is looser; where `exact` is given it must be equal.
A miss is reported with the spec's `note` saying why, never silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

from ..frontend import SpecError, build
from ..spec.load import load
from .params import count_params

TOLERANCE = 0.02
_FIGURE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KkMG]?)\s*$")
_SCALE = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9}


@dataclass(frozen=True)
class Figure:
    """A parameter count as printed: its value and the interval that prints as it."""

    text: str
    value: Decimal
    low: Decimal  # inclusive
    high: Decimal  # exclusive


def parse_figure(text) -> Figure:
    """'0.4M' -> 400000 in [350000, 450000); '11.39M' -> [11385000, 11395000)."""
    m = _FIGURE.match(str(text))
    if not m:
        raise SpecError(f"paper figure '{text}' is not a number with an optional K/M/G suffix "
                        "(e.g. \"0.4M\", \"11.39M\", 7978856)")
    digits, unit = m.groups()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = _SCALE[unit]
    value = Decimal(digits) * scale
    half = Decimal(5) * Decimal(10) ** (-decimals - 1) * scale
    return Figure(str(text).strip(), value, value - half, value + half)


def matches(count: int, figure: Figure) -> bool:
    """Rounds to the printed figure, or within 2% of it, whichever is looser."""
    if figure.low <= count < figure.high:
        return True
    return abs(Decimal(count) - figure.value) <= Decimal(str(TOLERANCE)) * figure.value


@dataclass
class ZooRow:
    file: str
    name: str
    set: dict = field(default_factory=dict)
    params: int | None = None
    paper: str | None = None
    exact: int | None = None
    relative: float | None = None  # (params - paper) / paper
    verdict: str = "no figure"  # match | mismatch | no figure | error
    source: str | None = None
    note: str | None = None
    error: str | None = None

    title: str | None = None  # a row's `label`, e.g. "DMRNet-Wide-50"

    @property
    def label(self) -> str:
        if self.title:
            return f"{self.name}: {self.title}"
        sizes = ",".join(f"{k}={v}" for k, v in self.set.items())
        return f"{self.name} [{sizes}]" if sizes else self.name


def specs_dir() -> Path:
    """The zoo's specs, shipped inside the package (linkc/zoo/specs)."""
    from ..zoo import SPECS

    return SPECS


def _rows_of(paper: dict | None) -> list[dict]:
    if not paper:
        return [{}]
    if "rows" in paper:
        shared = {k: v for k, v in paper.items() if k != "rows"}
        return [{**shared, **row} for row in paper["rows"]]
    return [dict(paper)]


def _judge(row: ZooRow, spec: dict) -> None:
    if spec.get("params") is None and spec.get("exact") is None:
        return
    if spec.get("exact") is not None:
        row.exact = int(spec["exact"])
        ok = row.params == row.exact
        reference = Decimal(row.exact)
    else:
        figure = parse_figure(spec["params"])
        ok = matches(row.params, figure)
        reference = figure.value
    row.relative = float((Decimal(row.params) - reference) / reference)
    row.verdict = "match" if ok else "mismatch"


def zoo_rows(directory: str | os.PathLike | None = None) -> list[ZooRow]:
    """One row per spec, or per `paper.rows` entry, in file-name order."""
    directory = Path(directory) if directory else specs_dir()
    if not directory.is_dir():
        raise SpecError(f"no specs directory at '{directory}'", hint="pass --dir")
    rows: list[ZooRow] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = load(path)
            paper = doc.root.get("paper")
            specs = _rows_of(paper if isinstance(paper, dict) else None)
        except SpecError as exc:
            rows.append(ZooRow(path.name, path.stem, verdict="error", error=exc.message))
            continue
        for spec in specs:
            overrides = dict(spec.get("set") or {})
            row = ZooRow(path.name, str(doc.root.get("name", path.stem)), overrides,
                         paper=None if spec.get("params") is None else str(spec["params"]),
                         source=spec.get("source"), note=spec.get("note"),
                         title=spec.get("label"))
            try:
                row.params = count_params(build(doc, overrides))
                _judge(row, spec)
            except SpecError as exc:
                row.verdict, row.error = "error", exc.message
            rows.append(row)
    return rows


def as_dicts(rows: list[ZooRow]) -> list[dict]:
    return [{**asdict(r), "label": r.label} for r in rows]
