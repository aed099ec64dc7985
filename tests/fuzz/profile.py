"""The hypothesis settings of the fuzz suite: one registered profile per use.

- ``fuzz-ci`` (the default): a bounded number of examples, derandomized (the same inputs
  on every run, so CI is deterministic and a failure reproduces), no example database;
- ``fuzz-dev``: ten times the examples, random, with the database: for a developer
  hunting (``BITSWARM_FUZZ_PROFILE=dev pytest tests/fuzz``).

Both carry a deadline: a parser that takes seconds on a small input is a bug (quadratic
or worse), not slowness. It is generous because CI shares two cores with other jobs.
Tests use `FUZZ` (a settings object) rather than the global profile, so loading this
module changes nothing for the rest of the test suite.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

__all__ = ["EXAMPLES", "FUZZ", "PROFILE"]

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "fuzz-ci",
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=_QUIET,
    print_blob=True,
)
settings.register_profile(
    "fuzz-dev",
    max_examples=1500,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=_QUIET,
    print_blob=True,
)

PROFILE = os.environ.get("BITSWARM_FUZZ_PROFILE", "ci")
FUZZ = settings.get_profile(f"fuzz-{PROFILE}")
EXAMPLES = FUZZ.max_examples


def scaled(factor: float) -> settings:
    """`FUZZ` with `factor` times its examples (a cheap property gets more, a slow one less)."""
    return settings(FUZZ, max_examples=max(10, int(EXAMPLES * factor)))
