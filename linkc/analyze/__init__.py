"""Parameters, multiply-accumulates, activation memory and path statistics of a spec.

Small modules, one question each: `params` (per node, per block, total),
`macs` (torch's FlopCounterMode on the lowered module), `memory` (from inferred
shapes), `paths` (dynamic programming over the topological order) and `zoo`
(the model zoo against the papers' figures).
"""

from __future__ import annotations

from ..expand.flat_graph import FlatGraph
from .memory import activation_memory
from .paths import PathStats, path_stats

__all__ = ["PathStats", "analyze", "path_stats"]


def analyze(g: FlatGraph, batch: int = 1) -> dict:
    """Everything `linkc analyze` reports, as plain data (JSON-ready)."""
    # torch only here: the memory budget (analyze.budget) is imported without it
    from .macs import count_macs
    from .params import block_params, lower_meta, node_params

    gm = lower_meta(g)
    per_node = node_params(g, gm)
    total_params = sum(p.numel() for p in gm.parameters())
    if sum(per_node.values()) != total_params:
        raise RuntimeError("parameters per node do not add up to the module's total")
    macs, macs_per_node = count_macs(g, gm)
    nodes = [{"id": n, "ops": [c.op.name for c in g.nodes[n].ops],
              "merge": (m.name if (m := g.nodes[n].effective_merge()) else None),
              "shape": list(g.nodes[n].shape), "params": per_node[n],
              "macs": macs_per_node[n]} for n in g.order]
    several = len(g.outputs) > 1
    return {
        "name": g.name,
        "input": list(g.input_shape),
        "output_shape": list(g.nodes[g.output].shape),
        **({"inputs": {k: list(v) for k, v in g.inputs.items()}} if len(g.inputs) > 1 else {}),
        **({"outputs": {name: list(g.nodes[o].shape) for name, o in
                        zip(g.output_names, g.outputs)}} if several else {}),
        "params": {"total": total_params, "blocks": block_params(g, per_node)},
        "macs": macs,
        "memory": activation_memory(g, batch),
        "paths": path_stats(g).as_dict(),  # to the main output
        **({"paths_by_output": {name: path_stats(g, o).as_dict() for name, o in
                                zip(g.output_names, g.outputs)}} if several else {}),
        "nodes": nodes,
    }
