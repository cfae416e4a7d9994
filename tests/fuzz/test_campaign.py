"""The campaign runner's bookkeeping: a failing example is kept with its input and
traceback and the campaign goes on; outcomes and failures add up in the summary."""

from __future__ import annotations

import pytest

import argparse
import json

from hypothesis import strategies as st

from .oracles import Case
from .worker import _run_target, empty_totals, format_summary, signature, write_summary


def _flaky_target(data, workdir):
    n = data.draw(st.integers(0, 199))
    text = f"n: {n}\n"

    def check():
        if n % 10 == 7:
            raise ValueError(f"seven is not allowed (got {n})")
        return "ok"
    return Case(text, check, label=f"n={n}")


def test_a_failure_is_recorded_with_its_input_and_the_run_goes_on(tmp_path):
    args = argparse.Namespace(chunk=60, seed=1, deadline=0, timeout=10, mem_report_mb=10**6)
    totals = empty_totals(1)
    _run_target("flaky", _flaky_target, args, tmp_path, tmp_path, totals)
    outcomes = totals["outcomes"]["flaky"]
    assert totals["examples"]["flaky"] == sum(outcomes.values()) >= 60
    failures = totals["failures"]
    assert outcomes.get("FAILED", 0) == len(failures) > 0, "60 draws of 0..199 include a 7, 17, ..."
    first = failures[0]
    n = int(open(first["input"]).read().split()[1])
    assert n % 10 == 7
    assert first["kind"] == f"ValueError: seven is not allowed (got {n})"
    assert first["signature"] == "ValueError: seven is not allowed (got N)"
    detail = open(first["input"].replace(".yaml", ".txt")).read()
    assert f"from: n={n}" in detail and "Traceback" in detail
    summary = write_summary(tmp_path, totals)
    assert json.loads((tmp_path / "summary.json").read_text())["total_examples"] == \
        summary["total_examples"]
    assert f"{len(failures)} failures, 1 distinct" in format_summary(summary)


def test_signatures_ignore_numbers_and_quoted_names():
    assert signature("KeyError: 'a.b3' at 12") == signature("KeyError: 'zz' at 7")


def test_the_example_limit_counts_cpu_time_not_waiting():
    import time

    from .worker import ExampleTimeout, alarm

    with alarm(0.3):
        time.sleep(0.6)  # waiting for a core (or sleeping) is not running
    with pytest.raises(ExampleTimeout, match="still running after 0.3 s of CPU time"):
        with alarm(0.3):
            while True:
                pass
