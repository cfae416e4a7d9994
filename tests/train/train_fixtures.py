"""Tiny specs and subprocess settings shared by the runtime tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# A conv net with BatchNorm and dropout: exercises BN buffers and the dropout RNG.
SMALL_SPEC = """\
linkc: 1
name: small
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: a, ops: [{conv: [8, 3]}, bn, relu]}
  s: {from: [a, b], merge: add, ops: [{maxpool: 2}]}
  head: {from: s, ops: [gap, {dropout: 0.1}, {linear: 10}]}
output: head
"""

# No BatchNorm, no dropout: a distributed run can equal a single-process one.
PLAIN_SPEC = """\
linkc: 1
name: plain
input: [1, 8, 8]
nodes:
  a: {from: input, ops: [{conv: {out: 8, k: 3, bias: true}}, relu]}
  head: {from: a, ops: [gap, {linear: 10}]}
output: head
"""


def subprocess_env() -> dict[str, str]:
    """Environment for `python -m linkc` children: one thread, this checkout importable."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("LINKC_DEBUG", None)
    return env


PYTHON = sys.executable
