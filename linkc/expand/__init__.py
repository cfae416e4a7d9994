"""Document -> flat graph: blocks, repeats, connect patterns and recurrences expanded
into one graph of plain nodes, every reference resolved (shapes come next, in
`linkc.shapes`). Never imports torch.

    expander.py    the state of one expansion and the plain nodes (`Expander`)
    block.py       a `block:` node -> one instance with its own scope and ports
    repeat.py      a `repeat:` node -> its instances, chained or dense
    recurrence/    a `recurrence:` node (a recursion formula) -> plain nodes
    refs.py scope.py op_items.py word_params.py interface.py   what those read
    flat_graph.py  the flat graph they produce; as_text.py its readable views
"""

from __future__ import annotations

from ..spec.load import Document
from ..spec.schema import Spec
from .block import instantiate
from .expander import ExpandLimits, Expander, NodeBuilders
from .flat_graph import FlatGraph
from .interface import check_loss_weights, model_inputs, model_outputs
from .refs import resolve_pending
from .repeat import build_repeat

__all__ = ["ExpandLimits", "expand"]


def _build_recurrence(*args):
    # imported on first use: only specs with a recurrence node pay for loading it
    from .recurrence.build import build_recurrence

    return build_recurrence(*args)


NODE_BUILDERS = NodeBuilders(block=instantiate, repeat=build_repeat,
                             recurrence=_build_recurrence)


def expand(spec: Spec, doc: Document, limits: ExpandLimits = ExpandLimits()) -> FlatGraph:
    """Checked spec -> flat graph with unresolved shapes (see `infer_shapes`)."""
    ex = Expander(spec, doc, limits, NODE_BUILDERS)
    inputs, input_locs = model_inputs(spec, doc, ex.check_name)
    top = ex.top_scope()
    top.inputs = tuple(inputs)
    ex.build_scope(top, spec.nodes, ("nodes",))
    for name, block in spec.blocks.items():
        ex.check_name(name, ex.loc(("blocks", name), key=True), "block")
    resolve_pending(ex.pending, ex.nodes)
    outputs, output_names, output_locs = model_outputs(spec, doc, top)
    check_loss_weights(spec, doc, output_names)
    return FlatGraph(spec.name, doc.source, inputs, ex.nodes, outputs, output_names, output_locs,
                     dict(top.values), scope=top, train=spec.train, paper=spec.paper,
                     input_locs=input_locs, recurrences=ex.recurrences)
