"""The newer constructs for `specgen`: list params, `if:` with fallbacks and optional
references, `repeat: 0`, ops after a block, empty channel slices. Each returns the
node it writes together with the shape the generator expects, computed here from
the language's description, so the differential test checks expansion too."""

from __future__ import annotations

from hypothesis import strategies as st

# Conditions over the params `k` and `widths`, with their value as a function of both.
CONDITIONS = [
    ("k > 1", lambda k, w: k > 1),
    ("k == 2", lambda k, w: k == 2),
    ("widths[0] > 3", lambda k, w: w[0] > 3),
    ("len(widths) > 1 and widths[-1] != k", lambda k, w: len(w) > 1 and w[-1] != k),
    (True, lambda k, w: True),
    (False, lambda k, w: False),
]


def widths(draw) -> list[int]:
    """The list param every generated spec declares."""
    return draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))


def list_conv(d, shape):
    """A conv whose width is an item of the list param."""
    j = d.draw(st.integers(-len(d.widths), len(d.widths) - 1))
    return {"conv": [f"widths[{j}]", 1]}, (d.widths[j], *shape[1:])


def repeat_count(d) -> tuple[object, int]:
    """A count written as a number, `k`, `len(widths)` or an item of widths; 0 included."""
    form = d.draw(st.integers(0, 5))
    if form == 0:
        return 0, 0
    if form == 1:
        return "len(widths)", len(d.widths)
    if form == 2 and min(d.widths) <= 3:
        j = d.widths.index(min(d.widths))
        return f"widths[{j}]", d.widths[j]
    n = d.draw(st.integers(1, 3))
    return ("k" if n == d.k and d.draw(st.booleans()) else n), n


def conditional(d, name: str, x: str):
    """`NAME_opt` exists only where a condition holds; NAME reads it with a fallback
    (or optionally, beside x in an add). Both keep x's shape."""
    text, value = d.draw(st.sampled_from(CONDITIONS))
    shape = d.shapes[x]
    opt = f"{name}_opt"
    d.nodes[opt] = {"if": text, "from": x,
                    "ops": [{"conv": ["channels(%s)" % x, 1]}, "relu"] if len(shape) == 3
                    else ["tanh"]}
    if d.draw(st.booleans()):
        d.nodes[name] = {"from": {"ref": opt, "else": x}, "ops": ["identity"]}
    else:
        d.nodes[name] = {"from": [x, {"ref": opt, "optional": True}], "merge": "add"}
    d.used.update({x, opt})
    return shape, value(d.k, d.widths)


def block_with_ops(d, name: str, x: str) -> tuple:
    """A residual block followed by ops on its output (one node)."""
    d.block("res")
    d.nodes[name] = {"from": x, "block": "res", "ops": ["bn", "relu"]}
    return d.shapes[x]


def empty_slice(d, names: list[str]) -> list:
    """An empty channel slice of one of `names`, to be dropped from a concat."""
    name = d.draw(st.sampled_from(names))
    at = d.draw(st.integers(0, d.shapes[name][0]))
    return [f"{name}[{at}:{at}]"] if d.draw(st.booleans()) else \
        [{"ref": name, "slice": [at, at]}]
