"""Compiling many models in one process does not keep every generated source alive:
fx's linecache entries and its loader's cache hold only the live modules' forwards."""

from __future__ import annotations

import gc
import linecache
import traceback

import torch
import torch.fx.graph_module as fx_graph_module

import linkc
from linkc.compiler import compile_graph
from linkc.frontend import build

SPEC = ("linkc: 1\nname: t\ninput: [2, 4, 4]\nnodes:\n"
        "  a: {from: input, ops: [{conv: [3, 3]}, bn, relu]}\n"
        "  b: {from: [a, input], merge: concat, ops: [gap, {linear: 2}]}\noutput: b\n")


def _entries() -> tuple[int, int]:
    gc.collect()
    return len(linecache.cache), len(fx_graph_module._loader.eval_cache)


def test_sources_of_collected_modules_are_released():
    linkc.compile(SPEC)
    before = _entries()
    for _ in range(30):
        linkc.compile(SPEC)
    g = build(SPEC)
    for _ in range(10):  # passes recompile; the replaced sources go at once
        compile_graph(g, ["drop_identity", "fold_bn"], mode="infer")
    assert _entries() == before


def test_a_live_module_keeps_its_source_for_tracebacks():
    gm = linkc.compile(SPEC)
    try:
        gm(torch.zeros(1, 3, 4, 4))  # wrong channel count: fails inside the generated forward
    except RuntimeError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
    generated = [f for f in frames if f.filename.startswith("<eval_with_key>")]
    assert generated and generated[0].line, "the generated forward's line is shown"
