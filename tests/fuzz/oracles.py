"""What counts as correct for each kind of fuzzed input, shared by the tests in this
folder and the campaign runner. Each function returns an outcome name on success and
raises (AssertionError or whatever linkc raised) on a bug.

- `spec_outcome`: a spec compiles and runs, or is refused with a located SpecError.
- `differential_outcome`: a valid spec's compiled module computes what the
  independent interpreter computes.
- `cli_outcome`: the command line exits 0 or 2 with a message, never 1 or a traceback.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Callable

import torch

import linkc
from linkc.cli import main
from linkc.compiler.lower import lower
from linkc.frontend import Limits, SpecError, build

from .interpreter import interpret

@dataclass
class Case:
    """One fuzzed input: `check()` returns an outcome name or raises on a bug; `payload`
    is the input (kept with a failure), `label` what it was made from."""

    payload: str | bytes
    check: Callable[[], str]
    label: str = ""
    suffix: str = ".yaml"


# Small caps keep a mutated `conv: 64` -> `conv: 99999999` from allocating gigabytes.
LIMITS = Limits().with_(max_params=2_000_000, max_activations=5_000_000, max_nodes=2_000,
                        max_inputs=20_000)


def spec_outcome(spec, note=lambda text: None) -> str:
    """'compiled' or 'spec_error'; a SpecError without a position is a bug."""
    try:
        g = build(spec, limits=LIMITS)
    except SpecError as err:
        note(str(err))
        assert err.loc is not None, f"SpecError without a position: {err}"
        str(err), err.to_json()  # rendering the error must not fail either
        return "spec_error"
    gm = lower(g)
    gm.eval()
    with torch.no_grad():
        out = gm(*(torch.randn(2, *shape) for shape in g.inputs.values()))
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == [tuple(g.nodes[o].shape) for o in g.outputs]
    return "compiled"


def randomize(gm: torch.nn.Module, seed: int) -> None:
    """Random weights *and* BN statistics, so every tensor the forward reads matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in gm.state_dict().items():
            if t.is_floating_point():
                values = torch.rand(t.shape, generator=gen) + 0.5 if name.endswith(
                    "running_var") else torch.randn(t.shape, generator=gen) * 0.5
                t.copy_(values)


def differential_outcome(spec, shape: tuple | None = None) -> str:
    """`spec` (text or a path) compiles to what the interpreter computes; `shape` is
    the output shape its generator expects, when it knows one."""
    g = build(spec)
    gm = linkc.compile(spec)
    if shape is not None:
        assert g.nodes[g.output].shape == tuple(shape), "the output shape the generator expects"
    randomize(gm, seed=len(str(spec)))
    gm.eval()
    gen = torch.Generator().manual_seed(1)
    xs = {name: torch.randn(2, *shape, generator=gen) for name, shape in g.inputs.items()}
    with torch.no_grad():
        got = gm(*xs.values())
        want = interpret(g, dict(gm.state_dict()), xs)
    got, want = (got, want) if len(g.outputs) > 1 else ((got,), (want,))
    assert [tuple(t.shape) for t in got] == [(2, *g.nodes[o].shape) for o in g.outputs]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    return "matched"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`linkc ARGV` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def cli_outcome(argv: list[str]) -> str:
    """'exit0' or 'exit2'; exit 1, a traceback or an empty error message is a bug."""
    code, _, err = run_cli(argv)
    assert "Traceback" not in err, err
    assert code in (0, 2), f"exit {code}: {err.strip()[-2000:]}\n(linkc {' '.join(argv)})"
    if code == 2:
        assert err.strip(), f"exit 2 without a message (linkc {' '.join(argv)})"
    return f"exit{code}"
