"""Broken specs never crash linkc: every mutation of a valid spec either compiles and
runs, or fails with a SpecError that carries a position in the spec."""

from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

from linkc.cli import main

from .mutate import ZOO, mutate
from .oracles import spec_outcome
from .settings import fuzz_settings
from .specgen import valid_specs

BASES = st.one_of(valid_specs(), st.sampled_from(ZOO)) if ZOO else valid_specs()


@fuzz_settings(ci_examples=80)
@given(BASES, st.data())
def test_mutated_specs_give_located_errors_or_work(text, data):
    mutated = mutate(text, data)
    note(mutated)
    spec_outcome(mutated, note)


@fuzz_settings(ci_examples=30)
@given(text=valid_specs(), junk=st.binary(max_size=16), data=st.data())
def test_random_bytes_in_a_spec_file(tmp_path_factory, text, junk, data):
    raw = text.encode()
    pos = data.draw(st.integers(0, len(raw)))
    path = tmp_path_factory.mktemp("spec") / "mutated.yaml"
    path.write_bytes(raw[:pos] + junk + raw[pos:])
    spec_outcome(path, note)


def test_cli_turns_a_non_spec_error_into_exit_1(monkeypatch, tmp_path, capsys):
    """The oracle the fuzzers rely on: a crash is exit 1 'internal error', not exit 2."""
    import linkc.frontend as frontend

    spec = tmp_path / "ok.yaml"
    spec.write_text("linkc: 1\nname: ok\ninput: [3, 8, 8]\n"
                    "nodes:\n  a: {from: input, ops: [relu]}\noutput: a\n")
    monkeypatch.setattr(frontend, "build", lambda *a, **k: 1 / 0)
    assert main(["check", str(spec)]) == 1
    assert "internal error" in capsys.readouterr().err
