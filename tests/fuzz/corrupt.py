"""Targets for the files a training run leaves: checkpoints and run directories.

Each worker trains one tiny run once (`pristine_run`); every example copies it,
damages one file, and runs `linkc evaluate` or `linkc train --resume` on it in
this process. The oracle is the command line's: exit 0 or 2 with a message,
never exit 1 or a traceback (`oracles.cli_outcome`).

Checkpoint damage: truncation, flipped bits, and files re-written with one tensor
of the wrong shape or dtype, a tensor missing or added, or the JSON state edited,
with the stored digest either kept (a corrupt file) or recomputed (a file that is
well-formed but wrong, as another tool or version might write). Run-directory
damage: the config, spec or metrics files edited, truncated or replaced.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

from .mutate import ODD_VALUES, mutate, text_mutation
from .oracles import Case, cli_outcome, run_cli

SPEC = """linkc: 1
name: tiny
input: [1, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu]}
  head: {from: a, ops: [gap, {linear: 10}]}
output: head
"""
FLAGS = ["--epochs", "1", "--data", "synthetic", "--synthetic-size", "16", "--batch-size", "8",
         "--no-tensorboard", "--checkpoint-every", "1"]
_PRISTINE: dict[Path, Path] = {}


def pristine_run(workdir: Path) -> Path:
    """A finished one-epoch run of SPEC (made once per worker)."""
    if workdir not in _PRISTINE:
        run = workdir / "pristine"
        shutil.rmtree(run, ignore_errors=True)
        (workdir / "tiny.yaml").write_text(SPEC)
        code, _, err = run_cli(["train", str(workdir / "tiny.yaml"), *FLAGS, "--run-dir",
                                str(run)])
        if code != 0:
            raise RuntimeError(f"the pristine run failed: {err}")
        _PRISTINE[workdir] = run
    return _PRISTINE[workdir]


def _fresh_copy(workdir: Path) -> Path:
    pristine = pristine_run(workdir)
    run = workdir / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(pristine, run)
    config = run / "config.yaml"  # resuming with it must write here, not into the original
    config.write_text(config.read_text().replace(str(pristine), str(run)))
    return run


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    from linkc.train.checkpoint import _digest as digest

    return digest(tensors)


def _rewrite(path: Path, data) -> None:
    """Re-save `path` with one tensor or the JSON state changed."""
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    names = sorted(tensors)
    name = data.draw(st.sampled_from(names))
    kind = data.draw(st.sampled_from(["shape", "dtype", "drop", "add", "scalar", "state"]))
    t = tensors[name]
    if kind == "shape":
        tensors[name] = torch.zeros(data.draw(st.lists(st.integers(0, 5), max_size=3)),
                                    dtype=t.dtype)
    elif kind == "dtype":
        dtype = data.draw(st.sampled_from([torch.float64, torch.float16, torch.bfloat16,
                                           torch.int64, torch.int32, torch.uint8, torch.bool]))
        tensors[name] = t.to(dtype)
    elif kind == "drop" and len(tensors) > 1:
        del tensors[name]
    elif kind == "add":
        tensors[data.draw(st.sampled_from([f"{name}x", "model.zz", "optimizer.99.x",
                                           "rng.cuda.0", "optimizer.x.y", "other"]))] = t.clone()
    elif kind == "scalar":
        value = data.draw(st.sampled_from([float("nan"), float("inf"), 0.0, 1e30]))
        tensors[name] = torch.tensor(value if t.is_floating_point() else 1, dtype=t.dtype)
    elif "linkc_checkpoint" in metadata:
        metadata["linkc_checkpoint"] = _edit_json(metadata["linkc_checkpoint"], data)
    if "linkc_checkpoint" in metadata and data.draw(st.booleans()):  # forge the digest
        doc = json.loads(metadata["linkc_checkpoint"]) if _is_json(metadata) else None
        if isinstance(doc, dict):
            doc["sha256"] = _digest(tensors)
            metadata["linkc_checkpoint"] = json.dumps(doc)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)


def _is_json(metadata: dict) -> bool:
    try:
        json.loads(metadata["linkc_checkpoint"])
        return True
    except ValueError:
        return False


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _edit_json(text: str, data) -> str:
    """Delete a key or give a value the wrong type, somewhere in the JSON document."""
    doc = json.loads(text)
    paths = [p for p in _paths(doc) if p]
    if not paths or data.draw(st.integers(0, 9)) == 0:
        return text_mutation(text, data)
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        value = data.draw(st.sampled_from(ODD_VALUES))
        parent[path[-1]] = value if value == value else None  # JSON has no NaN
    return json.dumps(doc)


def _damage_bytes(path: Path, data) -> None:
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    path.write_bytes(bytes(raw))


def checkpoint(data, workdir: Path) -> Case:
    run = _fresh_copy(workdir)
    name = data.draw(st.sampled_from(["last.safetensors", "best.safetensors",
                                      "weights.safetensors"]))
    path = run / name
    if data.draw(st.integers(0, 2)) == 0:
        _damage_bytes(path, data)
    else:
        _rewrite(path, data)
    spec = str(run / "spec.yaml")
    if name == "weights.safetensors" or data.draw(st.booleans()):
        argv = ["evaluate", spec, "--weights", str(path), "--data", "synthetic"]
    else:
        argv = ["train", spec, *FLAGS, "--resume", str(path)]
    return Case(path.read_bytes(), lambda: cli_outcome(argv), " ".join(argv), ".safetensors")


RUN_FILES = ["config.yaml", "spec.yaml", "steps.jsonl", "epochs.jsonl", "data.json",
             "last.safetensors"]


def rundir(data, workdir: Path) -> Case:
    """A run directory with one file damaged, resumed with its own config and spec."""
    run = _fresh_copy(workdir)
    name = data.draw(st.sampled_from(RUN_FILES))
    path = run / name
    how = data.draw(st.sampled_from(["mutate", "truncate", "junk", "delete", "folder"]))
    if how == "mutate" and name != "last.safetensors":
        path.write_text(mutate(path.read_text(), data))
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[:data.draw(st.integers(0, path.stat().st_size))])
    elif how == "junk":
        path.write_bytes(data.draw(st.sampled_from([b"", b"\x00\xff", b"[1, 2]\n", b"7\n",
                                                    b"null\n", b"{}\n", b"\"x\"\n"])))
    elif how == "delete":
        path.unlink()
    else:
        path.unlink()
        path.mkdir()
    argv = ["train", str(run / "spec.yaml"), "--config", str(run / "config.yaml"),
            "--resume", str(run)]
    if data.draw(st.booleans()):
        argv += ["--plot"]
    payload = path.read_bytes() if path.is_file() else b"(missing or a folder)"
    return Case(payload, lambda: cli_outcome(argv), f"{name} ({how}): {' '.join(argv)}",
                ".txt")
