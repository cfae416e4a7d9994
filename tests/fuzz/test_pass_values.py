"""Random valid specs keep their values through every compiler pass (the `passes`
target of the campaign, a few examples per CI run)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from .pass_values import passes_outcome
from .settings import fuzz_settings
from .specgen import valid_specs


@fuzz_settings(ci_examples=15)
@given(valid_specs(), st.sampled_from(["train", "infer"]))
def test_every_pass_keeps_the_values_of_random_specs(text, mode):
    assert passes_outcome(text, mode) == "kept"
