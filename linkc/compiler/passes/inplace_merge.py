"""inplace_merge: a sum-like merge writes its result into an input nothing else reads.

Merge-and-run (DMRNet) adds the mean of its two streams to each branch's output,
and a residual block adds its branch's output to the shortcut: each branch output is
a temporary that the merge alone reads. The lowered merge allocates a new tensor for
the sum all the same. This pass calls the merge's in-place form instead (its
registry entry's `inplace_lowering`, e.g. `functional.add_into`), which writes the
sum into that input's storage, when the input

- is the output of a call_module whose op is `fresh` (a new tensor on every call:
  conv, bn, relu, ...; not a placeholder, parameter or buffer, not a view or alias
  such as a channel slice, a dense-buffer view, or dropout, which returns its input),
- has the merge as its only reader, once among its inputs,
- has the merge's shape (no broadcasting, and for the padded forms the full width),
- and is the merge's first or second input.

Exact: the in-place functions run the same floating-point operations in the same
order as the out-of-place ones; writing into the second input swaps only the
operands of the first addition (IEEE addition is commutative, a - b == (-b) + a),
mean scales by the same multiply. At run time they fall back to the out-of-place
function where the result could differ in layout or autograd needs the tensor
(inputs of other strides or dtypes, a graph being recorded), and under
torch.compile, whose inductor plans buffers itself (no graph breaks). Outputs are
bit-identical (tests/compiler/passes/test_inplace_merge.py).

Inference only: in training autograd may have saved the input (a ReLU saves its
output) and an in-place write would break backward. What it saves is one allocation
and one write of fresh memory per merge, which is little next to the convolutions,
and on the CPU the allocator's behaviour decides the sign: with glibc's default
malloc, which hands freed memory back to the kernel and faults it in again, it
changes where that happens. Interleaved A/B, eager, batch 32, 2 threads (loaded
2-core machine, benchmarks/RESULTS.md): DMRNet-56 1.02x (page faults per call 33k ->
31k), ResNet-110 0.95x (25k -> 29k). So it is not on by default; where the A/B says it
pays, name it after the defaults (`--passes` with the `--list-passes` defaults, then
`inplace_merge`). It runs last in the table (passes.table): it decides on each tensor's final readers,
which a later rewrite could change.
"""

from __future__ import annotations

from torch import fx

from ..fxutil import node_merge, node_op, node_shape
from ..lower import resolve_target


def inplace_merge(gm: fx.GraphModule) -> fx.GraphModule:
    """Inference: add/mean/wsum write into an input temporary that only they read."""
    for node in gm.graph.nodes:
        inplace = _inplace_form(node)
        if inplace is None:
            continue
        into = next((i for i in (0, 1) if _overwritable(node, i)), None)
        if into is not None:
            node.target = inplace
            node.kwargs = {**node.kwargs, "into": into}
    gm.recompile()
    return gm


def _inplace_form(node: fx.Node):
    """The in-place function for a merge node that calls a plain lowering having one."""
    merge = node_merge(node)
    if merge is None or node.op != "call_function" or len(node.args) < 2:
        return None
    for plain, inplace in merge.inplace_forms():
        if node.target is resolve_target(plain.target):
            return resolve_target(inplace.target)
    return None


def _overwritable(node: fx.Node, i: int) -> bool:
    """Whether node's input i is a fresh temporary of node's shape that only node reads."""
    x = node.args[i]
    if not isinstance(x, fx.Node) or x.op != "call_module":
        return False
    op = node_op(x)
    return (op is not None and "fresh" in op.traits and list(x.users) == [node]
            and sum(a is x for a in node.args) == 1 and node_shape(x) == node_shape(node))
