"""dX_n/dX_{n-i} of a recurrence node, expanded as seed 002 writes it (Eq. 4-12).

Activations are ignored (Eq. 10) and every map is a linear operator, so the
derivative is a sum of products of maps: for ResNet, X_i = X_{i-1} + W_i X_{i-1},

    dX_n/dX_{n-i} = (1 + W_n) ... (1 + W_{n-i+1}) = 1 + S_i^1 W + ... + S_i^i W  (Eq. 11)

Each product is one propagation path; the paths through k blocks are the products
of k weighted maps (maps whose nodes hold a conv or linear layer, the length of
`paths.py`; a parameter-free map such as option A's subsampling shortcut is written
in the product but adds 0). The chain rule runs over the resolved formulas of the
expansion (`RecurrenceInfo.rhs`): a state's derivative is its formula's, a map W_j
prefixes W_j, a sum adds with its coefficients, `mean` divides by its size, and a
`cat` member is one more parallel term (its injection into the concatenation left
implicit). Products are non-commutative words, W_n first, so equal words cancel
exactly (ResNet-s: X_i = (1 + W_i) X_{i-1} - W_{i-1} X_{i-2} leaves one path per
length, W_n W_{n-1} ... W_{n-k+1}, Eq. 12). Words are enumerated up to `cap` per
derivative; the counts per length (net, and before cancelling by sign) are always
exact, by dynamic programming over lengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..expand.flat_graph import FlatGraph
from ..expand.recurrence.build import RecurrenceInfo
from ..expand.recurrence.terms import RJoin, RMap, ROp, RState, RSum, Resolved
from ..ops import MERGES
from .paths import layer_count

Word = tuple[tuple[str, int], ...]  # the maps of a product, outermost (W_n) first
CAP = 4096


class _TooMany(Exception):
    pass


@dataclass
class Expansion:
    of: tuple[str, int]
    wrt: tuple[str, int]
    terms: list[tuple[Word, Fraction]] | None  # after cancelling; None past the cap
    net: dict[int, Fraction]  # length -> sum of the coefficients
    plus: dict[int, int]  # length -> positive terms before cancelling
    minus: dict[int, int]

    def paths(self, weighted) -> dict[int, int] | None:
        if self.terms is None:
            return None
        out: dict[int, int] = {}
        for word, _ in self.terms:
            k = sum(1 for m in word if m in weighted)
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))


class _Derivative:
    """d(term)/d(X_m) of resolved terms by the chain rule, one walk for both results:
    `algebra` says what a derivative is (`_Words` or `_Counts`) and how maps and
    sums act on it. Each term's derivative is computed once."""

    def __init__(self, info: RecurrenceInfo, wrt: tuple[str, int], algebra):
        self.info, self.wrt, self.algebra = info, wrt, algebra
        self.memo: dict[Resolved, object] = {}

    def of(self, r: Resolved):
        if r not in self.memo:
            self.memo[r] = self.algebra.check(self._of(r))
        return self.memo[r]

    def _of(self, r: Resolved):
        algebra = self.algebra
        if isinstance(r, RState):
            key = (r.name, r.index)
            if key == self.wrt:
                return algebra.one()
            if r.index < self.wrt[1] or key not in self.info.rhs:
                return algebra.zero()  # a constant: computed before X_m or not a state of it
            return self.of(self.info.rhs[key])
        if isinstance(r, RMap):
            return algebra.through_map((r.name, r.index), self.of(r.arg))
        if isinstance(r, ROp):
            return self.of(r.arg)  # activations are ignored (Eq. 10)
        return algebra.combine([(coef, self.of(t)) for coef, t in _members(r)])


class _Words:
    """A derivative as products of maps: word -> coefficient, equal words cancelled,
    at most `cap` words per term."""

    def __init__(self, cap: int):
        self.cap = cap

    def one(self) -> dict[Word, Fraction]:
        return {(): Fraction(1)}

    def zero(self) -> dict[Word, Fraction]:
        return {}

    def through_map(self, key: tuple[str, int], poly: dict) -> dict[Word, Fraction]:
        return {(key, *w): c for w, c in poly.items()}

    def combine(self, parts: list[tuple[Fraction, dict]]) -> dict[Word, Fraction]:
        out: dict[Word, Fraction] = {}
        for coef, poly in parts:
            for w, c in poly.items():
                out[w] = out.get(w, 0) + coef * c
        return {w: c for w, c in out.items() if c != 0}

    def check(self, poly: dict) -> dict:
        if len(poly) > self.cap:
            raise _TooMany
        return poly


class _Counts:
    """A derivative as counts by length (weighted maps in a product): (net, plus,
    minus), the coefficient sum and the positive and negative terms before cancelling."""

    def __init__(self, weighted: set):
        self.weighted = weighted

    def one(self) -> tuple[dict, dict, dict]:
        return {0: Fraction(1)}, {0: 1}, {}

    def zero(self) -> tuple[dict, dict, dict]:
        return {}, {}, {}

    def through_map(self, key: tuple[str, int], polys: tuple) -> tuple[dict, dict, dict]:
        shift = 1 if key in self.weighted else 0
        return tuple({k + shift: v for k, v in p.items()} for p in polys)

    def combine(self, parts: list[tuple[Fraction, tuple]]) -> tuple[dict, dict, dict]:
        net: dict = {}
        plus: dict = {}
        minus: dict = {}
        for coef, (n, p, m) in parts:
            _add(net, n, coef)
            _add(plus, p if coef > 0 else m, 1)
            _add(minus, m if coef > 0 else p, 1)
        return net, plus, minus

    def check(self, polys: tuple) -> tuple:
        return polys


