"""Names for clusters: which block a cluster instantiates and how often it repeats.

The flat graph knows every node's enclosing clusters from its id (`d1.3.h` sits
in `d1` and `d1.3`), but not the block names, so these are read back from the
spec: `d1` is the top-level node `d1`, `d1.3` instance 3 of its repeat, and a
name inside an instance is looked up among its block's nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..expand.flat_graph import FlatGraph
from ..errors import Loc
from ..spec.load import Document, load, locate
from ..spec.schema import NodeSpec, Spec, parse_spec


@dataclass
class ClusterInfo:
    spec: Spec
    repeats: dict[str, int]  # repeat cluster -> instance count
    dense: dict[str, str]  # dense repeat -> the glyph of its merge

    doc: Document | None = None  # the located YAML, for `loc`

    def _walk(self, cid: str) -> tuple[NodeSpec | None, tuple]:
        """The spec node of a cluster and the YAML path where it is written
        (('nodes', 'd1'), or ('blocks', 'stage', 'nodes', 'b') inside a block)."""
        nodes, current, prefix, path = self.spec.nodes, None, ("nodes",), ()
        for part in cid.split("."):
            if current is not None and current.repeat is not None and part.isdigit():
                current = _Instance(current)
                continue
            if current is not None:
                block = self.spec.blocks.get(current.block or "")
                if block is None:
                    return None, ()
                nodes, prefix = block.nodes, ("blocks", current.block, "nodes")
            current = nodes.get(part)
            if current is None:
                return None, ()
            path = (*prefix, part)
        return current, path

    def node_spec(self, cid: str) -> NodeSpec | None:
        """The spec node a cluster comes from (for an instance: its repeat's node)."""
        return self._walk(cid)[0]

    def loc(self, cid: str) -> Loc | None:
        """Where the cluster's spec node is written (its key)."""
        node, path = self._walk(cid)
        return locate(self.doc.root, path, key=True) if node and self.doc else None

    def label(self, cid: str) -> str:
        """'d1: layer × 16, dense ‖', 'd1.3: layer', 't1: transition'."""
        node = self.node_spec(cid)
        what = ", ".join(self.summary(cid))
        if isinstance(node, _Instance):
            return f"{cid}: {node.node.block}" if node.node.block else cid
        return f"{cid}: {what}" if what else cid

    def summary(self, cid: str) -> list[str]:
        node = self.node_spec(cid)
        if isinstance(node, _Instance):
            return [node.node.block] if node.node.block else []
        if node is None:
            return []
        parts = []
        if node.block:
            parts.append(node.block)
        if cid in self.repeats:
            parts[-1:] = [f"{parts[-1] if parts else 'node'} × {self.repeats[cid]}"]
            parts.append(f"dense {self.dense[cid]}" if cid in self.dense else "chain")
        return [", ".join(parts)] if parts else []


@dataclass
class _Instance:
    node: NodeSpec

    @property
    def repeat(self):  # an instance is not itself repeated
        return None

    @property
    def block(self):
        return self.node.block


def cluster_info(g: FlatGraph) -> ClusterInfo:
    doc = load(g.source.text)
    spec = parse_spec(doc)
    children: dict[str, set[str]] = {}
    for n in g.order:
        parts = n.split(".")
        for k in range(1, len(parts)):
            if parts[k].isdigit():
                children.setdefault(".".join(parts[:k]), set()).add(parts[k])
    dense = {}
    for n in g.order:
        node = g.nodes[n]
        if node.kind == "dense":
            dense[n] = node.merge.glyph if node.merge else ""
    return ClusterInfo(spec, {c: len(v) for c, v in children.items()}, dense, doc)
