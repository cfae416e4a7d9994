"""Which network a run trains: the record a checkpoint keeps of its expanded graph.

A run holds one network. Its checkpoints record every node of the expanded graph as
`linkc check --expand` writes it (inputs, merge, ops with their arguments, output
shape), the model's inputs and outputs, and the version of each plugin whose ops or
merges the graph uses, with a SHA-256 of all of it. `--resume` compares that record
with the graph built from the spec given now, before anything is loaded or written:
the same weights under the same names can belong to another network (`relu` changed
to `gelu`), and a run directory whose `model.py` and `spec.yaml` describe one network
while its weights were trained as another is worse than no run at all.

Checkpoints written before the record existed have none; they resume as before,
checked by their tensors' names and shapes alone.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from ..expand.as_text import expanded
from ..ops import BUILTIN, MERGES, OPS
from .checkpoint import CheckpointError

__all__ = ["NetworkMismatch", "check_same_network", "network_record"]


class NetworkMismatch(CheckpointError):
    """A checkpoint of another network than the spec given to --resume."""


def network_record(g) -> dict[str, Any]:
    """What a checkpoint keeps of the graph `g`: its nodes, interface, plugins and digest."""
    body = {"interface": g.interface(), "nodes": expanded(g)["nodes"],
            "plugins": _plugin_versions(g)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {"digest": hashlib.sha256(text.encode()).hexdigest(), **body}


def _plugin_versions(g) -> dict[str, str | None]:
    """Distribution -> installed version of each plugin the graph's ops and merges come
    from (None for entries registered outside an installed distribution)."""
    origins = set()
    for node in g.nodes.values():
        origins.update(OPS.origin(call.op.name) for call in node.ops)
        if node.merge is not None:
            origins.add(MERGES.origin(node.merge.name))
    versions = {}
    for origin in sorted(origins - {BUILTIN}, key=lambda o: o.name):
        try:
            versions[origin.name] = metadata.version(origin.name)
        except metadata.PackageNotFoundError:
            versions[origin.name] = None
    return versions


def check_same_network(saved: Any, g, checkpoint: Path, run_dir: Path) -> None:
    """NetworkMismatch unless the record `saved` (from a checkpoint; None when it
    predates records) describes the graph `g`, naming the first difference."""
    if saved is None:
        return
    current = network_record(g)
    if isinstance(saved, dict) and saved.get("digest") == current["digest"]:
        return
    difference = first_difference(saved, current) if isinstance(saved, dict) else \
        "the checkpoint's record of its network is not laid out as linkc writes it"
    raise NetworkMismatch(
        f"checkpoint '{checkpoint}' was trained as another network than spec '{g.name}': "
        f"{difference}. A run holds one network: train this spec in a new run directory "
        f"(leave out --resume, or give another --run-dir), or resume with the spec the run "
        f"was started with (its text is {run_dir / 'spec.yaml'}).")


def first_difference(saved: dict, current: dict) -> str:
    """The first way the network `saved` differs from `current`, in words."""
    old_io, new_io = saved.get("interface"), current["interface"]
    if old_io != new_io:
        return f"its inputs and outputs were {_flow(old_io)}, now {_flow(new_io)}"
    old, new = saved.get("nodes"), current["nodes"]
    if not isinstance(old, dict):
        return "the checkpoint's record of its nodes is not laid out as linkc writes it"
    for node_id, entry in old.items():
        if node_id not in new:
            return f"node '{node_id}' is gone"
        if entry != new[node_id]:
            return f"node '{node_id}': {_changed(entry, new[node_id])}"
    for node_id in new:
        if node_id not in old:
            return f"node '{node_id}' is new"
    old_plugins, new_plugins = saved.get("plugins") or {}, current["plugins"]
    for name in sorted({*old_plugins, *new_plugins}):
        before, now = old_plugins.get(name, "absent"), new_plugins.get(name, "absent")
        if before != now:
            return f"plugin '{name}' was version {before}, now {now}"
    return "its record differs from this spec's (edited by hand?)"


def _changed(old: Any, new: dict) -> str:
    """`ops [conv(8, 3), relu] in the checkpoint, [conv(8, 3), gelu] now` for the first
    field of a node that differs."""
    if not isinstance(old, dict):
        return "its record is not laid out as linkc writes it"
    for field in ("from", "merge", "pad", "ops", "shape"):
        if old.get(field) != new.get(field):
            return f"{field} {_flow(old.get(field))} in the checkpoint, {_flow(new.get(field))} now"
    return "its record differs"


def _flow(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)