def _members(r: Resolved) -> list[tuple[Fraction, Resolved]]:
    if isinstance(r, RSum):
        return list(r.terms)
    assert isinstance(r, RJoin)
    coefficients = MERGES.lookup(r.merge).coefficients([1] * len(r.members))
    return list(zip(coefficients, r.members))


def _add(acc: dict, poly: dict, scale) -> None:
    for k, v in poly.items():
        acc[k] = acc.get(k, 0) + scale * v


def weighted_maps(g: FlatGraph, info: RecurrenceInfo) -> set[tuple[str, int]]:
    """Map instances whose nodes hold a weighted layer (conv, linear)."""
    out = set()
    for key, prefix in info.maps.items():
        for node_id in g.order:
            if (node_id == prefix or node_id.startswith(prefix + ".")) and \
                    layer_count(g.nodes[node_id]) > 0:
                out.add(key)
                break
    return out


def _order(item: tuple[Word, Fraction]) -> tuple:
    word = item[0]
    return (len(word), [(-j, name) for name, j in word])


def expansion(info: RecurrenceInfo, wrt: tuple[str, int], weighted: set,
              cap: int = CAP) -> Expansion:
    of = (info.states[0], info.last)
    top = RState(*of)
    try:
        terms = sorted(_Derivative(info, wrt, _Words(cap)).of(top).items(), key=_order)
    except _TooMany:
        terms = None
    net, plus, minus = (dict(sorted(p.items()))
                        for p in _Derivative(info, wrt, _Counts(weighted)).of(top))
    return Expansion(of, wrt, terms, {k: v for k, v in net.items() if v},
                     {k: v for k, v in plus.items() if v}, {k: v for k, v in minus.items() if v})


def expansions(g: FlatGraph, info: RecurrenceInfo, cap: int = CAP) -> list[Expansion]:
    """dX_n/dX_{n-i} for i = 1 .. n - (first index of X), X the first equation's state."""
    weighted = weighted_maps(g, info)
    state, last = info.states[0], info.last
    return [expansion(info, (state, last - i), weighted, cap)
            for i in range(1, last - info.lowest[state] + 1)]


# ------------------------------------------------------------------ reports
def _term_text(word: Word, coef: Fraction) -> tuple[str, str]:
    """(sign, text) of one product: ('+', 'W_4 W_3'), ('-', '1'), ('+', '1/2 W_2')."""
    body = " ".join(f"{name}_{j}" for name, j in word)
    mag = abs(coef)
    if mag != 1:
        body = f"{mag} {body}".strip()
    return ("-" if coef < 0 else "+"), (body or "1")


def expansion_text(e: Expansion, terms: int) -> str:
    """'1 + W_4 + W_4 W_3', cut after `terms` products."""
    if e.terms is None:
        return f"(more than {CAP} products; the counts below are exact)"
    if not e.terms:
        return "0"
    shown = [_term_text(w, c) for w, c in e.terms[:terms]]
    text = ("-" if shown[0][0] == "-" else "") + shown[0][1]
    for sign, body in shown[1:]:
        text += f" {sign} {body}"
    if len(e.terms) > terms:
        text += f" + ... ({len(e.terms) - terms} more)"
    return text


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"


def recurrence_report(g: FlatGraph, info: RecurrenceInfo, terms: int) -> dict:
    weighted = weighted_maps(g, info)
    items = []
    for e in expansions(g, info):
        items.append({
            "of": f"{e.of[0]}_{e.of[1]}", "wrt": f"{e.wrt[0]}_{e.wrt[1]}",
            "expansion": expansion_text(e, terms),
            "products": None if e.terms is None else len(e.terms),
            "paths": e.paths(weighted),
            "net": {k: str(v) for k, v in e.net.items()},
            "before_cancelling": {"plus": e.plus, "minus": e.minus}})
    return {"node": info.id, "recurrence": info.equations, "steps": [info.first, info.last],
            "weighted_maps": sorted(f"{n}_{j}" for n, j in weighted), "derivatives": items}


def report_lines(report: dict) -> list[str]:
    lines = [f"{report['node']}: {'; '.join(report['recurrence'])}   (i = "
             f"{report['steps'][0]}..{report['steps'][1]}; activations ignored)"]
    for d in report["derivatives"]:
        lines.append(f"  d{d['of']}/d{d['wrt']} = {d['expansion']}")
        paths = d["paths"] if d["paths"] is not None else d["net"]
        what = "paths by weighted maps" if d["paths"] is not None else "net terms by weighted maps"
        line = f"      {what}: {_counts_text(paths)}"
        if d["before_cancelling"]["minus"]:
            plus = sum(d["before_cancelling"]["plus"].values())
            minus = sum(d["before_cancelling"]["minus"].values())
            line += f"   (before cancelling: +{plus} -{minus})"
        lines.append(line)
    return lines
