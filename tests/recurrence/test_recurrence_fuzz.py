"""Random formulas: every one builds or fails with a located SpecError, never another
exception (a seeded, fixed sample, so the test is the same on every run)."""

from __future__ import annotations

import random

from linkc.frontend import SpecError, build

TOKENS = ["X[i-1]", "X[i-2]", "X[i]", "X[n]", "X[i+1]", "W[i](", "W[i-1](", "F[i](", "V[i](",
          "(", ")", "+", "-", "*", "/", "2", "0", "0.5", "cat(", "mean(", ",", "relu(",
          "X[0:i]", "X[i:0]", "‖", "||", "|", "[", "]", ":", "i", "n", "c", "==", "Y[i-1]",
          "X[i/2]", "X[-1]", "**", "X", "W", "min(i, 2)", "·", "é", "lambda", "'s'"]


def spec(formula: str) -> str:
    maps = {"W": "{ops: [{conv: [c, 3]}]}", "F": "{ops: [relu], if: i > 1}"}
    declared = "".join(f"\n      {m}: {d}" for m, d in maps.items() if f"{m}[" in formula)
    return f"""
linkc: 1
name: fuzz
params: {{c: 4}}
input: [4, 6, 6]
nodes:
  body:
    from: input
    recurrence: {formula!r}
    steps: 3
    maps:{declared or " {}"}
output: body
"""


def term(rng: random.Random, depth: int = 0) -> str:
    """A formula from the grammar (often valid; the shapes may still disagree)."""
    k = rng.randint(1, 3)
    if depth > 2 or rng.random() < 0.3:
        return f"X[i-{k}]"
    a, b = term(rng, depth + 1), term(rng, depth + 1)
    return rng.choice([f"W[i-{k - 1}]({a})", f"F[i]({a})", f"relu({a})", f"{a} + {b}",
                       f"{a} - {b}", f"2 * {a}", f"{a} / 2", f"mean({a}, {b})",
                       f"cat({a}, X[0:i])", f"{a} ‖ {b}"])


def mutate(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    if rng.random() < 0.5:
        return text[:at] + text[at + 1:]
    return text[:at] + rng.choice(TOKENS) + text[at:]


def test_random_formulas_build_or_fail_located():
    rng = random.Random(14)
    built = 0
    for n in range(400):
        rhs = term(rng)
        if n % 2:
            rhs = mutate(rng, rhs) if n % 4 == 1 else \
                " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 9)))
        try:
            build(spec(f"X[i] = {rhs}"))
            built += 1
        except SpecError as exc:
            assert exc.loc is not None, (rhs, exc.message)
    assert 50 < built < 350  # the sample reaches valid and broken formulas
