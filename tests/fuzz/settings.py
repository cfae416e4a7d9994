"""Hypothesis settings for the fuzz tests: a short, reproducible CI run by default,
a long campaign on request (see docs/fuzzing.md).

    LINKC_FUZZ=ci     (default) derandomized: the same examples on every run
    LINKC_FUZZ=long   random seeds, LINKC_FUZZ_EXAMPLES examples per test (default 5000)

`HYPOTHESIS_PROFILE=long` is accepted as a synonym of `LINKC_FUZZ=long`. The
settings are applied per test (`@FUZZ`), so other hypothesis tests keep theirs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("LINKC_FUZZ") or os.environ.get("HYPOTHESIS_PROFILE") or "ci"
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def fuzz_settings(ci_examples: int) -> settings:
    if PROFILE == "long":
        return settings(max_examples=int(os.environ.get("LINKC_FUZZ_EXAMPLES", "5000")),
                        deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
    return settings(max_examples=ci_examples, derandomize=True, deadline=None,
                    suppress_health_check=_SLOW_OK, database=None, print_blob=True)
