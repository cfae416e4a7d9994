"""The merge registry: how a node combines its inputs.

`add` (`+`), `concat` (`‖`, `||`, `cat`), `mean` (`avg`), `dwsum` (DelugeNet's
cross-layer depthwise sum), `wsum` (fixed signed weights from the references,
ResNet-s) and `mul` (gates). Each entry has a shape rule over all inputs, the
function or module that lowers it, and its glyph for diagrams.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from .registry import Inverse, Lowering, Registry, Shape, ShapeError


@dataclass(frozen=True)
class MergeInput:
    """One input of a merge, described for error messages."""

    shape: Shape
    label: str  # how the reference was written, e.g. "d1.3.h" or "stem[0:12]"
    origin: str  # where it was produced, e.g. "node at line 7" or "the model input"


@dataclass(frozen=True)
class MergeDef:
    name: str
    infer: Callable[[list[MergeInput], "MergeOptions"], Shape]
    lowering: Lowering
    glyph: str
    doc: str
    weighted: bool = False  # reads the `weight:` of its references
    pad_lowering: Lowering | None = None  # accepts `pad: zeros`, lowered by this when widths differ
    params: bool = False  # carries learnable parameters (lowered as a module)
    count_params: Callable[[list[Shape]], int] | None = None  # input shapes -> parameters
    # an empty input (a zero-width channel slice) adds nothing and is dropped; elsewhere
    # an empty slice is an error
    drops_empty: bool = False
    # merge(merge(a, b), c) == merge(a, b, c) exactly, and the lowering function takes
    # any number of inputs in order: merge_nary flattens chains, diagrams draw a
    # merge over a prefix of another's inputs as its first input
    associative: bool = False
    # the same function writing its result into its input `into` (0 or 1: an operand of
    # the first combination) instead of a new tensor, bit for bit equal to `lowering`'s
    # result and falling back to it where writing in place would not be: the
    # inplace_merge pass calls it when that input is a temporary nothing else reads
    inplace_lowering: Lowering | None = None
    pad_inplace_lowering: Lowering | None = None  # the same for `pad_lowering`
    # the torch functions and operators this merge is the inverse of (`linkc import`),
    # its own lowerings among them (a generated model.py imports back)
    imports: tuple[Inverse, ...] = ()
    # what a figure's legend calls it (default: the doc up to its first parenthesis)
    label: str = ""
    # the merge as a linear map: the coefficient of each of its n inputs, given the
    # references' weights (None: not linear in each input, e.g. a gate's product). The
    # derivative analysis of recurrences reads it.
    coefficients: Callable[[list[float]], list[Fraction]] | None = None
    # (glyph, name, label) of a weighted merge whose weights are all +-1 with a minus
    # among them, drawn so instead (ResNet-s's signed sum)
    signed: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.doc.split(" (")[0])
        if self.params != (self.count_params is not None):
            raise ValueError(f"merge '{self.name}': 'params' and a count_params rule go together")
        if self.associative and self.params:
            raise ValueError(f"merge '{self.name}': an associative merge lowers to a function "
                             "(a learnable merge cannot be flattened)")
        if self.params and (self.inplace_lowering or self.pad_inplace_lowering):
            raise ValueError(f"merge '{self.name}': an in-place form is a function (a learnable "
                             "merge lowers to a module)")
        if self.pad_inplace_lowering and not self.pad_lowering:
            raise ValueError(f"merge '{self.name}': a pad_inplace_lowering needs a pad_lowering")

    @property
    def padded(self) -> bool:
        return self.pad_lowering is not None

    def signature(self) -> str:
        inputs = "w1*x1, w2*x2, ..." if self.weighted else "x1, x2, ..."
        return f"{self.name}({inputs})" + (" [pad: zeros]" if self.padded else "")

    def glyph_for(self, weights: list[float]) -> tuple[str, str, str]:
        """(glyph, name, legend label) of this merge over inputs with these weights."""
        if self.signed and any(w < 0 for w in weights) and all(abs(w) == 1 for w in weights):
            return self.signed
        return self.glyph, self.name, self.label

    def inplace_forms(self) -> list[tuple[Lowering, Lowering]]:
        """(lowering, its in-place form) for each lowering of this merge that has one."""
        pairs = ((self.lowering, self.inplace_lowering),
                 (self.pad_lowering, self.pad_inplace_lowering))
        return [(plain, inplace) for plain, inplace in pairs
                if plain is not None and inplace is not None]

    def lowering_for(self, shapes: list[Shape], pad: str | None) -> Lowering:
        if pad == "zeros" and self.pad_lowering and len({s[0] for s in shapes}) > 1:
            return self.pad_lowering
        return self.lowering


@dataclass(frozen=True)
class MergeOptions:
    pad: str | None = None
    weights: tuple[float, ...] = ()


MERGES = Registry("merge")


def _describe(x: MergeInput) -> str:
    return f"'{x.label}' {list(x.shape)} ({x.origin})"


def _same_rank(inputs: list[MergeInput], merge: str) -> None:
    first = inputs[0]
    for x in inputs[1:]:
        if len(x.shape) != len(first.shape):
            raise ShapeError(f"{merge} of a feature map and a vector: {_describe(first)} "
                             f"and {_describe(x)}")


def _spatial_hint(a: MergeInput, b: MergeInput) -> str:
    """What to do about two spatial sizes: a factor of two or more is a missing
    downsampling; less is rounding (an odd size halved, then doubled back, as a U-Net's
    skip and its upsampled partner), which downsampling would not fix."""
    pairs = [(max(p, q), min(p, q)) for p, q in zip(a.shape[1:], b.shape[1:]) if p != q]
    if any(big >= 2 * small for big, small in pairs):
        return "downsample the larger one (a strided conv or pool) first"
    larger = [max(p, q) for p, q in zip(a.shape[1:], b.shape[1:])]  # the skip's, rounded down
    extra = max(big - small for big, small in pairs)
    return ("the sizes differ by rounding (an odd size halved, then doubled): give the input a "
            "size divisible by the network's total stride, or bring the smaller one to "
            f"{larger} with upsample(size={larger}) or a conv_transpose with padding=0, "
            f"output_padding={extra}")


def _same_spatial(inputs: list[MergeInput], merge: str) -> None:
    _same_rank(inputs, merge)
    first = inputs[0]
    for x in inputs[1:]:
        if x.shape[1:] != first.shape[1:]:
            raise ShapeError(
                f"{merge} of inputs with different spatial sizes: {_describe(first)} and "
                f"{_describe(x)}", _spatial_hint(first, x))


def _equal_shapes(merge: str, allow_pad: bool = False):
    def infer(inputs: list[MergeInput], options: MergeOptions) -> Shape:
        _same_spatial(inputs, merge)
        channels = [x.shape[0] for x in inputs]
        if len(set(channels)) > 1:
            if not (allow_pad and options.pad == "zeros"):
                a = inputs[0]
                b = next(x for x in inputs if x.shape[0] != a.shape[0])
                hint = ("add 'pad: zeros' to zero-pad the narrower inputs (PyramidNet shortcut), "
                        "or project with a 1x1 conv") if allow_pad else "project with a 1x1 conv"
                raise ShapeError(f"{merge} needs equal channels: {_describe(a)} and "
                                 f"{_describe(b)}", hint)
        return (max(channels), *inputs[0].shape[1:])
    return infer


def _concat_shape(inputs: list[MergeInput], options: MergeOptions) -> Shape:
    _same_spatial(inputs, "concat")
    return (sum(x.shape[0] for x in inputs), *inputs[0].shape[1:])


def _mul_shape(inputs: list[MergeInput], options: MergeOptions) -> Shape:
    # A per-channel gate, (C,) or (C, 1, 1), broadcasts over the spatial dims of a
    # (C, H, W) map, in any position: squeeze-and-excitation written `x * gate` or, as
    # torchvision writes it, `gate * x`. The result has the shape of the largest input.
    full = max(inputs, key=lambda x: (len(x.shape), x.shape[1:]))  # a gate's 1s lose
    for x in inputs:
        if x.shape == full.shape:
            continue
        if x.shape[0] == full.shape[0] and (
                len(x.shape) == 1 or (len(x.shape) == len(full.shape) and
                                      all(d == 1 for d in x.shape[1:]))):
            continue
        raise ShapeError(f"mul cannot broadcast {_describe(x)} against {_describe(full)}",
                         "inputs must have equal shapes, or be a per-channel gate of the "
                         "same channels, (C,) or (C, 1, 1), in any position")
    return full.shape


_F = "linkc.compiler.functional:"

_weights = lambda shapes, options: dict(weights=options.weights)  # noqa: E731
_ones = lambda weights: [Fraction(1)] * len(weights)  # noqa: E731 - each input as it is


def _spelled(form: str, *targets: str) -> tuple[Inverse, ...]:
    """Operators, torch functions and tensor methods of one form (`a + b`: "sum")."""
    return tuple(Inverse(t, form=form) for t in targets)


def _lowerings(*names: str, padded: tuple[str, ...] = (), args=None) -> tuple[Inverse, ...]:
    """linkc's own merge functions (the plain, padded and in-place forms)."""
    return tuple(Inverse(_F + n, args or {}) for n in names) + \
        tuple(Inverse(_F + n, args or {}, sets={"pad": "zeros"}) for n in padded)

