"""Interleaved A/B of compile configurations against the bench's expert, one spec, one mode.

    python benchmarks/compile_config_ab.py SPEC infer|train ROUNDS [VARIANT ...]

Variants (all at batch 32, 2 threads, fp32):
  expert         the hand-written module (linkc's own module without passes when the spec
                 has none), channels_last + torch.compile defaults: the bench's (2)
  expert_nchw    the same without channels_last
  linkc          linkc's default passes + linkc's compile stage: the bench's (5)
  linkc_cpp      the same with inductor's C++ wrapper (no Python between kernels)
  linkc_wide_cat the same with inductor fusing concatenations of up to 128 inputs into
                 their readers (max_pointwise_cat_inputs; 8 by default)
  linkc_nchw     linkc's default passes without channels_last + compile stage
  linkc_unfrozen linkc's default passes + torch.compile without freezing (inference: what
                 the compile stage ran before it held inductor's freezing setting itself)
  linkc+P        linkc's default passes and pass P (in the compiler's order) + compile stage
  linkc-P        linkc's default passes without pass P + compile stage (both combine:
                 linkc-merge_nary+dense_chain)
  onnxruntime    linkc's ONNX export in ONNX Runtime (inference only)

Each round times every variant once; ratios are per round against the expert.
"""
import os
import re
import statistics
import sys
import time

import torch

import linkc
from linkc.bench import train_step
from linkc.bench.refs import load_references, match_reference, reference_factory
from linkc.bench.timing import SETTLE, infer_call, interleaved
from linkc.bench.variants import onnx_call
from linkc.compiler.passes import default_passes, expand, in_run_order
from linkc.compiler.emit.torch_compile import compile_module

ALL = ("expert", "expert_nchw", "linkc", "linkc_cpp", "linkc_nchw", "onnxruntime")
INDUCTOR_OPTIONS = {"linkc_cpp": {"cpp_wrapper": True},
                    "linkc_wide_cat": {"max_pointwise_cat_inputs": 128}}


def hand_written(spec):
    name = linkc.build(spec).name
    ref = match_reference(name, load_references().REFERENCES)
    if ref is None:
        return lambda: linkc.compile(spec, passes=[], mode="train")
    return reference_factory(ref)


def chosen_passes(name, defaults):
    if name == "linkc_nchw":
        return [p for p in defaults if p != "channels_last"]
    chosen = set(defaults)
    for sign, pass_name in re.findall(r"([+-])(\w+)", name[len("linkc"):]):
        for half in expand([pass_name]):  # a pair name (merge_nary) adds or drops both halves
            (chosen.add if sign == "+" else chosen.discard)(half)
    return in_run_order(chosen)


def call_for(mode, module, x, y):
    if mode == "infer":
        return infer_call(module.eval(), x)
    return train_step(module.train(), x, y)


def build(spec, mode, names):
    torch.set_num_threads(2)
    graph = linkc.build(spec)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, *graph.input_shape, generator=gen)
    y = torch.randint(0, graph.nodes[graph.output].shape[0], (32,), generator=gen)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    make = hand_written(spec)
    passes = default_passes(mode)
    calls = {}
    for name in names:
        torch.manual_seed(0)
        if name == "expert":
            m = torch.compile(make().to(memory_format=torch.channels_last), dynamic=False)
            calls[name] = call_for(mode, m, x_cl, y)
        elif name == "expert_nchw":
            calls[name] = call_for(mode, torch.compile(make(), dynamic=False), x, y)
        elif name.startswith("linkc"):
            chosen = chosen_passes(name, passes)
            gm = linkc.compile(spec, passes=chosen, mode=mode)
            gm.train(mode == "train")
            stage = "train" if name == "linkc_unfrozen" else mode
            options = INDUCTOR_OPTIONS.get(name)
            compiled = compile_module(gm, stage, **({"options": options} if options else {}))
            calls[name] = call_for(mode, compiled, x, y)
        elif name == "onnxruntime":
            calls[name] = onnx_call(spec, passes, {"params": {}, "include_path": []}, x)
        start = time.perf_counter()
        calls[name]()
        calls[name]()
        print(f"{name}: first two calls {time.perf_counter() - start:.1f} s", flush=True)
    return calls


def main():
    spec, mode, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = sys.argv[4:] or [n for n in ALL if mode == "infer" or n != "onnxruntime"]
    calls = build(spec, mode, names)
    # idle seconds before each timed call (default: the bench's)
    settle = float(os.environ.get("SETTLE", SETTLE))
    times = interleaved(calls, rounds, torch.device("cpu"), settle)
    bases = [names[0]] + (["onnxruntime"] if "onnxruntime" in names[1:] else [])
    for k, t in times.items():
        line = f"{k}: median {statistics.median(t) * 1000:.1f} ms"
        for base in bases:
            ratios = [b / v for b, v in zip(times[base], t)]
            line += (f", x {base} {statistics.median(ratios):.3f} "
                     f"({min(ratios):.3f}-{max(ratios):.3f})")
        print(line)


if __name__ == "__main__":
    main()
