"""The campaign's targets: each draws one input with hypothesis and says how to check it.

A target is `draw(data, workdir) -> Case`: `data` is hypothesis's `st.data()`
object, `workdir` a scratch folder of the worker process. `Case.check()` returns
an outcome name ("compiled", "spec_error", "exit2", ...) or raises on a bug;
`Case.payload` is the input itself (saved with any failure) and `Case.label` what
it was made from (a zoo spec's name, a command line).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from hypothesis import strategies as st

from .corrupt import checkpoint, rundir
from .mutate import ZOO, ZOO_NAMES, mutate
from .oracles import Case, cli_outcome, differential_outcome, spec_outcome
from .pass_values import passes_by_value
from .plugin_faults import plugin
from .specgen import valid_cases, valid_specs


def _base(data) -> tuple[str, str]:
    """(label, text): a generated valid spec or a zoo spec."""
    if data.draw(st.booleans()):
        return "generated", data.draw(valid_specs())
    i = data.draw(st.integers(0, len(ZOO) - 1))
    return ZOO_NAMES[i], ZOO[i]


def differential(data, workdir: Path) -> Case:
    text, shape = data.draw(valid_cases())
    return Case(text, lambda: differential_outcome(text, shape), "generated")


def zoo(data, workdir: Path) -> Case:
    """Mutations of the zoo specs, each spec in turn equally often."""
    i = data.draw(st.integers(0, len(ZOO) - 1))
    text = mutate(ZOO[i], data)
    return Case(text, lambda: spec_outcome(text), ZOO_NAMES[i])


def mutations(data, workdir: Path) -> Case:
    text = mutate(data.draw(valid_specs()), data)
    return Case(text, lambda: spec_outcome(text), "generated")


def random_bytes(data, workdir: Path) -> Case:
    """Random bytes spliced into a spec file (or a file of nothing but them)."""
    label, text = _base(data)
    raw = text.encode()
    junk = data.draw(st.binary(max_size=64))
    if data.draw(st.integers(0, 9)) == 0:
        raw = junk
    else:
        pos = data.draw(st.integers(0, len(raw)))
        cut = data.draw(st.integers(0, 4))
        raw = raw[:pos] + junk + raw[pos + cut:]
    path = workdir / "bytes.yaml"
    path.write_bytes(raw)
    return Case(raw, lambda: spec_outcome(path), label)


# Command lines: what a user might type, right or wrong. Commands that build a model get
# the small caps, so a mutated `conv: 64 -> 6400` costs milliseconds, not gigabytes.
SMALL = ["--limit", "max_params=2000000", "--limit", "max_activations=5000000"]
COMMANDS = [
    ["check"], ["check", "--json"], ["check", "--expand"], ["compile", "-o", "{out}", *SMALL],
    ["compile", "-o", "{out}", "--mode", "infer", *SMALL], ["analyze", "--json"],
    ["render", "-o", "{out}/dag.dot"], ["render", "-o", "{out}/dag.mmd", "--depth", "1"],
]
JUNK_FLAGS = [
    [], [], [], ["--limit", "max_nodes=0"], ["--limit", "max_params=-1"], ["--limit", "nope=3"],
    ["--limit", "max_nodes"], ["--limit", "="], ["--limit", "max_nodes=1e400"],
    ["--limit", "max_nodes=nan"], ["--limit", "max_depth=2"], ["--batch", "0"],
    ["--batch", "-3"], ["--depth", "-1"], ["--highlight", "nowhere"], ["--passes", "nope"],
    ["--passes", ""], ["--dump-after", "x"], ["--set", "k=3"], ["--set", "=="], ["--json"],
    ["--mode", "both"], ["--nodes"], ["-o"], ["--"], ["\x00"], ["--limit", "max_items=1"],
]


def cli(data, workdir: Path) -> Case:
    label, text = _base(data)
    if data.draw(st.booleans()):
        text = mutate(text, data)
    spec = workdir / "cli.yaml"
    spec.write_text(text, errors="surrogateescape")
    out = workdir / "cli-out"
    shutil.rmtree(out, ignore_errors=True)
    command = [w.replace("{out}", str(out)) for w in data.draw(st.sampled_from(COMMANDS))]
    argv = [command[0], str(spec), *command[1:], *data.draw(st.sampled_from(JUNK_FLAGS))]
    return Case(text, lambda: cli_outcome(argv), " ".join(argv))


TARGETS: dict[str, Callable[..., Case]] = {
    "differential": differential, "zoo": zoo, "mutations": mutations, "bytes": random_bytes,
    "cli": cli, "checkpoint": checkpoint, "rundir": rundir, "plugin": plugin,
    "passes": passes_by_value,
}