MERGES.add(MergeDef("add", _equal_shapes("add", allow_pad=True), Lowering(_F + "add"), "+",
                    "elementwise sum (ResNet's inner link)",
                    coefficients=_ones,
                    pad_lowering=Lowering(_F + "add_padded"), associative=True,
                    inplace_lowering=Lowering(_F + "add_into"),
                    pad_inplace_lowering=Lowering(_F + "add_padded_into"),
                    imports=(*_spelled("sum", "_operator:add", "_operator:iadd", "torch:add",
                                       "torch:Tensor.add", "torch:Tensor.add_"),
                             *_lowerings("add", "add_into",
                                         padded=("add_padded", "add_padded_into")))),
           aliases=("+",))
MERGES.add(MergeDef("concat", _concat_shape, Lowering(_F + "concat"), "‖",
                    "concatenation on channels (DenseNet's outer link)", drops_empty=True,
                    coefficients=_ones,
                    associative=True,
                    imports=(*(Inverse(t, fixed={"dim": {1, -3}})
                               for t in ("torch:cat", "torch:concat", "torch:concatenate")),
                             # the dense-block buffers of the merge_nary pass
                             *_lowerings("concat", "dense_append"),
                             Inverse(_F + "dense_start", form="first"))),
           aliases=("‖", "||", "cat"))
