"""The checks after every pass.

1. `check_graph_module` (always): fx lint, then shapes re-inferred by running the
   graph once on a small real batch (far faster than fake tensors for these graphs)
   and compared with the shapes recorded at lowering. A failure names the fx node it
   is about (`NodeError`), so that `run_passes` can report it at the node's spec
   position. Nodes are checked in graph order and the first wrong one is reported:
   its inputs still had their inferred shapes, so it is the node that computed the
   wrong one.
2. `probe_values` before a pass and `check_values` after it (`linkc compile --verify`,
   LINKC_VERIFY_PASSES=1): the module before and after runs on one random batch, in
   the pipeline's mode, and the outputs, and in training the gradients of the input
   and of every parameter the pass kept, must be what the pass's row promises
   (passes.table): equal (torch.equal) for an exact pass, in the module's own
   precision (its gradients up to the order autograd sums a tensor's readers'
   contributions in: SUM_ORDER_ULPS); within the row's relative error in float64 for a
   pass that only rounds differently. A difference is reported at the first flat-graph
   node whose value changed (`ValuesChanged`), found by running both graphs node by
   node.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from math import prod

import torch
from torch import fx

from .fxutil import NodeError, describe_node, node_op
from .signature import as_tuple, example_inputs

_LINT_NODE = re.compile(r"Node '?([A-Za-z_][\w.]*)'?")


def check_graph_module(gm: fx.GraphModule) -> None:
    _lint(gm.graph)
    gm.recompile()
    param = next(gm.parameters(), None)
    xs = example_inputs(gm, 1, torch.zeros, device=param.device if param is not None else "cpu")
    was_training = gm.training
    gm.eval()  # eval: BatchNorm must not update running statistics here
    try:
        with torch.no_grad():
            _ShapeCheck(gm).run(*xs)
    finally:
        gm.train(was_training)


def _lint(graph: fx.Graph) -> None:
    try:
        graph.lint()
    except Exception as exc:  # fx names the node in its text (and appends the whole graph)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        found = _LINT_NODE.search(first)
        nodes = {n.name: n for n in graph.nodes}
        node = nodes.get(found.group(1)) if found else None
        if node is None:
            raise
        raise NodeError(node, f"the graph does not lint: {first}") from exc


class _ShapeCheck(fx.Interpreter):
    """Runs the graph and stops at the first node that fails or whose per-sample
    shape is not the one inferred."""

    def run_node(self, n: fx.Node):
        try:
            result = super().run_node(n)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it happened at n
            raise NodeError(n, f"{describe_node(n)} fails when run: "
                               f"{type(exc).__name__}: {_first_line(exc)}") from exc
        meta = n.meta.get("linkc")
        if meta is not None and isinstance(result, torch.Tensor):
            got = tuple(result.shape[1:])
            if got != tuple(meta["shape"]):
                raise NodeError(n, f"{describe_node(n)} has shape {list(got)}, but "
                                   f"{list(meta['shape'])} was inferred")
        return result


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


# --- the value check -------------------------------------------------------------

PROBE_BATCH = 2  # BatchNorm in training needs more than one value per channel
# In training an op with batch statistics normalises each channel over the batch and
# its positions; with 2 values the float64 result is rounding amplified without bound
# (a BN over 1x1 maps passed the 1e-9 bound), so the probe batch gives it at least this
BATCH_VALUES = 8
_SEED = 20261207


class ValuesChanged(Exception):
    """The module after a pass computes other values than before; `node` is the first
    node (in graph order) whose value changed, or None when none could be named."""

    def __init__(self, node: fx.Node | None, message: str):
        super().__init__(message)
        self.node = node
        self.message = message


@dataclass
class Probe:
    """The module before a pass, what it computed, and how to run it again."""

    module: fx.GraphModule  # a copy: running it leaves the pipeline's module as it was
    mode: str
    bound: float | None  # None: bit-identical; else the float64 relative error allowed
    inputs: tuple
    outputs: tuple
    grads: dict[str, torch.Tensor | None]  # "input N" or the parameter's name before
    params: dict[str, torch.nn.Parameter] = field(default_factory=dict)  # the originals
    # for a rounding-only pass: an unrun float64 copy of the module before, for the pass
    # to rewrite once more (its rewrite of the module itself rounds new weights in fp32)
    twin: fx.GraphModule | None = None


def probe_values(gm: fx.GraphModule, mode: str, bound: float | None) -> Probe:
    """Run (a copy of) gm on one random batch, in `mode` and in the precision the
    check uses, before a pass changes it."""
    module = _copy(gm, bound)
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    gen = torch.Generator(device=device).manual_seed(_SEED)
    dtype = torch.float64 if bound is not None else (param.dtype if param is not None
                                                      else torch.float32)
    inputs = example_inputs(module, _probe_batch(gm, mode), torch.randn, generator=gen,
                            device=device, dtype=dtype)
    twin = _copy(gm, bound) if bound is not None else None
    outputs, grads = _run(module, inputs, mode, dict(module.named_parameters()))
    # the parameters themselves, held so that their ids stay theirs while the pass runs
    params = dict((twin if twin is not None else gm).named_parameters())
    return Probe(module, mode, bound, inputs, outputs, grads, params, twin)


def _probe_batch(gm: fx.GraphModule, mode: str) -> int:
    """PROBE_BATCH, or in training enough samples that every op with batch statistics
    sees BATCH_VALUES values per channel."""
    if mode != "train":
        return PROBE_BATCH
    positions = [prod(n.args[0].meta["linkc"]["shape"][1:]) for n in gm.graph.nodes
                 if (op := node_op(n)) is not None and "batch" in op.traits
                 and n.args and isinstance(n.args[0], fx.Node) and "linkc" in n.args[0].meta]
    return max([PROBE_BATCH] + [-(-BATCH_VALUES // max(p, 1)) for p in positions])


def check_values(before: Probe, gm: fx.GraphModule) -> None:
    """Raise ValuesChanged unless gm, the module after the pass (for a rounding-only
    pass: the pass's rewrite of `before.twin`), computes what `before` recorded, as its
    row promises."""
    module = _copy(gm, before.bound)
    # a parameter the pass kept (the same tensor, perhaps under another name)
    name_before = {id(p): name for name, p in before.params.items()}
    kept, name_after = {}, {}
    for (after, p), (_, original) in zip(module.named_parameters(), gm.named_parameters()):
        name = name_before.get(id(original))
        if name is not None:
            kept[name], name_after[name] = p, after
    outputs, grads = _run(module, before.inputs, before.mode, kept)
    for i, (a, b) in enumerate(zip(outputs, before.outputs)):
        worse = _difference(a, b, before.bound, [b])
        if worse:
            raise _located(before, module, f"output {i} {worse}")
    scale = [g for g in before.grads.values() if g is not None]
    for name, got in grads.items():
        worse = _difference(got, before.grads[name], before.bound, scale, summed=True)
        if worse:
            node = _node_of(module, name_after.get(name, ""))
            if node is None:
                raise _located(before, module, f"the gradient of {name} {worse}")
            raise ValuesChanged(node, f"the gradient of {name} {worse}")


def _copy(gm: fx.GraphModule, bound: float | None) -> fx.GraphModule:
    module = copy.deepcopy(gm)
    return module.double() if bound is not None else module


def _run(module, inputs, mode: str, params: dict) -> tuple[tuple, dict]:
    """(outputs, gradients) of one seeded step: in training the gradients of a fixed
    random weighting of the outputs w.r.t. the inputs and `params` (name -> tensor)."""
    training = mode == "train"
    train_mode(module, training)
    xs = [x.clone().requires_grad_(training) for x in inputs]
    with torch.random.fork_rng(devices=_cuda(inputs)), torch.set_grad_enabled(training):
        torch.manual_seed(_SEED)
        outputs = as_tuple(module(*xs))
    if not training:
        return tuple(o.detach() for o in outputs), {}
    gen = torch.Generator(device=outputs[0].device).manual_seed(_SEED + 1)
    loss = sum((o * torch.randn(o.shape, generator=gen, device=o.device, dtype=o.dtype)).sum()
               for o in outputs)
    loss.backward()
    grads = {f"input {i}": x.grad for i, x in enumerate(xs)}
    grads.update({name: p.grad for name, p in params.items()})
    return tuple(o.detach() for o in outputs), grads


def train_mode(module: fx.GraphModule, training: bool) -> None:
    """module.train(training), except that the ops whose row says they are `random`
    (dropout, drop_path) run as in eval: a pass may have them draw in another order or
    memory layout (a channels_last mask), the same distribution, other samples."""
    module.train(training)
    for n in module.graph.nodes:
        op = node_op(n)
        if training and op is not None and "random" in op.traits and n.op == "call_module":
            module.get_submodule(n.target).eval()


def _cuda(inputs) -> list:
    return [x.device for x in inputs if x.device.type == "cuda"][:1]


# An exact pass's gradients are equal but for the order of one kind of sum: the gradient
# of a tensor several nodes read is the sum of what each reader sends back, and autograd
# adds those in the order its ready queue gives, which follows the nodes of the graph. A
# pass that removes a node (merge_chains splicing a concatenation) may reorder that sum:
# about 1 ulp of the gradient's largest element where they differ. Up to this many ulps
# of it are that; a rewrite that changes meaning is off by the gradient's own size.
SUM_ORDER_ULPS = 16


def _difference(got, expected, bound: float | None, scale: list,
                summed: bool = False) -> str | None:
    """How `got` differs from `expected` beyond what is allowed, or None. `summed`: a
    gradient, whose sums over several readers an exact pass may reorder."""
    if got is None or expected is None:
        return None if got is None and expected is None else "is missing on one side"
    if got.shape != expected.shape:
        return f"has shape {list(got.shape)} instead of {list(expected.shape)}"
    if bound is None:
        if _equal(got, expected):
            return None
        diff = (got.double() - expected.double()).abs().nan_to_num(posinf=float("inf"))
        if summed and got.is_floating_point() and torch.equal(got.isnan(), expected.isnan()):
            finite = expected[expected.isfinite()]
            ulp = torch.finfo(got.dtype).eps * float(finite.abs().max() if finite.numel()
                                                     else 0)
            if float(diff.max()) <= SUM_ORDER_ULPS * ulp:
                return None
        return f"differs by up to {diff.max():.3g}"
    if not torch.equal(got.isfinite(), expected.isfinite()):
        return "is not finite where it was (or the other way round)"
    finite = expected.isfinite()
    diff = (got[finite] - expected[finite]).norm()
    # a gradient that cancels to ~0 in real arithmetic (a bias before a training-mode BN,
    # a BN before another) is rounding noise of the size of the others: it is judged
    # against 1e-3 of the largest gradient; a real change is of order 1 of its own size
    norm = max(expected[finite].norm(), 1e-3 * max((s[s.isfinite()].norm() for s in scale),
                                                   default=0), 1e-300)
    error = float(diff / norm)
    return None if error <= bound else f"is {error:.3g} off (relative), up to " \
        f"{(got[finite] - expected[finite]).abs().max():.3g}"


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit, NaN where NaN."""
    if torch.equal(a, b):
        return True
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


def _located(before: Probe, after: fx.GraphModule, what: str) -> ValuesChanged:
    """ValuesChanged at the first flat-graph node whose value differs between the
    modules before and after the pass (both run once more, node by node), and within
    it at the first of its fx nodes whose value differs (a conv a BN was folded into
    differs as it should only where the node's value stays right)."""
    old = _Recorder(before.module).record(before.inputs, before.mode)
    new = _Recorder(after).record(before.inputs, before.mode)
    for node_id, value in old.leaving.items():
        got = new.leaving.get(node_id)
        if got is None or not _difference(got, value, before.bound, [value]):
            continue
        inside = [n for key, n in new.nodes.items() if key[0] == node_id and key in old.values
                  and _difference(new.values[key], old.values[key], before.bound, [value])]
        node = inside[0] if inside else new.last[node_id]
        return ValuesChanged(node, f"{what}; the first value that changed is "
                                   f"{describe_node(node)}'s")
    return ValuesChanged(_output_node(after), what)


class _Recorder(fx.Interpreter):
    """Runs a graph and keeps the value of each fx node that computes part of a spec
    node, by (spec node, what it computes), and the value leaving each spec node."""

    def __init__(self, module):
        super().__init__(module)
        self.values: dict[tuple, torch.Tensor] = {}
        self.nodes: dict[tuple, fx.Node] = {}  # in graph order
        self.leaving: dict[str, torch.Tensor] = {}  # in the order spec nodes end
        self.last: dict[str, fx.Node] = {}

    def record(self, inputs, mode: str) -> "_Recorder":
        train_mode(self.module, mode == "train")
        with torch.random.fork_rng(devices=_cuda(inputs)), torch.no_grad():
            torch.manual_seed(_SEED)
            self.run(*inputs)
        return self

    def run_node(self, n: fx.Node):
        result = super().run_node(n)
        meta = n.meta.get("linkc")
        if meta is not None and meta.get("loc") is not None and isinstance(result, torch.Tensor):
            key = (meta["id"], meta.get("what"))
            self.values[key], self.nodes[key] = result.detach(), n
            self.leaving.pop(meta["id"], None)  # a spec node's value is its latest
            self.leaving[meta["id"]], self.last[meta["id"]] = result.detach(), n
        return result


def _node_of(module: fx.GraphModule, param_name: str) -> fx.Node | None:
    """The fx node calling the module that holds parameter `param_name`."""
    path = param_name.rpartition(".")[0]
    return next((n for n in module.graph.nodes if n.op == "call_module"
                 and (n.target == path or path.startswith(f"{n.target}."))), None)


def _output_node(module: fx.GraphModule) -> fx.Node | None:
    """The node whose value is the (first) output."""
    out = next(n for n in module.graph.nodes if n.op == "output").args[0]
    first = as_tuple(out)[0]
    return first if isinstance(first, fx.Node) else None