MERGES.add(MergeDef("mean", _equal_shapes("mean", allow_pad=True), Lowering(_F + "mean"), "avg",
                    "elementwise average (merge-and-run)",
                    coefficients=lambda weights: [Fraction(1, len(weights))] * len(weights),
                    pad_lowering=Lowering(_F + "mean_padded"),
                    inplace_lowering=Lowering(_F + "mean_into"),
                    pad_inplace_lowering=Lowering(_F + "mean_padded_into"),
                    imports=_lowerings("mean", "mean_into",
                                       padded=("mean_padded", "mean_padded_into"))),
           aliases=("avg",))
MERGES.add(MergeDef("wsum", _equal_shapes("wsum", allow_pad=True), Lowering(_F + "wsum", _weights),
                    "w", "sum with fixed scalar weights from the references (ResNet-s)",
                    weighted=True, signed=("-", "difference", "signed sum that subtracts"),
                    coefficients=lambda weights: [Fraction(w) for w in weights], pad_lowering=Lowering(_F + "wsum_padded", _weights),
                    inplace_lowering=Lowering(_F + "wsum_into", _weights),
                    pad_inplace_lowering=Lowering(_F + "wsum_padded_into", _weights),
                    imports=(*_spelled("difference", "_operator:sub", "_operator:isub",
                                       "torch:sub", "torch:Tensor.sub", "torch:Tensor.sub_"),
                             *_spelled("quotient", "_operator:truediv", "_operator:itruediv",
                                       "torch:div", "torch:Tensor.div", "torch:Tensor.div_"),
                             *_lowerings("wsum", "wsum_into", args={"weights": "weights"},
                                         padded=("wsum_padded", "wsum_padded_into")))))
MERGES.add(MergeDef("dwsum", _equal_shapes("dwsum"),
                    Lowering("linkc.compiler.modules:DepthwiseSum",
                             lambda shapes, options: dict(inputs=len(shapes),
                                                          channels=shapes[0][0])),
                    "w", "learnable weight per input and channel plus a bias (DelugeNet)",
                    params=True, count_params=lambda shapes: (len(shapes) + 1) * shapes[0][0],
                    imports=(Inverse("linkc.compiler.modules:DepthwiseSum"),)))
MERGES.add(MergeDef("mul", _mul_shape, Lowering(_F + "mul"), "×",
                    "elementwise product with per-channel broadcasting (gates)",
                    imports=(*_spelled("product", "_operator:mul", "_operator:imul",
                                       "torch:mul", "torch:Tensor.mul", "torch:Tensor.mul_"),
                             *_lowerings("mul"))))


def add_merge_hint() -> str:
    """The hint for a node with several inputs and no merge: every registered merge,
    plugins' included."""
    names = list(MERGES)
    return "add merge: " + (", ".join(names[:-1]) + " or " if len(names) > 1 else "") + names[-1]
